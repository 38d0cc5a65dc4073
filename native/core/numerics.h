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

// ---- integer transcendental functions (contract rule 2) ----------------------------------------
// Lookup tables for sigmoid and softmax are built from these, with integer arithmetic only.

constexpr int kExpFractionBits = 40;
constexpr uint64_t kExpOne = uint64_t(1) << kExpFractionBits;
// round(ln 2 * 2^40) = round(762123384786.93...)
constexpr uint64_t kLn2Q40 = 762123384787ULL;

// exp(-r) for r >= 0, both in Q24.40 fixed point. r = k*ln2 + t with t in [0, ln2); exp(-t) is
// the Taylor series summed to 24 terms with truncating integer steps, then shifted right by k.
inline uint64_t expNegQ40(uint64_t r) {
  const uint64_t k = r / kLn2Q40;
  if (k >= 63) return 0;
  const uint64_t t = r - k * kLn2Q40;
  uint64_t term = kExpOne;
  int64_t sum = int64_t(kExpOne);
  for (uint64_t n = 1; n <= 24; ++n) {
    term = uint64_t((unsigned __int128)term * t >> kExpFractionBits) / n;
    sum += (n & 1) ? -int64_t(term) : int64_t(term);
  }
  return uint64_t(sum) >> k;
}

// round(2 / sqrt(pi) * 2^40) = round(1240666014761.714...)
constexpr uint64_t kTwoOverSqrtPiQ40 = 1240666014762ULL;
// round(2^40 / sqrt(2)) = round(777472127993.868...)
constexpr uint64_t kInvSqrt2Q40 = 777472127994ULL;
// erf(z) is taken as exactly 1 from z = 4 on (1 - erf(4) < 1.6e-8).
constexpr uint64_t kErfCutoffQ40 = uint64_t(4) << kExpFractionBits;

// erf(z) for z >= 0, both Q24.40: (2/sqrt(pi)) * sum_n (-1)^n z^(2n+1) / (n! (2n+1)). The terms
// t_0 = z, t_n = floor(floor(t_(n-1) * floor(z^2 / 2^40) / 2^40) / n) and each t_n / (2n+1)
// (truncated) are summed until t_n is 0; 128-bit throughout (t_n < 2^62 for z < 4).
inline uint64_t erfQ40(uint64_t z) {
  if (z >= kErfCutoffQ40) return kExpOne;
  const unsigned __int128 z2 = ((unsigned __int128)z * z) >> kExpFractionBits;
  unsigned __int128 term = z;
  __int128 sum = __int128(term);
  for (uint64_t n = 1; term != 0; ++n) {
    term = ((term * z2) >> kExpFractionBits) / n;
    const __int128 part = __int128(term / (2 * n + 1));
    sum += (n & 1) ? -part : part;
  }
  if (sum <= 0) return 0;
  const unsigned __int128 r = ((unsigned __int128)sum * kTwoOverSqrtPiQ40) >> kExpFractionBits;
  return r > kExpOne ? kExpOne : uint64_t(r);
}

// Rounds n / d to the nearest integer, ties to even; n >= 0, d > 0.
BX_HD unsigned __int128 roundDivideEven(unsigned __int128 n, unsigned __int128 d) {
  const unsigned __int128 q = n / d, r = n % d;
  if (2 * r > d || (2 * r == d && (q & 1))) return q + 1;
  return q;
}

// A positive binary32 scale as mantissa * 2^exponent with a 24-bit integer mantissa (exact).
struct ScaleParts {
  uint64_t mantissa = 0;
  int exponent = 0;
};

inline ScaleParts splitScale(float scale) {
  int e = 0;
  const double f = std::frexp(double(scale), &e);
  return ScaleParts{uint64_t(std::ldexp(f, 24)), e - 24};
}

// Quantises the ratio n / d (n >= 0, d > 0, both < 2^64) to a binary32 scale:
// clamp(zeroPoint + round_half_even(n / (d * scale)), lo, hi), exactly. scale = m * 2^e with m a
// 24-bit integer (exact), so the quotient is a ratio of integers.
BX_HD int32_t quantizeRatioParts(uint64_t n, uint64_t d, ScaleParts scale, int32_t zeroPoint, QRange range) {
  const uint64_t m = scale.mantissa;
  const int p = scale.exponent;  // scale = m * 2^p
  const unsigned __int128 dm = (unsigned __int128)d * m;  // < 2^88
  unsigned __int128 q;
  if (p >= 0) {
    // A divisor of 2^127 or more exceeds 2n (n < 2^64): the quotient rounds to 0.
    if (p >= 127 || (dm >> (127 - p)) != 0) q = 0;
    else q = roundDivideEven(n, dm << p);
  } else {
    if (-p > 60) return n == 0 ? saturate(zeroPoint, range.lo, range.hi) : range.hi;
    q = roundDivideEven((unsigned __int128)n << -p, dm);
  }
  if (q > (unsigned __int128)(uint64_t(1) << 40)) return range.hi;
  return saturate(int64_t(q) + zeroPoint, range.lo, range.hi);
}

inline int32_t quantizeRatio(uint64_t n, uint64_t d, float scale, int32_t zeroPoint, QRange range) {
  return quantizeRatioParts(n, d, splitScale(scale), zeroPoint, range);
}

// floor(sqrt(v)) for any 128-bit v, by the bit-by-bit method (exact, no float).
BX_HD uint64_t isqrt128(unsigned __int128 v) {
  unsigned __int128 result = 0, bit = (unsigned __int128)1 << 126;
  while (bit > v) bit >>= 2;
  while (bit != 0) {
    if (v >= result + bit) {
      v -= result + bit;
      result = (result >> 1) + bit;
    } else {
      result >>= 1;
    }
    bit >>= 2;
  }
  return uint64_t(result);
}

// n / d rounded to the nearest integer, ties to even, for signed n and d > 0.
BX_HD __int128 roundDivideEvenSigned(__int128 n, unsigned __int128 d) {
  const unsigned __int128 magnitude = roundDivideEven(n < 0 ? (unsigned __int128)(-n) : (unsigned __int128)n, d);
  return n < 0 ? -(__int128)magnitude : (__int128)magnitude;
}

constexpr uint64_t kSaturatedQ40 = uint64_t(1) << 62;  // e^-(2^22): exactly 0 in Q40

// |centred| * scale in Q24.40 (scale * 2^40 truncated to an integer first), saturating.
inline uint64_t realMagnitudeQ40(int32_t centred, float scale) {
  const double scaled = std::floor(std::ldexp(double(scale), kExpFractionBits));  // exact
  if (!(scaled < 4.0e18)) return kSaturatedQ40;
  const unsigned __int128 product = (unsigned __int128)uint64_t(scaled) * uint32_t(centred < 0 ? -centred : centred);
  return product >= kSaturatedQ40 ? kSaturatedQ40 : uint64_t(product);
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
