// What the chain commands and daemons read from disk or the environment: the deployment file
// written by `bitexact deploy`, signing keys (env variable or ethers keystore; never logged), and
// job inputs by URI (file:// or http(s)://, size-capped).
import { readFile, writeFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Wallet } from 'ethers';
import { BitexactError } from '../errors.js';
import { hashNamedTensors } from '../hash.js';
import { parseTensorBytes } from '../io/tensor_files.js';
import type { Model } from '../model.js';
import type { Tensor } from '../tensor.js';
import type { Deployment } from './client.js';

const ADDRESS = /^0x[0-9a-fA-F]{40}$/;

export async function readDeployment(path: string): Promise<Deployment> {
  let d: Partial<Deployment>;
  try {
    d = JSON.parse(await readFile(path, 'utf8')) as Partial<Deployment>;
  } catch (err) {
    throw new BitexactError('ERR_BITEXACT_INPUT', `cannot read the contracts file ${path}: ${(err as Error).message}`);
  }
  if (!d || typeof d.registry !== 'string' || !ADDRESS.test(d.registry) || typeof d.market !== 'string' || !ADDRESS.test(d.market)) {
    throw new BitexactError('ERR_BITEXACT_INPUT', `${path} is not a bitexact contracts file (needs "registry" and "market" addresses)`);
  }
  return d as Deployment;
}

export async function writeDeployment(path: string, d: Deployment): Promise<void> {
  await writeFile(path, JSON.stringify(d, null, 2) + '\n');
}

/** A private key from the environment variable `keyEnv`, or from an ethers keystore file. */
export async function loadPrivateKey(opts: { keyEnv?: string; keystore?: string; passwordEnv?: string }): Promise<string> {
  if (opts.keyEnv) {
    const key = process.env[opts.keyEnv];
    if (!key) throw new BitexactError('ERR_BITEXACT_INPUT', `environment variable ${opts.keyEnv} (the signing key) is not set`);
    try {
      return new Wallet(key).privateKey;
    } catch {
      throw new BitexactError('ERR_BITEXACT_INPUT', `${opts.keyEnv} does not hold a valid 32-byte hex private key`);
    }
  }
  if (opts.keystore) {
    const password = opts.passwordEnv ? process.env[opts.passwordEnv] : undefined;
    if (password === undefined) throw new BitexactError('ERR_BITEXACT_INPUT', 'a keystore needs --password-env NAME (the variable holding its password)');
    let json: string;
    try {
      json = await readFile(opts.keystore, 'utf8');
    } catch (err) {
      throw new BitexactError('ERR_BITEXACT_INPUT', `cannot read keystore ${opts.keystore}: ${(err as Error).message}`);
    }
    try {
      return (await Wallet.fromEncryptedJson(json, password)).privateKey;
    } catch {
      throw new BitexactError('ERR_BITEXACT_INPUT', `cannot decrypt keystore ${opts.keystore} (wrong password or not a keystore)`);
    }
  }
  throw new BitexactError('ERR_BITEXACT_INPUT', 'a signing key is needed: --key-env NAME or --keystore FILE');
}

const MAX_INPUT_BYTES = 256 * 1024 * 1024;

/** The bytes behind a job's input URI. */
export async function fetchInput(uri: string, timeoutMs = 15_000): Promise<Buffer> {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw new BitexactError('ERR_BITEXACT_INPUT', `input URI ${JSON.stringify(uri.slice(0, 100))} is not a URL`);
  }
  if (url.protocol === 'file:') {
    try {
      return await readFile(fileURLToPath(url));
    } catch (err) {
      throw new BitexactError('ERR_BITEXACT_INPUT', `cannot read ${uri}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  }
  if (url.protocol === 'http:' || url.protocol === 'https:') {
    let response: Response;
    try {
      response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    } catch (err) {
      throw new BitexactError('ERR_BITEXACT_INPUT', `cannot fetch ${uri}: ${(err as Error).message}`);
    }
    if (!response.ok) throw new BitexactError('ERR_BITEXACT_INPUT', `fetching ${uri} gave HTTP ${response.status}`);
    const length = Number(response.headers.get('content-length') ?? 0);
    if (length > MAX_INPUT_BYTES) throw new BitexactError('ERR_BITEXACT_INPUT', `${uri} is ${length} bytes, over the ${MAX_INPUT_BYTES}-byte cap`);
    const bytes = Buffer.from(await response.arrayBuffer());
    if (bytes.length > MAX_INPUT_BYTES) throw new BitexactError('ERR_BITEXACT_INPUT', `${uri} is over the ${MAX_INPUT_BYTES}-byte cap`);
    return bytes;
  }
  throw new BitexactError('ERR_BITEXACT_INPUT', `input URI scheme ${url.protocol} is not supported (file:, http:, https:)`);
}

/**
 * A job input file (.pb, .json or .npy, told apart by the URI's extension) parsed for `model`,
 * with its inputHash: the same canonical hash a receipt commits to.
 */
export function parseJobInput(model: Model, uri: string, bytes: Buffer): { inputs: Record<string, Tensor>; inputHash: string } {
  if (model.inputs.length !== 1) throw new BitexactError('ERR_BITEXACT_INPUT', `chain jobs support single-input models; this one has ${model.inputs.length}`);
  const path = uri.split(/[?#]/)[0];
  const tensor = parseTensorBytes(bytes, extname(path) || '.pb', `input ${uri}`, model.inputs[0].dtype);
  const inputs = { [model.inputs[0].name]: { dtype: tensor.dtype, shape: tensor.shape, data: tensor.data } };
  return { inputs, inputHash: hashNamedTensors(inputs) };
}
