// AVX2 loops for elementwise quantized ops; byte-identical to the portable loops (tests compare).
#pragma once

#include <cstdint>

#include "../core/numerics.h"

namespace bx::cpu {

// y = clamp(zy + RHE((a - za)*ma + (b - zb)*mb, shift)) for n same-shape byte elements
// (QLinearAdd's rule; ma and mb below 2^31).
void qlinearAddBytesAvx2(const uint8_t* a, bool signedA, int32_t za, const uint8_t* b, bool signedB, int32_t zb,
                         const MultiplierPair& m, int32_t zy, QRange range, uint8_t* y, int64_t n);

}  // namespace bx::cpu
