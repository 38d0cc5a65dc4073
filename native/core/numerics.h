// bitexact numerics, specVersion 1: every integer rule of the determinism contract lives here and
// nowhere else. CPU kernels (and later CUDA kernels) include this header; none re-derives a rule.
// docs/determinism.md states the same formulas in prose; keep the two in step.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>

#if defined(__CUDACC__)
#define BX_HD __host__ __device__ __forceinline__
#else
#define BX_HD inline
#endif

namespace bx {

constexpr int kSpecVersion = 1;

// A positive real multiplier M represented as mantissa * 2^-shift, mantissa in [2^30, 2^31) (or 0).
struct Multiplier {
  int32_t mantissa = 0;
  int32_t shift = 1;  // always in [1, 62], so rounding needs a half-ulp of at least 1
};

// Rounds p / 2^shift to the nearest integer, ties to even (the rule ONNX QuantizeLinear uses).
// shift in [1, 62]; p any int64 whose magnitude leaves headroom for the +1 (|p| < 2^62 by bounds).
BX_HD int64_t roundShiftRightEven(int64_t p, int shift) {
  const int64_t floorQ = p >> shift;  // arithmetic shift: floor division by 2^shift
  const int64_t rem = int64_t(uint64_t(p) & ((uint64_t(1) << shift) - 1));  // p - floorQ * 2^shift
  const int64_t half = int64_t(1) << (shift - 1);
  return floorQ + ((rem > half || (rem == half && (floorQ & 1))) ? 1 : 0);
}

// requantize(acc) = round_half_even(acc * M); |acc| < 2^31 and mantissa < 2^31 keep the product
// below 2^62.
BX_HD int64_t applyMultiplier(int32_t acc, Multiplier m) {
  return roundShiftRightEven(int64_t(acc) * int64_t(m.mantissa), m.shift);
}

BX_HD int32_t saturate(int64_t v, int32_t lo, int32_t hi) {
  return v < lo ? lo : (v > hi ? hi : int32_t(v));
}

// out = clamp(zeroPoint + round_half_even(acc * M), lo, hi)
BX_HD int32_t requantize(int32_t acc, Multiplier m, int32_t zeroPoint, int32_t lo, int32_t hi) {
  return saturate(applyMultiplier(acc, m) + zeroPoint, lo, hi);
}

// Derives the fixed-point form of a real multiplier given as an exact float64 value. frexp and
// scaling by a power of two are exact; the single rounding is llround (half away from zero) of
// f * 2^31. Returns false when M is not finite, negative, or >= 2^30 (no sane model needs that).
inline bool deriveMultiplier(double realMultiplier, Multiplier* out) {
  if (!(realMultiplier >= 0.0) || !std::isfinite(realMultiplier)) return false;
  if (realMultiplier == 0.0) { *out = Multiplier{0, 1}; return true; }
  int exponent = 0;
  const double fraction = std::frexp(realMultiplier, &exponent);  // M = fraction * 2^exponent
  int64_t mantissa = std::llround(std::ldexp(fraction, 31));
  if (mantissa == (int64_t(1) << 31)) { mantissa >>= 1; ++exponent; }
  int shift = 31 - exponent;
  if (shift < 1) return false;
  if (shift > 62) {
    // |acc| < 2^31 and M < 2^-32 give |acc * M| < 1/2: the product always rounds to 0.
    *out = Multiplier{0, 1};
    return true;
  }
  *out = Multiplier{int32_t(mantissa), shift};
  return true;
}

// Two multipliers on one shared shift, for ops that add two rescaled inputs (QLinearAdd, Concat of
// differently scaled inputs): y = round_half_even((ma*a + mb*b) / 2^shift). The larger multiplier
// gets 31 significant bits; the shift is capped at 62 so 255*2^31*2 stays far below 2^62.
struct MultiplierPair {
  int64_t a = 0;
  int64_t b = 0;
  int32_t shift = 1;
};

inline bool deriveMultiplierPair(double ma, double mb, MultiplierPair* out) {
  if (!(ma >= 0.0) || !(mb >= 0.0) || !std::isfinite(ma) || !std::isfinite(mb)) return false;
  const double larger = ma > mb ? ma : mb;
  if (larger == 0.0) { *out = MultiplierPair{0, 0, 1}; return true; }
  int exponent = 0;
  std::frexp(larger, &exponent);
  int shift = 31 - exponent;
  if (shift < 1) return false;
  if (shift > 62) shift = 62;
  // ldexp is exact; llround rounds half away from zero, once per multiplier.
  *out = MultiplierPair{std::llround(std::ldexp(ma, shift)), std::llround(std::ldexp(mb, shift)), shift};
  return true;
}

BX_HD int64_t applyMultiplierPair(int32_t a, int32_t b, const MultiplierPair& m) {
  return roundShiftRightEven(int64_t(a) * m.a + int64_t(b) * m.b, m.shift);
}

// Integer range of a quantized element type.
struct QRange {
  int32_t lo;
  int32_t hi;
};
constexpr QRange kRangeU8{0, 255};
constexpr QRange kRangeS8{-128, 127};
constexpr QRange kRangeS16{-32768, 32767};
constexpr QRange kRangeU16{0, 65535};

// ---- float boundary (contract rule 3): IEEE-754 binary32 basic operations only ----------------

// Round to nearest integer, ties to even, independent of the current rounding mode. Exact for
// every float: values with |x| >= 2^23 are already integers.
inline double roundHalfEvenFloat(float x) {
  const double d = double(x);
  if (!(std::fabs(d) < 8388608.0)) return d;  // integers, infinities and NaN pass through
  const double floorD = std::floor(d);
  const double diff = d - floorD;  // exact: both are representable and close
  if (diff > 0.5) return floorD + 1.0;
  if (diff < 0.5) return floorD;
  return std::fmod(floorD, 2.0) == 0.0 ? floorD : floorD + 1.0;
}

// QuantizeLinear: y = clamp(round_half_even(x / scale) + zeroPoint, lo, hi), with x / scale one
// binary32 division. The caller rejects NaN inputs before calling (policy, not numerics).
inline int32_t quantizeFloat(float x, float scale, int32_t zeroPoint, QRange range) {
  const float quotient = x / scale;  // one binary32 division (built with -ffp-contract=off)
  const double rounded = roundHalfEvenFloat(quotient) + double(zeroPoint);
  if (rounded <= double(range.lo)) return range.lo;
  if (rounded >= double(range.hi)) return range.hi;
  return int32_t(rounded);
}

// DequantizeLinear: y = float(x - zeroPoint) * scale, one binary32 conversion and one multiply.
inline float dequantizeToFloat(int64_t x, int64_t zeroPoint, float scale) {
  const float centred = float(x - zeroPoint);
  return centred * scale;
}

// ---- accumulation bounds (contract rule 4) ------------------------------------------------------

constexpr int64_t kInt32Max = std::numeric_limits<int32_t>::max();

// Largest |x - zeroPoint| over an input type's whole range.
inline int64_t maxCenteredMagnitude(QRange range, int32_t zeroPoint) {
  const int64_t lo = std::llabs(int64_t(range.lo) - zeroPoint);
  const int64_t hi = std::llabs(int64_t(range.hi) - zeroPoint);
  return lo > hi ? lo : hi;
}

}  // namespace bx
