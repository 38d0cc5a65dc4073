// Activation statistics gathered while the float graph runs over calibration inputs, and the
// range each method derives from them.
import { BitexactError } from '../errors.js';

export type CalibrationMethod = 'minmax' | 'percentile' | 'entropy';

const HISTOGRAM_BINS = 2048;

/** Running statistics of one tensor: min, max, and a histogram of |x| for percentile clipping. */
export class TensorStats {
  min = Infinity;
  max = -Infinity;
  /** |x| histogram over [0, histMax]; rebinned (doubling its range) when a larger value arrives */
  readonly hist = new Float64Array(HISTOGRAM_BINS);
  histMax = 0;
  /** exact zeros (in hist[0] too): a ReLU's zeros are exact at any scale, so entropy leaves them out */
  zeros = 0;

  add(data: ArrayLike<number>): void {
    let lo = this.min;
    let hi = this.max;
    let absMax = 0;
    for (let i = 0; i < data.length; i++) {
      const v = data[i];
      if (v === 0) this.zeros++;
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
    // uint8 spends all 255 steps on one sign when the tensor has only one, about half per side otherwise
    const clip = method === 'entropy' ? this.#entropyClip(this.min >= 0 || this.max <= 0 ? 255 : 128) : this.#percentileClip(percentile);
    return [Math.max(lo, -clip), Math.min(hi, clip)];
  }

  /**
   * The clipping threshold whose quantised histogram is closest to the observed one in
   * Kullback-Leibler divergence (TensorRT's entropy calibration): for each candidate threshold the
   * bins beyond it fold into the last, the kept bins merge into `levels` quantisation steps spread
   * back evenly over their non-empty bins, and the divergence of that from the folded histogram is
   * measured. Candidates every 16 bins; exact zeros are left out (they quantise exactly).
   */
  #entropyClip(levels: number): number {
    const bins = HISTOGRAM_BINS;
    let bestBins = bins;
    let best = Infinity;
    const suffix = new Float64Array(bins + 1);
    const hist = Float64Array.from(this.hist);
    hist[0] -= this.zeros;
    for (let b = bins - 1; b >= 0; b--) suffix[b] = suffix[b + 1] + hist[b];
    for (let edge = levels; edge <= bins; edge += 16) {
      const p = Float64Array.from(hist.subarray(0, edge));
      p[edge - 1] += suffix[edge];
      const q = new Float64Array(edge);
      for (let j = 0; j < levels; j++) {
        const start = Math.floor((j * edge) / levels);
        const end = Math.floor(((j + 1) * edge) / levels);
        let total = 0;
        let nonEmpty = 0;
        for (let b = start; b < end; b++) (total += hist[b]), (nonEmpty += hist[b] > 0 ? 1 : 0);
        for (let b = start; b < end; b++) if (hist[b] > 0) q[b] = total / nonEmpty;
      }
      const pSum = suffix[0]; // every bin, the tail folded into the last kept one
      const qSum = suffix[0] - suffix[edge]; // the kept bins, spread over the non-empty ones
      let divergence = 0;
      for (let b = 0; b < edge; b++) {
        if (p[b] === 0) continue;
        // a kept bin the quantised histogram leaves empty (the folded last one): smoothed, not infinite
        const qb = q[b] > 0 ? q[b] / qSum : 1e-9;
        divergence += (p[b] / pSum) * Math.log(p[b] / pSum / qb);
      }
      if (divergence < best) (best = divergence), (bestBins = edge);
    }
    return (bestBins / bins) * this.histMax;
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

/**
 * 16-bit parameters for a real range containing 0 (the w8a16 profile): uint16 with zero point 0
 * when the range has no negatives (after a ReLU: all 65535 steps, and the ReLU fuses), else int16
 * symmetric (zero point 0).
 */
export function wideParams(lo: number, hi: number): { scale: number; zeroPoint: number; dtype: 'uint16' | 'int16' } {
  if (lo >= 0) return { scale: hi > 0 ? Math.fround(hi / 65535) : 1, zeroPoint: 0, dtype: 'uint16' };
  const magnitude = Math.max(-lo, hi);
  return { scale: magnitude > 0 ? Math.fround(magnitude / 32767) : 1, zeroPoint: 0, dtype: 'int16' };
}

/** uint8 asymmetric parameters for a real range containing 0. */
export function uint8Params(lo: number, hi: number): { scale: number; zeroPoint: number } {
  if (hi - lo <= 0) return { scale: 1, zeroPoint: 0 };
  const scale = Math.fround((hi - lo) / 255);
  const zeroPoint = Math.min(255, Math.max(0, Math.round(-lo / scale)));
  return { scale, zeroPoint };
}
