// Activation statistics gathered while the float graph runs over calibration inputs, and the
// range each method derives from them.
import { BitexactError } from '../errors.js';

export type CalibrationMethod = 'minmax' | 'percentile';

const HISTOGRAM_BINS = 2048;

/** Running statistics of one tensor: min, max, and a histogram of |x| for percentile clipping. */
export class TensorStats {
  min = Infinity;
  max = -Infinity;
  /** |x| histogram over [0, histMax]; rebinned (doubling its range) when a larger value arrives */
  readonly hist = new Float64Array(HISTOGRAM_BINS);
  histMax = 0;

  add(data: ArrayLike<number>): void {
    let lo = this.min;
    let hi = this.max;
    let absMax = 0;
    for (let i = 0; i < data.length; i++) {
      const v = data[i];
      if (v < lo) lo = v;
      if (v > hi) hi = v;
      const a = Math.abs(v);
      if (a > absMax) absMax = a;
    }
    this.min = lo;
    this.max = hi;
    if (absMax === 0) {
      this.hist[0] += data.length;
      return;
    }
    if (this.histMax === 0) this.histMax = absMax;
    while (absMax > this.histMax) this.#double();
    const perBin = HISTOGRAM_BINS / this.histMax;
    for (let i = 0; i < data.length; i++) this.hist[Math.min(HISTOGRAM_BINS - 1, Math.floor(Math.abs(data[i]) * perBin))]++;
  }

  #double(): void {
    for (let b = 0; b < HISTOGRAM_BINS / 2; b++) this.hist[b] = this.hist[2 * b] + this.hist[2 * b + 1];
    this.hist.fill(0, HISTOGRAM_BINS / 2);
    this.histMax *= 2;
  }

  /** The real range [lo, hi] to quantise (always containing 0). */
  range(method: CalibrationMethod, percentile = 99.999): [number, number] {
    if (!Number.isFinite(this.min)) throw new BitexactError('ERR_BITEXACT_INPUT', 'a tensor was never observed during calibration');
    const lo = Math.min(0, this.min);
    const hi = Math.max(0, this.max);
    if (method === 'minmax' || this.histMax === 0) return [lo, hi];
    const clip = this.#percentileClip(percentile);
    return [Math.max(lo, -clip), Math.min(hi, clip)];
  }

  #percentileClip(percentile: number): number {
    const total = this.hist.reduce((a, b) => a + b, 0);
    const target = (total * percentile) / 100;
    let seen = 0;
    for (let b = 0; b < HISTOGRAM_BINS; b++) {
      seen += this.hist[b];
      if (seen >= target) return ((b + 1) / HISTOGRAM_BINS) * this.histMax;
    }
    return this.histMax;
  }
}

/** uint8 asymmetric parameters for a real range containing 0. */
export function uint8Params(lo: number, hi: number): { scale: number; zeroPoint: number } {
  if (hi - lo <= 0) return { scale: 1, zeroPoint: 0 };
  const scale = Math.fround((hi - lo) / 255);
  const zeroPoint = Math.min(255, Math.max(0, Math.round(-lo / scale)));
  return { scale, zeroPoint };
}
