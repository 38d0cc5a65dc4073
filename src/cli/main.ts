#!/usr/bin/env node
// bitexact CLI. Exit codes: 0 success, 1 mismatch/internal failure, 2 bad input or usage (one
// line on stderr naming what was wrong).
import { parseArgs } from 'node:util';
import { readFile, writeFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { BitexactError, INPUT_ERROR_CODES } from '../errors.js';
import { info } from '../info.js';
import { keccak256, hashTensor } from '../hash.js';
import { loadModel, type Backend, type Isa, type Model } from '../model.js';
import { readReceiptFile, signReceipt, verifyReceipt } from '../receipt.js';
import { readTensorFile } from '../io/tensor_files.js';
import { argmax, type Tensor } from '../tensor.js';
import { diffTraces, merkleProof, verifyMerkleProof, type TraceEntry } from '../trace.js';
import { isMerkleProof, readTraceFile, writeTraceFile } from '../io/trace_files.js';
import { commandServe, SERVE_USAGE } from './serve.js';
import { commandQuantize, QUANTIZE_USAGE } from './quantize.js';
import { CHAIN_USAGE, commandDeploy, commandJob, commandNode, commandRegisterModel, commandVerifyJob } from './chain_commands.js';

const USAGE = `usage:
  bitexact run MODEL [--input NAME=FILE | --input FILE]... [--backend auto|cpu|cuda] [--device N] [--threads N] [--isa ISA]
               [--trace FILE] [--receipt FILE [--key-env NAME]] [--json]
  bitexact verify RECEIPT --model MODEL [--input NAME=FILE | --input FILE]... [--threads N] [--isa ISA] [--json]
  bitexact hash FILE            (a model .onnx, or a tensor .json/.npy/.pb)
  bitexact info [--json]
  bitexact diff TRACE_A TRACE_B (exit 0 when identical, 1 when they diverge)
  bitexact prove TRACE NODE     (NODE: a leaf index or a node name; prints a Merkle inclusion proof)
  bitexact check-proof ROOT PROOF_FILE (exit 0 when the proof holds, 1 when not)
${SERVE_USAGE}
${QUANTIZE_USAGE}
${CHAIN_USAGE}`;

class UsageError extends Error {}

function toJsonTensor(t: Tensor): { dtype: string; shape: number[]; data: (number | string)[] } {
  const data = t.data instanceof BigInt64Array ? Array.from(t.data, (v) => v.toString()) : Array.from(t.data as ArrayLike<number>);
  return { dtype: t.dtype, shape: [...t.shape], data };
}

async function commandRun(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      input: { type: 'string', multiple: true, short: 'i' },
      backend: { type: 'string' },
      device: { type: 'string' },
      threads: { type: 'string' },
      isa: { type: 'string' },
      json: { type: 'boolean' },
      'allow-non-finite': { type: 'boolean' },
      trace: { type: 'string' },
      receipt: { type: 'string' },
      'key-env': { type: 'string' },
    },
  });
  if (positionals.length !== 1) throw new UsageError('run needs exactly one MODEL argument');
  let threads: number | undefined;
  if (values.threads !== undefined) {
    threads = Number(values.threads);
    if (!Number.isInteger(threads) || threads < 1) throw new UsageError(`--threads must be a positive integer, got '${values.threads}'`);
  }
  let device: number | undefined;
  if (values.device !== undefined) {
    device = Number(values.device);
    if (!Number.isInteger(device) || device < 0) throw new UsageError(`--device must be a CUDA device index (0, 1, ...), got '${values.device}'`);
  }
  const loadStart = performance.now();
  const model = await loadModel(positionals[0], {
    backend: (values.backend ?? 'auto') as Backend,
    device,
    threads,
    isa: values.isa as Isa | undefined,
  });
  const loadMs = performance.now() - loadStart;
  try {
    const inputs = await readInputs(model, values.input ?? []);
    const r = await model.run(inputs, {
      allowNonFinite: values['allow-non-finite'] === true,
      trace: values.trace !== undefined,
      receipt: values.receipt !== undefined,
    });
    if (values.receipt !== undefined) {
      let receipt = r.receipt!;
      if (values['key-env'] !== undefined) {
        const key = process.env[values['key-env']];
        if (!key) throw new BitexactError('ERR_BITEXACT_INPUT', `environment variable ${values['key-env']} (the signing key) is not set`);
        receipt = await signReceipt(receipt, key);
      }
      await writeFile(values.receipt, JSON.stringify(receipt, null, 2) + '\n');
    }
    if (values.trace !== undefined) {
      await writeTraceFile(values.trace, {
        specVersion: info().specVersion,
        modelHash: r.modelHash,
        inputHash: r.inputHash,
        outputHash: r.outputHash,
        traceRoot: r.traceRoot!,
        leaves: r.trace!,
      });
    }
    if (values.json) {
      const outputs: Record<string, unknown> = {};
      for (const [name, t] of Object.entries(r.outputs)) outputs[name] = { ...toJsonTensor(t), hash: t.hash };
      process.stdout.write(
        JSON.stringify({
          modelHash: r.modelHash,
          inputHash: r.inputHash,
          outputHash: r.outputHash,
          ...(r.traceRoot ? { traceRoot: r.traceRoot } : {}),
          outputs,
          backend: r.backend,
          timings: { loadMs, ...r.timings },
        }) + '\n',
      );
    } else {
      for (const [name, t] of Object.entries(r.outputs)) {
        const top = t.shape.length >= 1 && t.data.length > 0 && !(t.data instanceof BigInt64Array) ? `  top-1 index ${argmax(t.data)}` : '';
        process.stdout.write(`output ${name} ${t.dtype}[${t.shape.join(',')}]${top}\n  hash ${t.hash}\n`);
      }
      process.stdout.write(`modelHash  ${r.modelHash}\ninputHash  ${r.inputHash}\noutputHash ${r.outputHash}\n`);
      if (r.traceRoot) process.stdout.write(`traceRoot  ${r.traceRoot} (${r.trace!.length} nodes, written to ${values.trace})\n`);
      const where = r.backend.name === 'cuda' ? `cuda ${r.backend.device}` : `cpu isa=${r.backend.isa} threads=${r.backend.threads}`;
      process.stdout.write(`backend ${where}  run ${r.timings.runMs.toFixed(2)} ms\n`);
    }
    return 0;
  } finally {
    model.dispose();
  }
}

async function commandHash(args: string[]): Promise<number> {
  const { positionals } = parseArgs({ args, allowPositionals: true, options: {} });
  if (positionals.length !== 1) throw new UsageError('hash needs exactly one FILE argument');
  const file = positionals[0];
  if (extname(file).toLowerCase() === '.onnx') {
    let bytes: Buffer;
    try {
      bytes = await readFile(file);
    } catch (err) {
      throw new BitexactError('ERR_BITEXACT_INPUT', `cannot read ${file}: ${(err as Error).message}`);
    }
    process.stdout.write(`${keccak256(bytes)}\n`);
  } else {
    process.stdout.write(`${hashTensor(await readTensorFile(file))}\n`);
  }
  return 0;
}

async function readInputs(model: Model, specs: string[]): Promise<Record<string, Tensor>> {
  const inputs: Record<string, Tensor> = {};
  for (const spec of specs) {
    const eq = spec.indexOf('=');
    let name: string;
    let file: string;
    if (eq > 0) {
      name = spec.slice(0, eq);
      file = spec.slice(eq + 1);
    } else {
      if (model.inputs.length !== 1) {
        throw new BitexactError('ERR_BITEXACT_INPUT', `the model has ${model.inputs.length} inputs; use --input NAME=FILE`);
      }
      name = model.inputs[0].name;
      file = spec;
    }
    const declared = model.inputs.find((i) => i.name === name);
    inputs[name] = await readTensorFile(file, declared?.dtype);
  }
  return inputs;
}

async function commandVerify(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      model: { type: 'string' },
      input: { type: 'string', multiple: true, short: 'i' },
      threads: { type: 'string' },
      isa: { type: 'string' },
      json: { type: 'boolean' },
    },
  });
  if (positionals.length !== 1) throw new UsageError('verify needs exactly one RECEIPT file');
  if (!values.model) throw new UsageError('verify needs --model MODEL');
  const receipt = await readReceiptFile(positionals[0]);
  let modelBytes: Buffer;
  try {
    modelBytes = await readFile(values.model);
  } catch (err) {
    throw new BitexactError('ERR_BITEXACT_INPUT', `cannot read model file ${values.model}: ${(err as Error).message}`);
  }
  const modelHash = keccak256(modelBytes);
  if (modelHash !== receipt.modelHash) {
    throw new BitexactError('ERR_BITEXACT_INPUT', `${values.model} is not the receipt's model (modelHash ${modelHash}, receipt ${receipt.modelHash})`);
  }
  const threads = values.threads === undefined ? undefined : Number(values.threads);
  const model = await loadModel(modelBytes, { threads, isa: values.isa as Isa | undefined });
  try {
    const verdict = await verifyReceipt(receipt, model, await readInputs(model, values.input ?? []));
    if (values.json) {
      process.stdout.write(JSON.stringify(verdict) + '\n');
    } else {
      for (const c of verdict.checks) {
        process.stdout.write(c.ok ? `ok        ${c.what}\n` : `MISMATCH  ${c.what}: receipt ${c.expected ?? '-'}, re-run ${c.actual ?? '-'}\n`);
      }
      if (verdict.signer) process.stdout.write(`signed by ${verdict.signer}\n`);
      const d = verdict.divergence;
      if (d && d.firstIndex !== null) {
        process.stdout.write(
          `first diverging node ${d.firstIndex}: ${d.a?.node ?? d.b?.node} (${d.a?.op ?? d.b?.op})\n  receipt ${d.a?.hash ?? '-'}\n  re-run  ${d.b?.hash ?? '-'}\n`,
        );
      }
      process.stdout.write(verdict.ok ? 'verified\n' : 'NOT verified\n');
    }
    return verdict.ok ? 0 : 1;
  } finally {
    model.dispose();
  }
}

async function commandDiff(args: string[]): Promise<number> {
  const { positionals } = parseArgs({ args, allowPositionals: true, options: {} });
  if (positionals.length !== 2) throw new UsageError('diff needs two TRACE files');
  const [a, b] = await Promise.all(positionals.map((p) => readTraceFile(p)));
  const d = diffTraces(a.leaves, b.leaves);
  if (d.firstIndex === null) {
    process.stdout.write(`traces identical: ${a.leaves.length} leaves, root ${a.traceRoot}\n`);
    return 0;
  }
  const describe = (t?: TraceEntry) => (t ? `${t.node} (${t.op}) ${t.hash}` : '(absent)');
  process.stdout.write(
    `first divergence at node ${d.firstIndex}\n  A: ${describe(d.a)}\n  B: ${describe(d.b)}\n${d.differing} of ${Math.max(a.leaves.length, b.leaves.length)} leaves differ\n`,
  );
  return 1;
}

async function commandProve(args: string[]): Promise<number> {
  const { positionals } = parseArgs({ args, allowPositionals: true, options: {} });
  if (positionals.length !== 2) throw new UsageError('prove needs a TRACE file and a NODE (index or name)');
  const trace = await readTraceFile(positionals[0]);
  const wanted = positionals[1];
  const index = /^\d+$/.test(wanted) ? Number(wanted) : trace.leaves.findIndex((l) => l.node === wanted);
  if (index < 0 || index >= trace.leaves.length) {
    throw new BitexactError('ERR_BITEXACT_INPUT', `no node '${wanted}' in the trace (${trace.leaves.length} leaves)`);
  }
  const leaf = trace.leaves[index];
  const proof = merkleProof(trace.leaves.map((l) => l.leaf), index);
  process.stdout.write(JSON.stringify({ root: trace.traceRoot, node: leaf.node, op: leaf.op, hash: leaf.hash, ...proof }, null, 2) + '\n');
  return 0;
}

async function commandCheckProof(args: string[]): Promise<number> {
  const { positionals } = parseArgs({ args, allowPositionals: true, options: {} });
  if (positionals.length !== 2) throw new UsageError('check-proof needs a ROOT and a PROOF file');
  const [root, file] = positionals;
  if (!/^0x[0-9a-f]{64}$/.test(root)) throw new BitexactError('ERR_BITEXACT_INPUT', 'ROOT must be 0x followed by 64 lowercase hex digits');
  let proof: unknown;
  try {
    proof = JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    throw new BitexactError('ERR_BITEXACT_INPUT', `cannot read proof ${file}: ${(err as Error).message}`);
  }
  if (!isMerkleProof(proof)) throw new BitexactError('ERR_BITEXACT_INPUT', `${file} is not a proof ({index, leafCount, leaf, siblings})`);
  const ok = verifyMerkleProof(proof, root);
  process.stdout.write(ok ? `proof holds: leaf ${proof.index} of ${proof.leafCount} is in ${root}\n` : 'proof does not hold\n');
  return ok ? 0 : 1;
}

function commandInfo(args: string[]): number {
  const { values } = parseArgs({ args, options: { json: { type: 'boolean' } } });
  const i = info();
  if (values.json) {
    process.stdout.write(JSON.stringify(i) + '\n');
    return 0;
  }
  process.stdout.write(
    [
      `bitexact ${i.version} (specVersion ${i.specVersion})`,
      `cpu isas: ${i.cpu.isas.join(', ')} (using ${i.cpu.forcedIsa ?? i.cpu.bestIsa}${i.cpu.forcedIsa ? ', forced by BITEXACT_CPU_ISA' : ''})`,
      ...(i.cpu.failedSelfTest.length ? [`WARNING: ${i.cpu.failedSelfTest.join(', ')} failed the kernel self-test and is not used`] : []),
      `threads: ${i.cpu.threads}`,
      `backends: ${i.backends.join(', ')}`,
      i.cuda.devices.length > 0
        ? `cuda: ${i.cuda.devices.map((d) => `cuda:${d.index} ${d.name} (sm ${d.computeCapability}, ${d.memoryMB} MiB)`).join('; ')}`
        : `cuda: ${i.cuda.compiled ? 'compiled in, no usable device' : 'not compiled in'} (${i.cuda.reason})`,
    ].join('\n') + '\n',
  );
  return 0;
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'run':
        return await commandRun(rest);
      case 'hash':
        return await commandHash(rest);
      case 'info':
        return commandInfo(rest);
      case 'verify':
        return await commandVerify(rest);
      case 'diff':
        return await commandDiff(rest);
      case 'prove':
        return await commandProve(rest);
      case 'check-proof':
        return await commandCheckProof(rest);
      case 'serve':
        return await commandServe(rest);
      case 'quantize':
        return await commandQuantize(rest);
      case 'deploy':
        return await commandDeploy(rest);
      case 'register-model':
        return await commandRegisterModel(rest);
      case 'node':
        return await commandNode(rest);
      case 'job':
        return await commandJob(rest);
      case 'verify-job':
        return await commandVerifyJob(rest);
      case undefined:
      case '--help':
      case '-h':
      case 'help':
        process.stdout.write(USAGE + '\n');
        return command === undefined ? 2 : 0;
      default:
        throw new UsageError(`unknown command '${command}'`);
    }
  } catch (err) {
    const e = err as Error & { code?: string };
    if (err instanceof UsageError || (e as { usage?: boolean }).usage || e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' || e.code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`bitexact: ${e.message}\n${USAGE}\n`);
      return 2;
    }
    if (e.code && INPUT_ERROR_CODES.has(e.code)) {
      process.stderr.write(`bitexact: ${e.code}: ${e.message.split('\n')[0]}\n`);
      return 2;
    }
    process.stderr.write(`bitexact: internal error: ${e.stack ?? e.message}\n`);
    return 1;
  }
}

// `bitexact ... | head` closes stdout early; that is not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw err;
});

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`bitexact: ${String(err)}\n`);
    process.exitCode = 1;
  },
);
