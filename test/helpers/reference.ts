// An independent JS implementation of the documented integer rules (docs/determinism.md), used
// as a second oracle next to the native scalar reference.

export function deriveMultiplier(real: number): { mantissa: number; shift: number } {
  if (real === 0) return { mantissa: 0, shift: 1 };
  let e = Math.floor(Math.log2(real)) + 1;
  let f = real / 2 ** e;
  while (f >= 1) { e++; f = real / 2 ** e; }
  while (f < 0.5) { e--; f = real / 2 ** e; }
  let mantissa = Math.round(f * 2 ** 31);
  if (mantissa === 2 ** 31) { mantissa /= 2; e++; }
  const shift = 31 - e;
  if (shift > 62) return { mantissa: 0, shift: 1 };
  if (shift < 1) throw new Error('multiplier too large');
  return { mantissa, shift };
}

export function roundShiftRightEven(p: bigint, shift: number): bigint {
  const s = BigInt(shift);
  const floor = p >> s;
  const rem = p - (floor << s);
  const half = 1n << (s - 1n);
  return rem > half || (rem === half && (floor & 1n) === 1n) ? floor + 1n : floor;
}

export function requantize(acc: number, realMultiplier: number, zeroPoint: number, lo: number, hi: number): number {
  const m = deriveMultiplier(realMultiplier);
  const v = Number(roundShiftRightEven(BigInt(acc) * BigInt(m.mantissa), m.shift)) + zeroPoint;
  return Math.min(hi, Math.max(lo, v));
}

export interface MatMulParams {
  as: number; az: number; bs: number[]; bz: number[]; ys: number; yz: number;
}

/** QLinearMatMul with per-column B quantisation; uint8 output unless another range is given. */
export function qlinearMatMulReference(a: number[], aShape: number[], b: number[], n: number, p: MatMulParams, range: [number, number] = [0, 255]): number[] {
  const k = aShape[aShape.length - 1];
  const rows = a.length / k;
  const f = Math.fround;
  const out: number[] = [];
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < n; j++) {
      let acc = 0;
      for (let t = 0; t < k; t++) acc += (a[i * k + t] - p.az) * (b[t * n + j] - p.bz[j]);
      out.push(requantize(acc, (f(p.as) * f(p.bs[j])) / f(p.ys), p.yz, range[0], range[1]));
    }
  }
  return out;
}

// float64 erf, shared with the calibrating executor (independent of the integer erf it checks).
export { erf64 } from '../../src/quantize/float_math.js';
