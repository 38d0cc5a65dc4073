// End to end on anvil with three real executor processes (`bitexact node`), one of them cheating:
// the honest ones are paid and the cheater slashed; an executor killed with SIGKILL between commit
// and reveal reveals after its restart, without sending anything twice; malformed chain data
// (unknown model, input bytes that do not match inputHash, unreachable URI) is skipped with a
// logged reason and the daemons keep working.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { JsonRpcProvider, Wallet, encryptKeystoreJsonSync, keccak256, parseEther, toUtf8Bytes } from 'ethers';
import { ChainClient, JobState, deployContracts, loadModel, readTensorFile, startAnvil, type Anvil, type Deployment, type Model } from '../src/index.js';

const CLI = resolve(__dirname, '..', 'dist', 'cli', 'main.js');
const bundled = resolve(__dirname, '..', 'models', 'mnist-8-int8');
const digit = (d: number) => join(bundled, `digit-${d}.pb`);

function runCli(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((res) => {
    const child = spawn(process.execPath, [CLI, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    child.once('exit', (code) => res({ code, stdout, stderr }));
  });
}

interface NodeProcess {
  child: ChildProcess;
  lines: string[];
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<string>;
}

describe('executor network on anvil', () => {
  const work = mkdtempSync(join(tmpdir(), 'bitexact-e2e-'));
  let anvil: Anvil;
  let deployment: Deployment;
  let provider: JsonRpcProvider;
  let requester: ChainClient;
  let model: Model;
  const nodes: (NodeProcess | undefined)[] = [];
  const contractsFile = join(work, 'contracts.json');
  const address = (i: number) => new Wallet(anvil.privateKeys[i]).address;

  function startNode(i: number, extra: string[] = []): NodeProcess {
    const dir = join(work, `executor-${i}`);
    mkdirSync(join(dir, 'models'), { recursive: true });
    copyFileSync(join(bundled, 'model.onnx'), join(dir, 'models', 'mnist.onnx'));
    const args = [CLI, 'node', '--rpc', anvil.rpcUrl, '--contracts', contractsFile, '--key-env', 'BITEXACT_KEY', '--models', join(dir, 'models'), '--db', join(dir, 'node.db'), '--stake', '2', '--poll-ms', '150', ...extra];
    const child = spawn(process.execPath, args, { env: { ...process.env, BITEXACT_KEY: anvil.privateKeys[i] }, stdio: ['ignore', 'pipe', 'pipe'] });
    const lines: string[] = [];
    const waiters: { pattern: RegExp; resolve: (l: string) => void }[] = [];
    const onLine = (line: string) => {
      lines.push(line);
      for (const w of [...waiters]) if (w.pattern.test(line)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(line);
      }
    };
    let buffer = '';
    const onData = (c: Buffer) => {
      buffer += c.toString();
      const parts = buffer.split('\n');
      buffer = parts.pop()!;
      parts.forEach(onLine);
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    return {
      child,
      lines,
      waitFor(pattern, timeoutMs = 30_000) {
        const seen = lines.find((l) => pattern.test(l));
        if (seen) return Promise.resolve(seen);
        return new Promise((res, rej) => {
          const timer = setTimeout(() => rej(new Error(`executor ${i} never logged ${pattern}; log:\n${lines.join('\n')}`)), timeoutMs);
          waiters.push({ pattern, resolve: (l) => (clearTimeout(timer), res(l)) });
        });
      },
    };
  }

  async function stopNode(n: NodeProcess | undefined, signal: NodeJS.Signals = 'SIGTERM') {
    if (!n || n.child.exitCode !== null) return;
    const exited = new Promise((r) => n.child.once('exit', r));
    n.child.kill(signal);
    await exited;
  }

  async function post(input: string, opts: { inputHash?: string; inputURI?: string; modelHash?: string; commitS?: number; revealS?: number } = {}) {
    const local = await model.run({ Input3: await readTensorFile(input) });
    const now = Math.max(Math.floor(Date.now() / 1000), await requester.chainTime());
    const commitDeadline = now + (opts.commitS ?? 5);
    return requester.postJob({
      modelHash: opts.modelHash ?? model.modelHash,
      inputHash: opts.inputHash ?? local.inputHash,
      inputURI: opts.inputURI ?? pathToFileURL(input).href,
      quorum: 2,
      seats: 3,
      commitDeadline,
      revealDeadline: commitDeadline + (opts.revealS ?? 6),
      fee: parseEther('0.03'),
    });
  }

  async function settled(jobId: bigint, timeoutMs = 40_000) {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const job = await requester.getJob(jobId);
      if (job.state !== JobState.Open) return job;
      if (Date.now() > end) throw new Error(`job ${jobId} did not settle`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  beforeAll(async () => {
    anvil = await startAnvil();
    provider = new JsonRpcProvider(anvil.rpcUrl, undefined, { cacheTimeout: -1 });
    deployment = await deployContracts(new Wallet(anvil.privateKeys[0], provider), { minStake: parseEther('1'), unbondingDelay: 3600, slashBps: 1000, noRevealBps: 2000 });
    writeFileSync(contractsFile, JSON.stringify(deployment));
    requester = await ChainClient.connect(anvil.rpcUrl, anvil.privateKeys[0], deployment);
    model = await loadModel(join(bundled, 'model.onnx'));
    await requester.registerModel(model.modelHash, 'file:///mnist.onnx');
    nodes[1] = startNode(1);
    nodes[2] = startNode(2);
    nodes[3] = startNode(3, ['--test-fault-node', '3']);
    for (let t = 0; Number(await requester.market.executorCount()) < 3; t++) {
      if (t > 300) throw new Error('executors did not stake');
      await new Promise((r) => setTimeout(r, 100));
    }
  }, 60_000);

  afterAll(async () => {
    for (const n of nodes) await stopNode(n);
    requester?.destroy();
    model?.dispose();
    provider?.destroy();
    await anvil?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('honest executors are paid, the cheating one is slashed, and the books balance', async () => {
    const { jobId } = await post(digit(2));
    const job = await settled(jobId);
    expect(job.state).toBe(JobState.Finalized);
    expect(job.outputHash).toBe((await model.run({ Input3: await readTensorFile(digit(2)) })).outputHash);
    const paid = await requester.market.queryFilter(requester.market.filters.Paid(jobId));
    const slashed = await requester.market.queryFilter(requester.market.filters.Slashed(jobId));
    expect(paid.map((e: any) => e.args.executor).sort()).toEqual([address(1), address(2)].sort());
    expect(slashed.map((e: any) => e.args.executor)).toEqual([address(3)]);
    const slashAmount = (slashed[0] as any).args.amount as bigint;
    const share = (paid[0] as any).args.amount as bigint;
    expect(share * 2n + (parseEther('0.03') + slashAmount - share * 2n)).toBe(parseEther('0.03') + slashAmount);
    expect(slashAmount).toBe(parseEther('0.2')); // 10% of the cheater's 2 ETH stake: it stays eligible for the next jobs
  }, 60_000);

  it('an executor killed with SIGKILL between commit and reveal reveals after restart, sending nothing twice', async () => {
    const { jobId } = await post(digit(9), { commitS: 8, revealS: 20 });
    await nodes[1]!.waitFor(new RegExp(`job ${jobId}: committed`));
    await stopNode(nodes[1], 'SIGKILL');
    const seatBefore = await requester.market.seats(jobId, address(1));
    expect(seatBefore.revealed).toBe(false);
    nodes[1] = startNode(1);
    await nodes[1].waitFor(new RegExp(`job ${jobId}: revealed`), 40_000);
    const job = await settled(jobId);
    expect(job.state).toBe(JobState.Finalized);
    const commits = await requester.market.queryFilter(requester.market.filters.Committed(jobId, address(1)));
    expect(commits).toHaveLength(1);
    const paid = await requester.market.queryFilter(requester.market.filters.Paid(jobId));
    expect(paid.map((e: any) => e.args.executor)).toContain(address(1));
  }, 90_000);

  it('without a quorum the fee is refunded, and verify-job exits 1 naming the revealed answer that differs', async () => {
    await stopNode(nodes[2]); // one honest executor offline: 1 honest + 1 cheating reveal, no majority
    const { jobId } = await post(digit(2), { commitS: 4, revealS: 4 });
    await nodes[3]!.waitFor(new RegExp(`job ${jobId}: revealed`));
    await nodes[1]!.waitFor(new RegExp(`job ${jobId}: revealed`));
    const env = { ...process.env };
    const chain = ['--rpc', anvil.rpcUrl, '--contracts', contractsFile];
    const open = await runCli(['verify-job', String(jobId), ...chain, '--model', join(bundled, 'model.onnx'), '--json'], env);
    const verdict = JSON.parse(open.stdout);
    expect([open.code, verdict.ok]).toEqual([1, false]);
    expect(verdict.checks.filter((c: { ok: boolean }) => !c.ok).map((c: { who: string }) => c.who)).toEqual([address(3)]);
    expect((await settled(jobId)).state).toBe(JobState.Refunded);
    nodes[2] = startNode(2);
  }, 60_000);

  it('the requester CLI posts and reports a job; verify-job re-executes it (exit 0, 2 on bad input)', async () => {
    const env = { ...process.env, REQUESTER_KEY: anvil.privateKeys[0] };
    const chain = ['--rpc', anvil.rpcUrl, '--contracts', contractsFile];
    const posted = await runCli(['job', 'post', ...chain, '--key-env', 'REQUESTER_KEY', '--model', join(bundled, 'model.onnx'), '--input', digit(0), '--commit-s', '5', '--reveal-s', '6', '--fee', '0.01'], env);
    expect(posted.code, posted.stderr).toBe(0);
    const jobId = BigInt(posted.stdout.trim());
    await settled(jobId);
    const status = await runCli(['job', 'status', String(jobId), ...chain, '--json'], env);
    expect(JSON.parse(status.stdout)).toMatchObject({ jobId: String(jobId), state: 'Finalized' });
    const verified = await runCli(['verify-job', String(jobId), ...chain, '--model', join(bundled, 'model.onnx'), '--json'], env);
    expect([verified.code, JSON.parse(verified.stdout).ok]).toEqual([0, true]);
    // The cheater's reveal on an earlier job does not match a local re-execution.
    const cheated = await runCli(['verify-job', '1', ...chain, '--model', join(bundled, 'model.onnx')], env);
    expect(cheated.code).toBe(0); // job 1 is finalised with the honest answer
    const wrongModel = await runCli(['verify-job', String(jobId), ...chain, '--model', join(work, 'contracts.json')], env);
    expect(wrongModel.code).toBe(2);
    const noKey = await runCli(['job', 'finalize', String(jobId), ...chain, '--key-env', 'NOT_SET_ANYWHERE'], env);
    expect([noKey.code, noKey.stderr]).toEqual([2, expect.stringMatching(/NOT_SET_ANYWHERE/)]);
    const revert = await runCli(['job', 'finalize', String(jobId), ...chain, '--key-env', 'REQUESTER_KEY'], env);
    expect([revert.code, revert.stderr]).toEqual([2, expect.stringMatching(/JobNotOpen/)]);
  }, 60_000);

  it('bitexact deploy writes a contracts file; keys also come from an encrypted keystore, never printed', async () => {
    const keystore = join(work, 'keystore.json');
    const account = new Wallet(anvil.privateKeys[4]);
    writeFileSync(keystore, encryptKeystoreJsonSync({ address: account.address, privateKey: account.privateKey }, 'pw-123', { scrypt: { N: 1024 } }));
    const out = join(work, 'deployed.json');
    const r = await runCli(['deploy', '--rpc', anvil.rpcUrl, '--keystore', keystore, '--password-env', 'KS_PASSWORD', '--out', out, '--min-stake', '0.5'], { ...process.env, KS_PASSWORD: 'pw-123' });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout + r.stderr).not.toContain(anvil.privateKeys[4].slice(2));
    const deployed = JSON.parse(readFileSync(out, 'utf8'));
    const client = await ChainClient.connect(anvil.rpcUrl, anvil.privateKeys[4], deployed);
    expect(await client.market.minStake()).toBe(parseEther('0.5'));
    client.destroy();
    const wrong = await runCli(['deploy', '--rpc', anvil.rpcUrl, '--keystore', keystore, '--password-env', 'KS_PASSWORD', '--out', out], { ...process.env, KS_PASSWORD: 'nope' });
    expect([wrong.code, wrong.stderr]).toEqual([2, expect.stringMatching(/cannot decrypt keystore/)]);
  }, 60_000);

  it('malformed chain data is skipped with a reason and the daemons keep working', async () => {
    const phantom = keccak256(toUtf8Bytes('a model nobody has'));
    await requester.registerModel(phantom, 'file:///nowhere.onnx');
    const unknown = await post(digit(0), { modelHash: phantom });
    const wrongBytes = await post(digit(0), { inputURI: pathToFileURL(digit(9)).href }); // digit 9's bytes, digit 0's hash
    const unreachable = await post(digit(0), { inputURI: 'http://127.0.0.1:9/digit-0.pb' });
    for (const i of [1, 2]) {
      const n = nodes[i]!;
      expect(await n.waitFor(new RegExp(`job ${unknown.jobId}: skipped: unknown model`))).toBeTruthy();
      expect(await n.waitFor(new RegExp(`job ${wrongBytes.jobId}: skipped: input .* hashes to`))).toBeTruthy();
      expect(await n.waitFor(new RegExp(`job ${unreachable.jobId}: skipped: cannot fetch`))).toBeTruthy();
    }
    // still serving
    const { jobId } = await post(digit(0));
    expect((await settled(jobId)).state).toBe(JobState.Finalized);
    for (const n of nodes.slice(1)) expect(n!.child.exitCode).toBe(null);
  }, 90_000);
});
