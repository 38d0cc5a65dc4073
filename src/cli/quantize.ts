// `bitexact quantize FLOAT.onnx --calib FILE_OR_DIR... --out QUANT.onnx [--per-tensor] [--method minmax|percentile]`
import { parseArgs } from 'node:util';
import { readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readTensorFile } from '../io/tensor_files.js';
import { quantize } from '../quantize/index.js';
import type { Tensor } from '../tensor.js';

export const QUANTIZE_USAGE = `  bitexact quantize FLOAT.onnx --calib FILE_OR_DIR... --out QUANT.onnx [--per-tensor] [--method minmax|percentile] [--percentile P]`;

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

export async function commandQuantize(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      calib: { type: 'string', multiple: true },
      out: { type: 'string' },
      'per-tensor': { type: 'boolean' },
      'per-channel': { type: 'boolean' },
      method: { type: 'string' },
      percentile: { type: 'string' },
    },
  });
  if (positionals.length !== 1) throw Object.assign(new Error('quantize needs one FLOAT.onnx model'), { usage: true });
  if (!values.out) throw Object.assign(new Error('--out QUANT.onnx is required'), { usage: true });
  const files = await calibrationFiles(values.calib ?? []);
  if (files.length === 0) throw Object.assign(new Error('--calib needs at least one tensor file (.pb, .npy, .json) or a folder of them'), { usage: true });
  const inputs: Tensor[] = [];
  for (const f of files) inputs.push(await readTensorFile(f, 'float32'));
  const percentile = values.percentile === undefined ? undefined : Number(values.percentile);
  const start = performance.now();
  const { bytes, report } = await quantize(positionals[0], inputs, {
    perChannel: !values['per-tensor'],
    method: (values.method ?? 'minmax') as 'minmax',
    percentile,
    onProgress: (done, total) => process.stderr.write(`\rcalibrating ${done}/${total}${done === total ? '\n' : ''}`),
  });
  await writeFile(values.out, bytes);
  process.stdout.write(
    `${values.out}: ${report.quantizedWeights} weight tensors (int8 ${report.perChannel ? 'per channel' : 'per tensor'}), ` +
      `${report.quantizedActivations} activations (uint8, ${report.method}), ${report.folded} nodes folded, opset ${report.opset}, ` +
      `${report.calibrationInputs} calibration inputs, ${((performance.now() - start) / 1000).toFixed(1)} s\n`,
  );
  return 0;
}
