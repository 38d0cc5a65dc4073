// `bitexact quantize FLOAT.onnx --calib FILE_OR_DIR... --out QUANT.onnx [--profile int8|w8a16] [--per-tensor] [--method minmax|percentile|entropy]`
import { parseArgs } from 'node:util';
import { readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { BitexactError } from '../errors.js';
import { readTensorFile } from '../io/tensor_files.js';
import { readOnnxModel, type OnnxValueInfo } from '../onnx/reader.js';
import { quantize } from '../quantize/index.js';
import { inputDType } from '../quantize/quantizer.js';
import type { Tensor } from '../tensor.js';

export const QUANTIZE_USAGE = `  bitexact quantize FLOAT.onnx --calib FILE_OR_DIR... --out QUANT.onnx [--profile int8|w8a16] [--per-tensor] [--method minmax|percentile|entropy] [--percentile P] [--no-bias-correction]`;

const TENSOR_FILE = /\.(pb|npy|json)$/i;

async function calibrationFiles(paths: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const p of paths) {
    const s = await stat(p).catch(() => null);
    if (!s) throw Object.assign(new Error(`--calib ${p}: no such file or folder`), { usage: true });
    if (s.isDirectory()) {
      // ONNX test-data folders hold output_N.pb next to input_N.pb: only inputs calibrate.
      const entries = (await readdir(p, { recursive: true }))
        .map(String)
        .filter((f) => TENSOR_FILE.test(f) && !/(^|\/)output_\d+\./.test(f))
        .sort();
      out.push(...entries.map((f) => join(p, f)));
    } else out.push(p);
  }
  return out;
}

/**
 * One model input: every file is a sample. Several (token ids and a mask): every folder holding
 * input_0 ... input_{n-1} (an ONNX test-data set) is a sample, input_i feeding the model's i-th
 * input.
 */
async function calibrationSamples(specs: OnnxValueInfo[], files: string[]): Promise<(Tensor | Record<string, Tensor>)[]> {
  if (specs.length <= 1) {
    const hint = specs[0] ? inputDType(specs[0].elemType) : undefined;
    return Promise.all(files.map((f) => readTensorFile(f, hint ?? 'float32')));
  }
  const folders = new Map<string, Map<number, string>>();
  for (const f of files) {
    const m = /^input_(\d+)\./.exec(basename(f));
    if (!m) throw Object.assign(new Error(`--calib ${f}: a model with ${specs.length} inputs calibrates on folders of input_0 ... input_${specs.length - 1} files`), { usage: true });
    const folder = folders.get(dirname(f)) ?? new Map<number, string>();
    folder.set(Number(m[1]), f);
    folders.set(dirname(f), folder);
  }
  const samples: Record<string, Tensor>[] = [];
  for (const [folder, byIndex] of folders) {
    const sample: Record<string, Tensor> = {};
    for (let i = 0; i < specs.length; i++) {
      const f = byIndex.get(i);
      if (!f) throw Object.assign(new Error(`--calib ${folder}: input_${i} (for '${specs[i].name}') is missing`), { usage: true });
      sample[specs[i].name] = await readTensorFile(f, inputDType(specs[i].elemType) ?? 'float32');
    }
    samples.push(sample);
  }
  return samples;
}

export async function commandQuantize(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      calib: { type: 'string', multiple: true },
      out: { type: 'string' },
      'per-tensor': { type: 'boolean' },
      'per-channel': { type: 'boolean' },
      'no-bias-correction': { type: 'boolean' },
      method: { type: 'string' },
      profile: { type: 'string' },
      percentile: { type: 'string' },
    },
  });
  if (positionals.length !== 1) throw Object.assign(new Error('quantize needs one FLOAT.onnx model'), { usage: true });
  if (!values.out) throw Object.assign(new Error('--out QUANT.onnx is required'), { usage: true });
  const files = await calibrationFiles(values.calib ?? []);
  if (files.length === 0) throw Object.assign(new Error('--calib needs at least one tensor file (.pb, .npy, .json) or a folder of them'), { usage: true });
  // The model is read once: its inputs decide how calibration files group into samples.
  const model = await readFile(positionals[0]).catch((err: Error) => {
    throw new BitexactError('ERR_BITEXACT_INPUT', `cannot read model file ${positionals[0]}: ${err.message}`);
  });
  const inputs = await calibrationSamples(readOnnxModel(model).graph.inputs, files);
  const percentile = values.percentile === undefined ? undefined : Number(values.percentile);
  const start = performance.now();
  const { bytes, report } = await quantize(model, inputs, {
    perChannel: !values['per-tensor'],
    profile: (values.profile ?? 'int8') as 'int8' | 'w8a16',
    biasCorrection: !values['no-bias-correction'],
    method: (values.method ?? 'minmax') as 'minmax' | 'percentile' | 'entropy',
    percentile,
    onProgress: (done, total) => process.stderr.write(`\rcalibrating ${done}/${total}${done === total ? '\n' : ''}`),
  });
  await writeFile(values.out, bytes);
  process.stdout.write(
    `${values.out}: ${report.quantizedWeights} weight tensors (int8 ${report.perChannel ? 'per channel' : 'per tensor'}), ` +
      `${report.quantizedActivations} activations (${report.profile === 'w8a16' ? 'int16' : 'uint8'}, ${report.method}), ${report.folded} nodes folded, opset ${report.opset}, ` +
      `${report.calibrationInputs} calibration inputs, ${((performance.now() - start) / 1000).toFixed(1)} s\n`,
  );
  return 0;
}
