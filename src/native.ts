// Typed mirror of the native addon's surface (native/addon/*.cpp). Nothing else imports the
// .node file directly.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BitexactError } from './errors.js';

export interface NativeTensor {
  dtype: string;
  shape: number[];
  data: Buffer;
}

export interface NativeNamedTensor extends NativeTensor {
  name: string;
}

export interface NativeSpec {
  name: string;
  dtype: string;
  /** numbers for fixed dims, strings for symbolic ones; null when the model declares no shape */
  shape: (number | string)[] | null;
}

export interface NativeDescription {
  inputs: NativeSpec[];
  outputs: NativeSpec[];
  modelHash: string;
  isa: string;
  threads: number;
  steps: number;
  backend: 'cpu' | 'cuda';
  /** with backend 'cuda': "cuda:0 (NVIDIA H100 80GB HBM3)" */
  device?: string;
}

export interface NativeTraceEntry {
  index: number;
  node: string;
  op: string;
  dtype: string;
  shape: number[];
  hash: string;
  leaf: string;
}

export interface NativeRunResult {
  outputs: (NativeNamedTensor & { hash: string })[];
  inputHash: string;
  outputHash: string;
  timings: { runMs: number; hashMs: number };
  trace?: NativeTraceEntry[];
  traceRoot?: string;
  /** with traceSamples: one root per sample; trace then lists the samples' entries one after another */
  traceRoots?: string[];
}

export interface NativeModel {
  /** async, on the addon's threads; rejects with code ERR_BITEXACT_* */
  run(inputs: { name: string; dtype: string; shape: number[]; data: ArrayBufferView }[],
      options: {
        allowNonFinite?: boolean;
        maxMemoryBytes?: number;
        trace?: boolean;
        testFaultNode?: number;
        cancel?: NativeCancelToken;
        /** trace a batch of this many samples one sample at a time (see traceRoots) */
        traceSamples?: number;
      }): Promise<NativeRunResult>;
  /** sync; runs in flight finish on their own reference to the model */
  dispose(): void;
  /** sync; throws ERR_BITEXACT_DISPOSED after dispose() */
  describe(): NativeDescription;
}

/** A flag native runs check before every node; cancel() makes them fail with ERR_BITEXACT_CANCELLED. */
export interface NativeCancelToken {
  cancel(): void;
  readonly cancelled: boolean;
}

export interface NativeInfo {
  specVersion: number;
  isas: string[];
  bestIsa: string;
  /** ISAs the CPU has whose kernels failed the known-answer self-test (never used) */
  failedSelfTest: string[];
  defaultThreads: number;
  backends: string[];
  cuda: CudaInfo;
}

export interface CudaDevice {
  index: number;
  name: string;
  /** e.g. "9.0" */
  computeCapability: string;
  memoryMB: number;
  multiprocessors: number;
}

export interface CudaInfo {
  /** built with the CUDA toolkit (nvcc found at install time) */
  compiled: boolean;
  /** CUDA runtime linked into the addon, e.g. 13000; 0 when not compiled */
  runtimeVersion?: number;
  /** driver's CUDA version, 0 when no driver is installed */
  driverVersion?: number;
  /** usable devices (compute capability 7.5 or newer) */
  devices: CudaDevice[];
  /** why no device is usable; empty when one is */
  reason: string;
}

export interface NativeAddon {
  CancelToken: new () => NativeCancelToken;
  /** sync, blocks for `seconds`: the measured int8 peak (ops/s) of one ISA on `threads` threads (bench) */
  int8Peak(isa: string, threads: number, seconds: number): number;
  loadModel(
    bytes: Buffer,
    options: {
      isa?: string;
      threads?: number;
      maxMemoryBytes?: number;
      backend?: string;
      device?: number;
      constants?: { name: string; dtype: string; shape: number[]; data: ArrayBufferView }[];
    },
  ): Promise<NativeModel>;
  info(): NativeInfo;
  keccak256(data: Uint8Array): string;
  hashTensor(tensor: { dtype: string; shape: number[]; data: ArrayBufferView }): string;
  hashNamed(entries: { name: string; hash: string }[]): string;
  parseTensorProto(bytes: Buffer): NativeNamedTensor;
  traceLeaf(index: number, op: string, outputHash: string): string;
  merkleRoot(leaves: string[]): string;
  merkleProof(leaves: string[], index: number): string[];
  verifyMerkleProof(leaf: string, index: number, leafCount: number, proof: string[], root: string): boolean;
}

export const packageRoot = join(dirname(fileURLToPath(import.meta.url)), '..');

let cached: NativeAddon | undefined;

export function addon(): NativeAddon {
  if (cached) return cached;
  const candidates = [join(packageRoot, 'build', 'Release', 'bitexact.node'), join(packageRoot, 'build', 'Debug', 'bitexact.node')];
  const found = candidates.find((p) => existsSync(p));
  if (!found) {
    throw new BitexactError('ERR_BITEXACT_NATIVE', `the native addon is not built (looked for ${candidates[0]}); run \`npm run build:native\``);
  }
  const require = createRequire(import.meta.url);
  cached = require(found) as NativeAddon;
  return cached;
}
