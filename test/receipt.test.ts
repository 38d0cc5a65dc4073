// Receipts: schema, digest, EIP-191 signatures, and verification by re-execution that catches and
// localises tampering (model, input, receipt, or one faulty node).
import { describe, it, expect, beforeAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { AbiCoder, Wallet, concat, keccak256, toUtf8Bytes } from 'ethers';
import { loadModel, merkleRoot, parseReceipt, readTensorFile, receiptDigest, signReceipt, verifyReceipt, BitexactError } from '../src/index.js';
import { ISAS, THREADS } from './helpers/run_all.js';

const root = resolve(__dirname, '..');
const cli = join(root, 'dist', 'cli', 'main.js');
const digits = join(root, 'models', 'mnist-8-int8');
const modelFile = join(digits, 'model.onnx');
// A throwaway key for tests only (the first anvil development account).
const TEST_KEY = '0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d';
let dir: string;

function bitexact(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', env: { ...process.env, ...env } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'bitexact-receipt-'));
});

describe('receipts', () => {
  it('digest is the ABI encoding of the committed fields; signatures recover the signer', async () => {
    const m = await loadModel(modelFile);
    const r = await m.run({ Input3: await readTensorFile(join(digits, 'digit-2.pb')) }, { receipt: true });
    const receipt = r.receipt!;
    expect(receipt.traceRoot).toBe(r.traceRoot);
    const encoded = AbiCoder.defaultAbiCoder().encode(
      ['string', 'uint32', 'string', 'bytes32', 'bytes32', 'bytes32', 'bytes32'],
      ['bitexact.receipt', 1, receipt.engineVersion, receipt.modelHash, receipt.inputHash, receipt.outputHash, receipt.traceRoot],
    );
    expect(receipt.digest).toBe(keccak256(encoded));
    expect(receiptDigest(receipt)).toBe(receipt.digest);
    // The hand-written ABI encoding against ethers' coder, over string lengths around word sizes.
    for (const engineVersion of ['', 'x', 'é'.repeat(16), 'v'.repeat(31), 'v'.repeat(32), 'v'.repeat(33), '1.2.3-ünïcode-' + 'z'.repeat(70)]) {
      const fields = { ...receipt, engineVersion, specVersion: 4294967295 };
      const reference = AbiCoder.defaultAbiCoder().encode(
        ['string', 'uint32', 'string', 'bytes32', 'bytes32', 'bytes32', 'bytes32'],
        ['bitexact.receipt', fields.specVersion, engineVersion, receipt.modelHash, receipt.inputHash, receipt.outputHash, receipt.traceRoot],
      );
      expect(receiptDigest(fields), engineVersion).toBe(keccak256(reference));
    }
    const signed = await signReceipt(receipt, TEST_KEY);
    expect(signed.signer).toBe(new Wallet(TEST_KEY).address);
    expect(parseReceipt(JSON.parse(JSON.stringify(signed)))).toEqual(signed);
    const verdict = await verifyReceipt(signed, m, { Input3: await readTensorFile(join(digits, 'digit-2.pb')) });
    expect(verdict.ok).toBe(true);
    expect(verdict.signer).toBe(signed.signer);
    // A signature over another digest does not verify as this signer.
    const forged = { ...signed, signature: (await signReceipt({ ...receipt, digest: keccak256(toUtf8Bytes('other')) }, TEST_KEY)).signature };
    expect((await verifyReceipt(forged, m, { Input3: await readTensorFile(join(digits, 'digit-2.pb')) })).ok).toBe(false);
    m.dispose();
  });

  it('malformed receipts are refused with the schema problem', () => {
    expect(() => parseReceipt({ kind: 'bitexact.receipt' })).toThrow(BitexactError);
    expect(() => parseReceipt({ kind: 'bitexact.receipt' })).toThrow(/schema/);
    const path = join(dir, 'garbage.json');
    writeFileSync(path, '{"kind": "bitexact.receipt", "specVersion": "one"}');
    const r = bitexact(['verify', path, '--model', modelFile, '--input', join(digits, 'digit-2.pb')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/receipt schema/);
  });

  it('verify: exit 0 when it re-executes to the same hashes; tampering is caught and named', () => {
    const receiptFile = join(dir, 'r.json');
    expect(bitexact(['run', modelFile, '--input', join(digits, 'digit-2.pb'), '--receipt', receiptFile, '--key-env', 'BX_TEST_KEY'], { BX_TEST_KEY: TEST_KEY }).code).toBe(0);
    const ok = bitexact(['verify', receiptFile, '--model', modelFile, '--input', join(digits, 'digit-2.pb'), '--threads', '1']);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/signed by 0x70997970C51812dc3A010C7d01b50e0d17dc79C8/);

    // One byte of the model: it is no longer the receipt's model (bad input, exit 2).
    const model = readFileSync(modelFile);
    model[model.length - 100] ^= 1;
    writeFileSync(join(dir, 'model.onnx'), model);
    const wrongModel = bitexact(['verify', receiptFile, '--model', join(dir, 'model.onnx'), '--input', join(digits, 'digit-2.pb')]);
    expect(wrongModel.code).toBe(2);
    expect(wrongModel.stderr).toMatch(/not the receipt's model/);

    // One byte of the input: inputHash and everything after it differ, from node 0 on.
    const input = readFileSync(join(digits, 'digit-2.pb'));
    input[input.length - 1] ^= 0x40;
    writeFileSync(join(dir, 'input.pb'), input);
    const wrongInput = bitexact(['verify', receiptFile, '--model', modelFile, '--input', join(dir, 'input.pb'), '--json']);
    expect(wrongInput.code).toBe(1);
    const verdict = JSON.parse(wrongInput.stdout);
    expect(verdict.checks.filter((c: { ok: boolean }) => !c.ok).map((c: { what: string }) => c.what)).toContain('inputHash');
    expect(verdict.divergence.firstIndex).toBe(0);

    // One byte of the receipt's outputHash: the digest no longer matches, nor does the re-run.
    const receipt = JSON.parse(readFileSync(receiptFile, 'utf8'));
    receipt.outputHash = receipt.outputHash.slice(0, -1) + (receipt.outputHash.endsWith('0') ? '1' : '0');
    writeFileSync(join(dir, 'edited.json'), JSON.stringify(receipt));
    const edited = bitexact(['verify', join(dir, 'edited.json'), '--model', modelFile, '--input', join(digits, 'digit-2.pb')]);
    expect(edited.code).toBe(1);
    expect(edited.stdout).toMatch(/MISMATCH  digest/);
    expect(edited.stdout).toMatch(/MISMATCH  outputHash/);
    expect(edited.stdout).not.toMatch(/MISMATCH  inputHash/);
  });

  it('a fault injected into one node is reported as exactly that node, by verify and by diff', async () => {
    const m = await loadModel(modelFile);
    const x = await readTensorFile(join(digits, 'digit-2.pb'));
    const honest = await m.run({ Input3: x }, { receipt: true });
    for (const node of [1, 3, 6]) {
      const faulty = await m.run({ Input3: x }, { receipt: true, testFaultNode: node });
      expect(faulty.traceRoot).not.toBe(honest.traceRoot);
      // The faulty runner's receipt, checked by an honest verifier:
      const verdict = await verifyReceipt(faulty.receipt!, m, { Input3: x });
      expect(verdict.ok).toBe(false);
      expect(verdict.divergence?.firstIndex).toBe(node);
      expect(verdict.divergence?.a?.node).toBe(honest.trace![node].node);
      writeFileSync(join(dir, 'honest.json'), JSON.stringify({ specVersion: 1, modelHash: honest.modelHash, inputHash: honest.inputHash, outputHash: honest.outputHash, traceRoot: honest.traceRoot, leaves: honest.trace }));
      writeFileSync(join(dir, 'faulty.json'), JSON.stringify({ specVersion: 1, modelHash: faulty.modelHash, inputHash: faulty.inputHash, outputHash: faulty.outputHash, traceRoot: faulty.traceRoot, leaves: faulty.trace }));
      const diff = bitexact(['diff', join(dir, 'honest.json'), join(dir, 'faulty.json')]);
      expect(diff.code).toBe(1);
      expect(diff.stdout).toMatch(new RegExp(`first divergence at node ${node}\\n  A: ${honest.trace![node].node} `));
    }
    // Without the option nothing is perturbed.
    expect((await m.run({ Input3: x }, { trace: true })).traceRoot).toBe(honest.traceRoot);
    m.dispose();
  });

  it('receipt digests are identical on every ISA and thread count', async () => {
    const x = await readTensorFile(join(digits, 'digit-9.pb'));
    const digests = new Set<string>();
    for (const isa of ISAS) {
      for (const threads of THREADS) {
        const m = await loadModel(modelFile, { isa, threads });
        digests.add((await m.run({ Input3: x }, { receipt: true })).receipt!.digest);
        m.dispose();
      }
    }
    expect(digests.size).toBe(1);
  });

  it('Merkle roots match an independent implementation for 1..33 leaves', () => {
    const reference = (leaves: string[]): string => {
      let level = leaves;
      while (level.length > 1) {
        const next: string[] = [];
        for (let i = 0; i + 1 < level.length; i += 2) next.push(keccak256(concat([level[i], level[i + 1]])));
        if (level.length % 2) next.push(level[level.length - 1]);
        level = next;
      }
      return level[0];
    };
    const leaves = Array.from({ length: 33 }, (_, i) => keccak256(toUtf8Bytes(String(i))));
    for (let n = 1; n <= 33; n++) expect(merkleRoot(leaves.slice(0, n))).toBe(reference(leaves.slice(0, n)));
  });
});
