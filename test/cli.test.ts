// The bitexact CLI as a user runs it: a real child process, real files, exit codes.
import { describe, it, expect, beforeAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { keccak256 } from 'ethers';
import { buildModel, tensorValue } from './helpers/onnx_builder.js';
import { hashTensor } from '../src/index.js';

const root = resolve(__dirname, '..');
const cli = join(root, 'dist', 'cli', 'main.js');
let dir: string;
let modelFile: string;

function bitexact(...args: string[]) {
  return bitexactWithEnv({}, ...args);
}

function bitexactWithEnv(env: Record<string, string>, ...args: string[]) {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', env: { ...process.env, ...env } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(() => {
  if (!existsSync(cli)) throw new Error(`${cli} is missing: run \`npm run build:ts\` (npm ci does it)`);
  dir = mkdtempSync(join(tmpdir(), 'bitexact-cli-'));
  modelFile = join(dir, 'q.onnx');
  writeFileSync(modelFile, buildModel({
    inputs: [{ name: 'x', dtype: 'float32', shape: [1, 4] }],
    outputs: [{ name: 'y', dtype: 'uint8', shape: [1, 4] }],
    initializers: { s: tensorValue('float32', [], [0.5]), z: tensorValue('uint8', [], [10]) },
    nodes: [{ op: 'QuantizeLinear', inputs: ['x', 's', 'z'], outputs: ['y'] }],
  }));
});

describe('bitexact run', () => {
  it('--json prints one object with hashes, outputs and backend', () => {
    const input = join(dir, 'x.json');
    writeFileSync(input, JSON.stringify({ dtype: 'float32', shape: [1, 4], data: [0, 1, 2.5, -3] }));
    const r = bitexact('run', modelFile, '--input', `x=${input}`, '--json', '--threads', '1');
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.outputs.y).toMatchObject({ dtype: 'uint8', shape: [1, 4], data: [10, 12, 15, 4] });
    expect(out.outputs.y.hash).toBe(hashTensor({ dtype: 'uint8', shape: [1, 4], data: Uint8Array.from([10, 12, 15, 4]) }));
    for (const k of ['modelHash', 'inputHash', 'outputHash']) expect(out[k]).toMatch(/^0x[0-9a-f]{64}$/);
    expect(out.backend).toMatchObject({ name: 'cpu', threads: 1 });
    expect(out.timings.runMs).toBeGreaterThanOrEqual(0);
  });

  it('accepts a bare nested-array .json, .npy and a single unnamed --input', () => {
    const nested = join(dir, 'nested.json');
    writeFileSync(nested, JSON.stringify([[0, 1, 2.5, -3]]));
    const npy = join(dir, 'x.npy');
    const header = "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 4), }";
    const padded = header + ' '.repeat(64 - ((10 + header.length + 1) % 64)) + '\n';
    const h = Buffer.alloc(10);
    h.write('\x93NUMPY', 0, 'latin1');
    h[6] = 1; h[7] = 0; h.writeUInt16LE(padded.length, 8);
    writeFileSync(npy, Buffer.concat([h, Buffer.from(padded, 'latin1'), Buffer.from(Float32Array.from([0, 1, 2.5, -3]).buffer)]));
    const a = JSON.parse(bitexact('run', modelFile, '--input', nested, '--json').stdout);
    const b = JSON.parse(bitexact('run', modelFile, '--input', `x=${npy}`, '--json').stdout);
    expect(a.outputHash).toBe(b.outputHash);
    expect(a.outputs.y.data).toEqual([10, 12, 15, 4]);
  });

  it('bad input exits 2 with one line naming the problem', () => {
    const cases: [string[], RegExp][] = [
      [['run', join(dir, 'missing.onnx')], /cannot read model file/],
      [['run', modelFile, '--input', `nope=${join(dir, 'x.json')}`], /no input named 'nope'/],
      [['run', modelFile, '--input', `x=${join(dir, 'absent.json')}`], /cannot read tensor file/],
      [['run', modelFile, '--threads', 'zero'], /--threads/],
      [['run', modelFile, '--bogus'], /bogus/],
      [['frobnicate'], /unknown command/],
      [['hash'], /exactly one FILE/],
    ];
    for (const [args, pattern] of cases) {
      const r = bitexact(...args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr.split('\n')[0]).toMatch(pattern);
    }
  });
});

describe('bitexact run --trace, diff, prove, check-proof', () => {
  it('traces, finds the first divergence, proves and checks a node', async () => {
    const { readFileSync } = await import('node:fs');
    const digits = join(root, 'models', 'mnist-8-int8');
    const model = join(digits, 'model.onnx');
    const a = join(dir, 'a.trace.json'), b = join(dir, 'b.trace.json'), a2 = join(dir, 'a2.trace.json');
    expect(bitexact('run', model, '--input', join(digits, 'digit-2.pb'), '--trace', a).code).toBe(0);
    expect(bitexact('run', model, '--input', join(digits, 'digit-2.pb'), '--trace', a2, '--threads', '1').code).toBe(0);
    expect(bitexact('run', model, '--input', join(digits, 'digit-9.pb'), '--trace', b).code).toBe(0);
    const same = bitexact('diff', a, a2);
    expect(same.code).toBe(0);
    expect(same.stdout).toMatch(/identical: 8 leaves/);
    const differ = bitexact('diff', a, b);
    expect(differ.code).toBe(1);
    expect(differ.stdout).toMatch(/first divergence at node 0[\s\S]*quantize_input \(QuantizeLinear\)/);
    const proved = bitexact('prove', a, 'dense');
    expect(proved.code).toBe(0);
    const proof = JSON.parse(proved.stdout);
    expect(proof).toMatchObject({ node: 'dense', op: 'com.microsoft::QGemm', index: 6, leafCount: 8 });
    const proofFile = join(dir, 'proof.json');
    writeFileSync(proofFile, proved.stdout);
    const rootHash = JSON.parse(readFileSync(a, 'utf8')).traceRoot;
    expect(bitexact('check-proof', rootHash, proofFile).code).toBe(0);
    expect(bitexact('check-proof', JSON.parse(readFileSync(b, 'utf8')).traceRoot, proofFile).code).toBe(1);
    writeFileSync(proofFile, JSON.stringify({ ...proof, siblings: proof.siblings.slice(1) }));
    expect(bitexact('check-proof', rootHash, proofFile).code).toBe(1);
    // Traced runs hash intermediates four at a time with AVX2 Keccak; BITEXACT_CPU_ISA=scalar uses
    // only the one-stream Keccak. Every leaf must agree.
    const scalarTrace = join(dir, 'scalar.trace.json');
    expect(bitexactWithEnv({ BITEXACT_CPU_ISA: 'scalar' }, 'run', model, '--input', join(digits, 'digit-2.pb'), '--trace', scalarTrace).code).toBe(0);
    expect(JSON.parse(readFileSync(scalarTrace, 'utf8')).leaves).toEqual(JSON.parse(readFileSync(a, 'utf8')).leaves);
    // A tampered trace file is refused with a one-line reason (exit 2).
    const tampered = JSON.parse(readFileSync(a, 'utf8'));
    tampered.leaves[3].leaf = tampered.leaves[4].leaf;
    writeFileSync(join(dir, 'bad.trace.json'), JSON.stringify(tampered));
    const refused = bitexact('diff', join(dir, 'bad.trace.json'), a);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/traceRoot does not match/);
  });
});

describe('bitexact hash and info', () => {
  it('hash of a model is keccak256 of its bytes; of a tensor file, the canonical hash', async () => {
    const { readFileSync } = await import('node:fs');
    expect(bitexact('hash', modelFile).stdout.trim()).toBe(keccak256(readFileSync(modelFile)));
    // The baseline (non-BMI2) Keccak build, forced by BITEXACT_CPU_ISA=scalar, agrees too.
    const big = join(dir, 'big.onnx');
    writeFileSync(big, Buffer.alloc(100_003, 7));
    expect(bitexactWithEnv({ BITEXACT_CPU_ISA: 'scalar' }, 'hash', big).stdout.trim()).toBe(keccak256(readFileSync(big)));
    const t = join(dir, 't.json');
    writeFileSync(t, JSON.stringify({ dtype: 'int8', shape: [3], data: [1, -2, 3] }));
    expect(bitexact('hash', t).stdout.trim()).toBe(hashTensor({ dtype: 'int8', shape: [3], data: Int8Array.from([1, -2, 3]) }));
  });

  it('run --backend cuda without a usable GPU exits 2 saying why; --device must be an index', () => {
    const i = JSON.parse(bitexact('info', '--json').stdout);
    if (i.cuda.devices.length === 0) {
      const r = bitexact('run', modelFile, '--backend', 'cuda', '--input', 'x=' + join(dir, 'x.json'));
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('ERR_BITEXACT_BACKEND');
      expect(r.stderr).toContain(i.cuda.reason);
    }
    const bad = bitexact('run', modelFile, '--device', 'first');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--device');
  });

  it('info --json reports version, specVersion, ISAs and backends', () => {
    const r = bitexact('info', '--json');
    expect(r.code).toBe(0);
    const i = JSON.parse(r.stdout);
    expect(i.specVersion).toBe(1);
    expect(i.cpu.isas).toContain('scalar');
    expect(i.backends).toContain('cpu');
    expect(typeof i.cuda.compiled).toBe('boolean');
    expect(i.backends.includes('cuda')).toBe(i.cuda.devices.length > 0);
    // A vector path whose kernels fail the known-answer self-test is reported and never offered.
    for (const isa of i.cpu.failedSelfTest) expect(i.cpu.isas).not.toContain(isa);
    expect(i.cpu.failedSelfTest).not.toContain(i.cpu.bestIsa);
    // And on the machines we test on it must not happen: every cross-ISA test would then compare
    // the scalar reference with itself and pass.
    expect(i.cpu.failedSelfTest, 'vector kernels failed their known-answer self-test on this CPU').toEqual([]);
  });
});
