// quantize(): float ONNX model + calibration inputs -> QDQ model bytes bitexact runs exactly.
import { readFile } from 'node:fs/promises';
import { BitexactError, expected } from '../errors.js';
import { loadModel } from '../model.js';
import { readOnnxModel } from '../onnx/reader.js';
import { normalizeTensor, type TensorInput } from '../tensor.js';
import type { FloatTensor } from './float_ops.js';
import { inputDType, quantizeFloatModel, type QuantizeOptions, type QuantizeProfile, type QuantizeReport } from './quantizer.js';

export type { QuantizeOptions, QuantizeProfile, QuantizeReport };

/**
 * Post-training static quantisation. `calibration` holds inputs keyed by input name (a model
 * with one input also takes bare tensors); they should look like the inputs the model will see.
 */
export async function quantize(
  model: string | Uint8Array,
  calibration: (Record<string, TensorInput> | TensorInput)[],
  options: QuantizeOptions = {},
): Promise<{ bytes: Uint8Array; report: QuantizeReport }> {
  let bytes: Uint8Array;
  if (typeof model === 'string') {
    try {
      bytes = await readFile(model);
    } catch (err) {
      throw new BitexactError('ERR_BITEXACT_INPUT', `cannot read model file ${model}: ${(err as Error).message}`);
    }
  } else if (model instanceof Uint8Array) bytes = model;
  else throw expected('a file path or a Uint8Array', 'model', model);
  if (options.method !== undefined && !['minmax', 'percentile', 'entropy'].includes(options.method)) {
    throw expected("'minmax', 'percentile' or 'entropy'", 'method', options.method);
  }
  if (options.profile !== undefined && options.profile !== 'int8' && options.profile !== 'w8a16') {
    throw expected("'int8' or 'w8a16'", 'profile', options.profile);
  }
  const parsed = readOnnxModel(bytes);
  const names = parsed.graph.inputs.map((i) => i.name);
  const samples = calibration.map((sample, k) => {
    const named: Record<string, TensorInput> =
      typeof sample === 'object' && sample !== null && 'dtype' in sample && 'shape' in sample && names.length === 1
        ? { [names[0]]: sample as TensorInput }
        : (sample as Record<string, TensorInput>);
    const out: Record<string, FloatTensor> = {};
    for (const name of names) {
      if (!named[name]) throw new BitexactError('ERR_BITEXACT_INPUT', `calibration input ${k} lacks '${name}'`);
      const t = normalizeTensor(named[name], `calibration input ${k} '${name}'`);
      const spec = parsed.graph.inputs.find((i) => i.name === name)!;
      const wanted = inputDType(spec.elemType) ?? 'float32';
      if (t.dtype !== wanted) throw new BitexactError('ERR_BITEXACT_INPUT', `calibration input ${k} '${name}' must be ${wanted}, not ${t.dtype}`);
      const declared = spec.shape;
      const fits = !declared || (declared.length === t.shape.length && declared.every((d, i) => typeof d !== 'number' || d <= 0 || d === t.shape[i]));
      if (!fits) throw new BitexactError('ERR_BITEXACT_INPUT', `calibration input ${k} '${name}' has shape [${t.shape}], but the model declares [${declared}]`);
      // integer ids travel as float64 (exact below 2^53) through the calibrating executor
      out[name] = { dims: [...t.shape], data: t.data instanceof Float32Array ? t.data : Float64Array.from(t.data as ArrayLike<number | bigint>, Number) };
    }
    return out;
  });
  const result = quantizeFloatModel(parsed, samples, options);
  if (result.report.profile === 'w8a16') await checkWideOps(result.bytes);
  return result;
}

/**
 * bitexact has 16-bit kernels for some ops only (docs/quantize.md): a w8a16 model that needs
 * another is refused here, naming the node, rather than when someone loads it.
 */
async function checkWideOps(bytes: Uint8Array): Promise<void> {
  let model;
  try {
    model = await loadModel(bytes, { backend: 'cpu', threads: 1 });
  } catch (err) {
    if (err instanceof BitexactError && err.code === 'ERR_BITEXACT_UNSUPPORTED_OP') {
      throw new BitexactError('ERR_BITEXACT_UNSUPPORTED_OP', `profile w8a16: ${err.message}. 16-bit activations run through Conv, MatMul/Gemm with constant weights, Add, ReduceMean, the table functions, Softmax and the reshaping ops; quantise this model with profile int8`);
    }
    throw err;
  }
  model.dispose();
}
