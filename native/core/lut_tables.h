// Lookup tables for functions of one quantized value, built at load time: one entry per value of
// the input type (256 for 8-bit inputs, 65536 for 16-bit ones), of the output type. Tables from
// float functions use binary32 basic operations only (+, -, *, /, min, max); sigmoid uses the
// integer exp of numerics.h. docs/determinism.md, "Lookup tables", states the rules.
#pragma once

#include <functional>

#include "qparams.h"

namespace bx {

// LeakyRelu as ONNX defines it, one binary32 multiply (shared by QLinearLeakyRelu and the QDQ form).
inline float leakyRelu(float v, float alpha) { return v >= 0.0f ? v : alpha * v; }

// table[v - lo(x)] = Q(f(DQ(v))) for every v of the input type.
Tensor floatFunctionTable(DType inType, float inScale, int32_t inZero, DType outType, float outScale, int32_t outZero,
                          const std::function<float(float)>& f);
// table[v - lo(x)] = clamp(zy + round_half_even(sigmoid((v - zx) * sx) / sy)), integer math only.
Tensor sigmoidTable(DType inType, float inScale, int32_t inZero, DType outType, float outScale, int32_t outZero);
// table[v - lo(x)] = zy ± RHE(tanh(|v - zx| * sx) / sy), clamped; tanh from the integer exp:
// tanh(|r|) = (1 - e^-2|r|) / (1 + e^-2|r|) with e^-2|r| = floor(e^-|r| * e^-|r| / 2^40).
Tensor tanhTable(DType inType, float inScale, int32_t inZero, DType outType, float outScale, int32_t outZero);
// Erf and GELU (x * (1 + erf(x / sqrt 2)) / 2) from the integer erf of numerics.h: the magnitude
// is computed in Q40, quantised once with round-half-even, and the sign applied (erf is odd).
Tensor erfTable(DType inType, float inScale, int32_t inZero, DType outType, float outScale, int32_t outZero);
Tensor geluTable(DType inType, float inScale, int32_t inZero, DType outType, float outScale, int32_t outZero);
// SiLU / Swish, x * sigmoid(x), from the integer exp: with R = |x - zx| * sx in Q40 and
// e = e^-R, the magnitude is R / (1 + e) for x >= 0 and floor(R e / 2^40) / (1 + e) for x < 0,
// quantised once with round-half-even, then the sign applied.
Tensor siluTable(DType inType, float inScale, int32_t inZero, DType outType, float outScale, int32_t outZero);
// table[v - lo(x)] = requantize(v - zx, sx / sy, zy): moving a tensor to another scale.
Tensor requantizeTable(DType inType, float inScale, int32_t inZero, DType outType, float outScale, int32_t outZero);

}  // namespace bx
