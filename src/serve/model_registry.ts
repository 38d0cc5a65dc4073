// Models the server can run, by modelHash: registered from a path inside the models folder or by
// upload, remembered in the journal, and loaded again on restart.
import { readFile, realpath } from 'node:fs/promises';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { hashModelBytes } from '../hash.js';
import { loadModel, type LoadOptions, type Model, type TensorSpec } from '../model.js';
import { HttpError } from './http_errors.js';
import type { Journal } from './journal.js';

export interface ModelDescription {
  modelHash: string;
  path: string | null;
  inputs: readonly TensorSpec[];
  outputs: readonly TensorSpec[];
  batchable: boolean;
}

export class ModelRegistry {
  readonly #models = new Map<string, { model: Model; path: string | null }>();

  constructor(
    private readonly journal: Journal,
    private readonly modelsDir: string | undefined,
    private readonly loadOptions: LoadOptions,
  ) {}

  /** Loads every model the journal remembers; returns the ones that failed (and why). */
  async restore(): Promise<{ modelHash: string; reason: string }[]> {
    const failures: { modelHash: string; reason: string }[] = [];
    for (const row of this.journal.models()) {
      try {
        const bytes = row.bytes ?? (await readFile(await this.#resolveInside(row.path!)));
        const hash = hashModelBytes(bytes);
        if (hash !== row.modelHash) throw new Error(`the file now hashes to ${hash}`);
        this.#models.set(hash, { model: await loadModel(bytes, this.loadOptions), path: row.path });
      } catch (err) {
        failures.push({ modelHash: row.modelHash, reason: (err as Error).message });
      }
    }
    return failures;
  }

  async registerPath(path: string): Promise<{ created: boolean; description: ModelDescription }> {
    const full = await this.#resolveInside(path);
    let bytes: Buffer;
    try {
      bytes = await readFile(full);
    } catch (err) {
      throw new HttpError(404, 'ERR_BITEXACT_MODEL_NOT_FOUND', `cannot read model '${path}': ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    return this.#register(bytes, relative(await realpath(this.modelsDir!), full));
  }

  async registerUpload(bytes: Buffer): Promise<{ created: boolean; description: ModelDescription }> {
    if (bytes.length === 0) throw new HttpError(400, 'ERR_BITEXACT_REQUEST', 'the uploaded model is empty');
    return this.#register(bytes, null);
  }

  get(modelHash: string): Model {
    const entry = this.#models.get(modelHash);
    if (!entry) throw new HttpError(404, 'ERR_BITEXACT_UNKNOWN_MODEL', `no model with hash ${modelHash} is registered (POST /v1/models first)`);
    return entry.model;
  }

  has(modelHash: string): boolean {
    return this.#models.has(modelHash);
  }

  list(): ModelDescription[] {
    return [...this.#models.entries()].map(([hash, e]) => describe(hash, e.model, e.path));
  }

  dispose(): void {
    for (const { model } of this.#models.values()) model.dispose();
    this.#models.clear();
  }

  async #register(bytes: Buffer, path: string | null): Promise<{ created: boolean; description: ModelDescription }> {
    const modelHash = hashModelBytes(bytes);
    const existing = this.#models.get(modelHash);
    if (existing) return { created: false, description: describe(modelHash, existing.model, existing.path) };
    const model = await loadModel(bytes, this.loadOptions); // a bad model throws a coded error (4xx)
    this.#models.set(modelHash, { model, path });
    await this.journal.addModel({ modelHash, path, bytes: path === null ? bytes : null });
    return { created: true, description: describe(modelHash, model, path) };
  }

  /** `path` resolved inside the models folder; anything outside it (.., symlinks, absolute) is refused. */
  async #resolveInside(path: string): Promise<string> {
    if (!this.modelsDir) throw new HttpError(400, 'ERR_BITEXACT_REQUEST', 'registering by path needs the server to be started with --models DIR; upload the file instead');
    const root = await realpath(this.modelsDir);
    let full: string;
    try {
      full = await realpath(resolve(root, path));
    } catch {
      throw new HttpError(404, 'ERR_BITEXACT_MODEL_NOT_FOUND', `no file '${path}' in the models folder`);
    }
    const rel = relative(root, full);
    if (isAbsolute(path) || rel.startsWith('..') || rel.split(sep).includes('..') || isAbsolute(rel)) {
      throw new HttpError(400, 'ERR_BITEXACT_REQUEST', `'${path}' is outside the models folder`);
    }
    return full;
  }
}

function describe(modelHash: string, model: Model, path: string | null): ModelDescription {
  return { modelHash, path, inputs: model.inputs, outputs: model.outputs, batchable: model.batchable };
}
