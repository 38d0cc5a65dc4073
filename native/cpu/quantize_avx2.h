// Vectorised QuantizeLinear for finite inputs; byte-identical to numerics.h quantizeFloat.
#pragma once

#include <cstdint>

#include "../core/numerics.h"

namespace bx::cpu {

// y[i] = clamp(RNE(x[i] / scale) + zeroPoint, lo, hi) as bytes (uint8 or int8 range), for
// finite x only (the caller refuses or handles NaN/Inf first).
void quantizeBytesAvx2(const float* x, uint8_t* y, int64_t n, float scale, int32_t zeroPoint, QRange range);

// True when none of x[0..n) is NaN or infinite (exponent bits all ones), eight lanes at a time.
bool allFiniteAvx2(const float* x, int64_t n);

}  // namespace bx::cpu
