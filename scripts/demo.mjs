#!/usr/bin/env node
// npm run demo: a whole verification network on one machine. Starts a local EVM node (anvil),
// deploys the contracts, registers the bundled MNIST model, starts three executor daemons
// (`bitexact node`) of which one tampers with its computation, posts three jobs with real digits,
// waits for them to settle, prints who matched, who was slashed and what was paid, then shuts
// everything down. Exit 0 when the honest executors won every job and the cheater lost its stake.
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, copyFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { JsonRpcProvider, Wallet, formatEther, parseEther } from 'ethers';
import { ChainClient, JobState, argmax, deployContracts, loadModel, readTensorFile, startAnvil } from '../dist/index.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const cli = join(root, 'dist', 'cli', 'main.js');
const bundled = join(root, 'models', 'mnist-8-int8');
const started = performance.now();
const say = (s) => process.stdout.write(`${s}\n`);
const work = mkdtempSync(join(tmpdir(), 'bitexact-demo-'));
const children = [];
let anvil;

async function main() {
  anvil = await startAnvil();
  say(`anvil        ${anvil.rpcUrl}`);
  const provider = new JsonRpcProvider(anvil.rpcUrl, undefined, { cacheTimeout: -1 });
  const deployment = await deployContracts(new Wallet(anvil.privateKeys[0], provider), { minStake: parseEther('1'), unbondingDelay: 3600, slashBps: 5000, noRevealBps: 2000 });
  const contractsFile = join(work, 'contracts.json');
  writeFileSync(contractsFile, JSON.stringify(deployment, null, 2));
  say(`contracts    registry ${deployment.registry}, market ${deployment.market}`);
  const requester = await ChainClient.connect(anvil.rpcUrl, anvil.privateKeys[0], deployment);
  const model = await loadModel(join(bundled, 'model.onnx'));
  await requester.registerModel(model.modelHash, pathToFileURL(join(bundled, 'model.onnx')).href);
  say(`model        mnist-8-int8 ${model.modelHash}`);

  // Three executors, each with its own copy of the model folder and its own outbox database.
  const names = new Map();
  for (let i = 1; i <= 3; i++) {
    const dir = join(work, `executor-${i}`);
    mkdirSync(join(dir, 'models'), { recursive: true });
    copyFileSync(join(bundled, 'model.onnx'), join(dir, 'models', 'mnist.onnx'));
    const cheater = i === 3;
    const args = [cli, 'node', '--rpc', anvil.rpcUrl, '--contracts', contractsFile, '--key-env', 'BITEXACT_KEY', '--models', join(dir, 'models'), '--db', join(dir, 'node.db'), '--stake', '1', '--poll-ms', '200'];
    if (cheater) args.push('--test-fault-node', '3'); // flips a bit in one layer's output: a wrong answer
    const child = spawn(process.execPath, args, { env: { ...process.env, BITEXACT_KEY: anvil.privateKeys[i] }, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', () => {});
    child.stderr.on('data', (c) => process.stderr.write(`[executor ${i}] ${c}`));
    children.push(child);
    names.set(new Wallet(anvil.privateKeys[i]).address, `executor ${i}${cheater ? ' (tampers)' : ''}`);
  }
  for (let t = 0; Number(await requester.market.executorCount()) < 3; t++) {
    if (t > 300) throw new Error('executors did not stake within 30 s');
    await new Promise((r) => setTimeout(r, 100));
  }
  say('executors    3 staked (1 ETH each); executor 3 tampers with its computation');

  const jobs = [];
  for (const digit of [0, 2, 9]) {
    const file = join(bundled, `digit-${digit}.pb`);
    const input = await readTensorFile(file);
    const local = await model.run({ Input3: input });
    const now = Math.max(Math.floor(Date.now() / 1000), await requester.chainTime());
    const posted = await requester.postJob({ modelHash: model.modelHash, inputHash: local.inputHash, inputURI: pathToFileURL(file).href, quorum: 2, seats: 3, commitDeadline: now + 6, revealDeadline: now + 12, fee: parseEther('0.03') });
    jobs.push({ jobId: posted.jobId, digit, predicted: argmax(local.outputs.logits.data) });
  }
  say(`jobs         ${jobs.map((j) => `#${j.jobId} (digit ${j.digit})`).join(', ')} posted: fee 0.03 ETH, 3 seats, quorum 2`);

  for (let t = 0; ; t++) {
    const states = await Promise.all(jobs.map((j) => requester.getJob(j.jobId).then((x) => x.state)));
    if (states.every((s) => s !== JobState.Open)) break;
    if (t > 450) throw new Error('jobs did not settle within 45 s');
    await new Promise((r) => setTimeout(r, 100));
  }

  let verdict = true;
  say('');
  say('| job | digit | predicted | finalised outputHash | matched (paid) | slashed |');
  say('|---|---|---|---|---|---|');
  for (const j of jobs) {
    const job = await requester.getJob(j.jobId);
    const paid = await requester.market.queryFilter(requester.market.filters.Paid(j.jobId));
    const slashed = await requester.market.queryFilter(requester.market.filters.Slashed(j.jobId));
    const paidText = paid.map((e) => `${names.get(e.args.executor)} +${formatEther(e.args.amount)}`).join(', ');
    const slashText = slashed.map((e) => `${names.get(e.args.executor)} -${formatEther(e.args.amount)}`).join(', ') || 'none';
    say(`| #${j.jobId} | ${j.digit} | ${j.predicted} | ${job.outputHash.slice(0, 18)}… | ${paidText} | ${slashText} |`);
    const honestPaid = paid.length === 2 && paid.every((e) => !names.get(e.args.executor).includes('tampers'));
    const cheaterSlashed = slashed.length === 1 && names.get(slashed[0].args.executor).includes('tampers');
    verdict &&= job.state === JobState.Finalized && honestPaid && cheaterSlashed;
  }
  say('');
  say(`verdict      ${verdict ? 'OK: the honest majority was paid on every job and the tampering executor was slashed' : 'FAILED'}`);
  say(`time         ${((performance.now() - started) / 1000).toFixed(1)} s`);
  model.dispose();
  requester.destroy();
  provider.destroy();
  return verdict ? 0 : 1;
}

async function shutdown() {
  await Promise.all(children.map((c) => new Promise((r) => (c.exitCode !== null ? r() : (c.once('exit', r), c.kill('SIGTERM'))))));
  await anvil?.stop();
  rmSync(work, { recursive: true, force: true });
}

let code = 1;
try {
  code = await main();
} catch (err) {
  process.stderr.write(`demo failed: ${err.stack ?? err}\n`);
} finally {
  await shutdown();
}
process.exit(code);
