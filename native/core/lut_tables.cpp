#include "lut_tables.h"

namespace bx {
namespace {

template <typename Fn>
Tensor buildTable(DType inType, DType outType, Fn value) {
  const QRange in = rangeOf(inType);
  Tensor table = makeTensor(outType, {int64_t(in.hi) - in.lo + 1});
  const bool wide = dtypeSize(outType) == 2;
  // the low byte (or two) of the value encodes the signed and unsigned types alike
  for (int32_t v = in.lo; v <= in.hi; ++v) {
    if (wide) table.mutableData<uint16_t>()[v - in.lo] = uint16_t(value(v));
    else table.mutableData<uint8_t>()[v - in.lo] = uint8_t(value(v));
  }
  return table;
}

}  // namespace

Tensor floatFunctionTable(DType inType, float inScale, int32_t inZero, DType outType, float outScale, int32_t outZero,
                          const std::function<float(float)>& f) {
  const QRange out = rangeOf(outType);
  return buildTable(inType, outType, [&](int32_t v) {
    return quantizeFloat(f(dequantizeToFloat(v, inZero, inScale)), outScale, outZero, out);
  });
}

Tensor sigmoidTable(DType inType, float inScale, int32_t inZero, DType outType, float outScale, int32_t outZero) {
  const QRange out = rangeOf(outType);
  return buildTable(inType, outType, [&](int32_t v) {
    const int32_t centred = v - inZero;
    const uint64_t e = expNegQ40(realMagnitudeQ40(centred, inScale));  // exp(-|r|) in Q40
    // sigmoid(r) = 1 / (1 + e^-r) for r >= 0, e^r / (1 + e^r) for r < 0.
    const uint64_t numerator = centred >= 0 ? kExpOne : e;
    return quantizeRatio(numerator, kExpOne + e, outScale, outZero, out);
  });
}

Tensor tanhTable(DType inType, float inScale, int32_t inZero, DType outType, float outScale, int32_t outZero) {
  const QRange out = rangeOf(outType);
  return buildTable(inType, outType, [&](int32_t v) {
    const int32_t centred = v - inZero;
    const uint64_t e = expNegQ40(realMagnitudeQ40(centred, inScale));  // e^-|r| in Q40, at most 2^40
    const uint64_t e2 = uint64_t(((unsigned __int128)e * e) >> kExpFractionBits);
    // tanh is odd and round-half-even is symmetric: quantise |tanh| once, then apply the sign.
    const int32_t magnitude = quantizeRatio(kExpOne - e2, kExpOne + e2, outScale, 0, QRange{0, int32_t(1) << 30});
    return saturate(int64_t(outZero) + (centred >= 0 ? magnitude : -magnitude), out.lo, out.hi);
  });
}

namespace {
// zy + sign * RHE(magnitudeQ40 / 2^40 / sy), clamped: one rounding of the magnitude, then the sign.
int32_t signedQuantize(uint64_t magnitudeQ40, bool negative, float outScale, int32_t outZero, QRange out) {
  const int32_t m = quantizeRatio(magnitudeQ40, kExpOne, outScale, 0, QRange{0, int32_t(1) << 30});
  return saturate(int64_t(outZero) + (negative ? -m : m), out.lo, out.hi);
}
}  // namespace

Tensor siluTable(DType inType, float inScale, int32_t inZero, DType outType, float outScale, int32_t outZero) {
  const QRange out = rangeOf(outType);
  return buildTable(inType, outType, [&](int32_t v) {
    const int32_t centred = v - inZero;
    const uint64_t r = realMagnitudeQ40(centred, inScale);  // |x| in Q40
    const uint64_t e = expNegQ40(r);                         // e^-|x| in Q40
    // x >= 0: x sigmoid(x) = |x| / (1 + e^-|x|); x < 0: -|x| e^-|x| / (1 + e^-|x|).
    const uint64_t numerator = centred >= 0 ? r : uint64_t(((unsigned __int128)r * e) >> kExpFractionBits);
    const int32_t magnitude = quantizeRatio(numerator, kExpOne + e, outScale, 0, QRange{0, int32_t(1) << 30});
    return saturate(int64_t(outZero) + (centred >= 0 ? magnitude : -magnitude), out.lo, out.hi);
  });
}

Tensor erfTable(DType inType, float inScale, int32_t inZero, DType outType, float outScale, int32_t outZero) {
  const QRange out = rangeOf(outType);
  return buildTable(inType, outType, [&](int32_t v) {
    const int32_t centred = v - inZero;
    return signedQuantize(erfQ40(realMagnitudeQ40(centred, inScale)), centred < 0, outScale, outZero, out);
  });
}

Tensor geluTable(DType inType, float inScale, int32_t inZero, DType outType, float outScale, int32_t outZero) {
  const QRange out = rangeOf(outType);
  return buildTable(inType, outType, [&](int32_t v) {
    const int32_t centred = v - inZero;
    const uint64_t x = realMagnitudeQ40(centred, inScale);  // |x|, at most 2^62
    const uint64_t z = uint64_t(((unsigned __int128)x * kInvSqrt2Q40) >> kExpFractionBits);
    const uint64_t e = erfQ40(z);
    // 2 * Phi(x) = 1 + erf(x / sqrt 2); for x < 0 it is 1 - erf(|x| / sqrt 2).
    const uint64_t twoPhi = centred >= 0 ? kExpOne + e : kExpOne - e;
    const uint64_t magnitude = uint64_t(((unsigned __int128)x * twoPhi) >> (kExpFractionBits + 1));
    return signedQuantize(magnitude, centred < 0, outScale, outZero, out);
  });
}

Tensor requantizeTable(DType inType, float inScale, int32_t inZero, DType outType, float outScale, int32_t outZero) {
  Multiplier m;
  if (!deriveMultiplier(double(inScale) / double(outScale), &m)) fail(ErrorCode::InvalidModel, "scale ratio cannot be represented");
  const QRange out = rangeOf(outType);
  return buildTable(inType, outType, [&](int32_t v) { return requantize(v - inZero, m, outZero, out.lo, out.hi); });
}

}  // namespace bx
