// Chain commands: deploy, register-model, node (executor daemon), job post|status|finalize,
// verify-job. Keys come from --key-env NAME or --keystore FILE --password-env NAME; never logged.
import { parseArgs } from 'node:util';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { JsonRpcProvider, Wallet, formatEther, parseEther } from 'ethers';
import { BitexactError } from '../errors.js';
import { hashModelBytes } from '../hash.js';
import { loadModel } from '../model.js';
import { ChainClient, JobState, deployContracts } from '../chain/client.js';
import { fetchInput, loadPrivateKey, parseJobInput, readDeployment, writeDeployment } from '../chain/config.js';
import { ExecutorNode } from '../chain/executor_node.js';

export const CHAIN_USAGE = `  bitexact deploy --rpc URL KEY --out FILE [--min-stake ETH] [--unbonding S] [--slash-bps N] [--no-reveal-bps N]
  bitexact register-model MODEL --rpc URL --contracts FILE KEY [--uri URI]
  bitexact node --rpc URL --contracts FILE KEY --models DIR [--db FILE] [--stake ETH]
  bitexact job post --rpc URL --contracts FILE KEY --model MODEL --input FILE [--input-uri URI] [--fee ETH]
               [--seats 3] [--quorum 2] [--commit-s 30] [--reveal-s 30]
  bitexact job status JOBID --rpc URL --contracts FILE [--json]
  bitexact job finalize JOBID --rpc URL --contracts FILE KEY
  bitexact verify-job JOBID --rpc URL --contracts FILE --model MODEL [--input FILE] [--json]
    KEY: --key-env NAME | --keystore FILE --password-env NAME`;

function usage(message: string): Error {
  return Object.assign(new Error(message), { usage: true });
}

const KEY_OPTIONS = {
  'key-env': { type: 'string' },
  keystore: { type: 'string' },
  'password-env': { type: 'string' },
} as const;
const CHAIN_OPTIONS = { rpc: { type: 'string' }, contracts: { type: 'string' }, ...KEY_OPTIONS } as const;

function need(values: Record<string, unknown>, name: string): string {
  const v = values[name];
  if (typeof v !== 'string' || v === '') throw usage(`--${name} is required`);
  return v;
}

function intOption(values: Record<string, unknown>, name: string, fallback: number, min = 1): number {
  const raw = values[name];
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw usage(`--${name} must be an integer >= ${min}, got '${String(raw)}'`);
  return n;
}

function ether(values: Record<string, unknown>, name: string, fallback: string): bigint {
  const raw = (values[name] as string | undefined) ?? fallback;
  try {
    return parseEther(raw);
  } catch {
    throw usage(`--${name} must be an amount of ether, got '${raw}'`);
  }
}

function jobIdArg(positionals: string[], command: string): bigint {
  if (positionals.length !== 1 || !/^\d+$/.test(positionals[0])) throw usage(`${command} needs one JOBID (a number)`);
  return BigInt(positionals[0]);
}

async function connect(values: Record<string, unknown>, withKey: boolean): Promise<ChainClient> {
  const deployment = await readDeployment(need(values, 'contracts'));
  const key = withKey
    ? await loadPrivateKey({ keyEnv: values['key-env'] as string, keystore: values.keystore as string, passwordEnv: values['password-env'] as string })
    : Wallet.createRandom().privateKey; // read-only use: any key will do
  return ChainClient.connect(need(values, 'rpc'), key, deployment);
}

export async function commandDeploy(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { rpc: { type: 'string' }, out: { type: 'string' }, 'min-stake': { type: 'string' }, unbonding: { type: 'string' }, 'slash-bps': { type: 'string' }, 'no-reveal-bps': { type: 'string' }, ...KEY_OPTIONS },
  });
  const key = await loadPrivateKey({ keyEnv: values['key-env'], keystore: values.keystore, passwordEnv: values['password-env'] });
  const provider = new JsonRpcProvider(need(values, 'rpc'), undefined, { cacheTimeout: -1 });
  try {
    const deployment = await deployContracts(new Wallet(key, provider), {
      minStake: ether(values, 'min-stake', '1'),
      unbondingDelay: intOption(values, 'unbonding', 86_400, 0),
      slashBps: intOption(values, 'slash-bps', 5000, 0),
      noRevealBps: intOption(values, 'no-reveal-bps', 2000, 0),
    });
    await writeDeployment(need(values, 'out'), deployment);
    process.stdout.write(`registry ${deployment.registry}\nmarket ${deployment.market}\nwritten to ${values.out}\n`);
    return 0;
  } finally {
    provider.destroy();
  }
}

export async function commandRegisterModel(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { ...CHAIN_OPTIONS, uri: { type: 'string' } } });
  if (positionals.length !== 1) throw usage('register-model needs one MODEL file');
  const bytes = await readFile(positionals[0]).catch((e: Error) => {
    throw new BitexactError('ERR_BITEXACT_INPUT', `cannot read ${positionals[0]}: ${e.message}`);
  });
  const modelHash = hashModelBytes(bytes);
  const client = await connect(values, true);
  try {
    await client.registerModel(modelHash, values.uri ?? pathToFileURL(resolve(positionals[0])).href);
    process.stdout.write(`${modelHash}\n`);
    return 0;
  } finally {
    client.destroy();
  }
}

export async function commandNode(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { ...CHAIN_OPTIONS, models: { type: 'string' }, db: { type: 'string' }, stake: { type: 'string' }, 'poll-ms': { type: 'string' }, 'test-fault-node': { type: 'string' } },
  });
  const deployment = await readDeployment(need(values, 'contracts'));
  const privateKey = await loadPrivateKey({ keyEnv: values['key-env'], keystore: values.keystore, passwordEnv: values['password-env'] });
  const node = new ExecutorNode({
    rpcUrl: need(values, 'rpc'),
    deployment,
    privateKey,
    modelsDir: need(values, 'models'),
    dbPath: values.db ?? 'bitexact-node.db',
    stake: values.stake ? ether(values, 'stake', '0') : undefined,
    pollMs: intOption(values, 'poll-ms', 250),
    testFaultNode: values['test-fault-node'] === undefined ? undefined : intOption(values, 'test-fault-node', 0, 0),
  });
  await node.start();
  process.stdout.write(`${new Date().toISOString()} node ${node.address}: watching ${deployment.market}\n`);
  await new Promise<void>((r) => {
    process.once('SIGINT', r);
    process.once('SIGTERM', r);
  });
  await node.stop();
  return 0;
}

export async function commandJob(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === 'post') return jobPost(rest);
  if (sub === 'status') return jobStatus(rest);
  if (sub === 'finalize') return jobFinalize(rest);
  throw usage(`job needs post, status or finalize (got '${sub ?? ''}')`);
}

async function jobPost(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { ...CHAIN_OPTIONS, model: { type: 'string' }, input: { type: 'string' }, 'input-uri': { type: 'string' }, fee: { type: 'string' }, seats: { type: 'string' }, quorum: { type: 'string' }, 'commit-s': { type: 'string' }, 'reveal-s': { type: 'string' } },
  });
  const modelPath = need(values, 'model');
  const inputPath = need(values, 'input');
  const model = await loadModel(modelPath);
  const uri = values['input-uri'] ?? pathToFileURL(resolve(inputPath)).href;
  const { inputHash } = parseJobInput(model, uri, await fetchInput(pathToFileURL(resolve(inputPath)).href));
  const modelHash = model.modelHash;
  model.dispose();
  const client = await connect(values, true);
  try {
    const seats = intOption(values, 'seats', 3);
    const now = Math.max(Math.floor(Date.now() / 1000), await client.chainTime());
    const commitDeadline = now + intOption(values, 'commit-s', 30);
    const posted = await client.postJob({
      modelHash,
      inputHash,
      inputURI: uri,
      quorum: intOption(values, 'quorum', Math.floor(seats / 2) + 1),
      seats,
      commitDeadline,
      revealDeadline: commitDeadline + intOption(values, 'reveal-s', 30),
      fee: ether(values, 'fee', '0.01'),
    });
    process.stdout.write(`${posted.jobId}\n`);
    return 0;
  } finally {
    client.destroy();
  }
}

async function jobStatus(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { ...CHAIN_OPTIONS, json: { type: 'boolean' } } });
  const jobId = jobIdArg(positionals, 'job status');
  const client = await connect(values, false);
  try {
    const job = await client.getJob(jobId);
    if (job.state === JobState.None) throw new BitexactError('ERR_BITEXACT_INPUT', `no job ${jobId} on ${client.market.target}`);
    const view = { ...job, jobId: job.jobId.toString(), fee: formatEther(job.fee), state: JobState[job.state] };
    process.stdout.write(values.json ? JSON.stringify(view) + '\n' : Object.entries(view).map(([k, v]) => `${k}: ${Array.isArray(v) ? v.join(', ') : v}`).join('\n') + '\n');
    return 0;
  } finally {
    client.destroy();
  }
}

async function jobFinalize(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: CHAIN_OPTIONS });
  const jobId = jobIdArg(positionals, 'job finalize');
  const client = await connect(values, true);
  try {
    await client.finalize(jobId);
    process.stdout.write(`${JobState[(await client.getJob(jobId)).state]}\n`);
    return 0;
  } finally {
    client.destroy();
  }
}

/** Re-executes a chain job locally and compares with the finalised (or else every revealed) answer. */
export async function commandVerifyJob(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { ...CHAIN_OPTIONS, model: { type: 'string' }, input: { type: 'string' }, json: { type: 'boolean' } } });
  const jobId = jobIdArg(positionals, 'verify-job');
  const client = await connect(values, false);
  try {
    const job = await client.getJob(jobId);
    if (job.state === JobState.None) throw new BitexactError('ERR_BITEXACT_INPUT', `no job ${jobId}`);
    const model = await loadModel(need(values, 'model'));
    if (model.modelHash !== job.modelHash) throw new BitexactError('ERR_BITEXACT_INPUT', `the model hashes to ${model.modelHash}, but job ${jobId} is for ${job.modelHash}`);
    const uri = values.input ? pathToFileURL(resolve(values.input)).href : job.inputURI;
    const { inputs, inputHash } = parseJobInput(model, job.inputURI, await fetchInput(uri));
    if (inputHash !== job.inputHash) throw new BitexactError('ERR_BITEXACT_INPUT', `the input hashes to ${inputHash}, but job ${jobId} committed to ${job.inputHash}`);
    const r = await model.run(inputs, { trace: true });
    model.dispose();
    const claims: { who: string; outputHash: string; traceRoot: string }[] = [];
    if (job.state === JobState.Finalized) claims.push({ who: 'finalised', outputHash: job.outputHash, traceRoot: job.traceRoot });
    else {
      for (const seat of job.seats) {
        const s = await client.market.seats(jobId, seat);
        if (s.revealed) claims.push({ who: seat, outputHash: s.outputHash, traceRoot: s.traceRoot });
      }
    }
    const checks = claims.map((c) => ({ ...c, ok: c.outputHash === r.outputHash && c.traceRoot === r.traceRoot }));
    const ok = checks.length > 0 && checks.every((c) => c.ok);
    if (values.json) process.stdout.write(JSON.stringify({ jobId: jobId.toString(), ok, local: { outputHash: r.outputHash, traceRoot: r.traceRoot }, checks }) + '\n');
    else {
      process.stdout.write(`local: outputHash ${r.outputHash} traceRoot ${r.traceRoot}\n`);
      for (const c of checks) process.stdout.write(`${c.ok ? 'match   ' : 'MISMATCH'} ${c.who}: outputHash ${c.outputHash} traceRoot ${c.traceRoot}\n`);
      if (checks.length === 0) process.stdout.write('nothing revealed or finalised yet\n');
      process.stdout.write(ok ? 'verified\n' : 'NOT verified\n');
    }
    return ok ? 0 : 1;
  } finally {
    client.destroy();
  }
}
