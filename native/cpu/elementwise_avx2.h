// AVX2 loops for elementwise quantized ops; byte-identical to the portable loops (tests compare).
#pragma once

#include <cstdint>

#include "../core/numerics.h"

namespace bx::cpu {

// y = clamp(zy + RHE((a - za)*ma + (b - zb)*mb, shift)) for n same-shape byte elements
// (QLinearAdd's rule; ma and mb below 2^31).
void qlinearAddBytesAvx2(const uint8_t* a, bool signedA, int32_t za, const uint8_t* b, bool signedB, int32_t zb,
                         const MultiplierPair& m, int32_t zy, QRange range, uint8_t* y, int64_t n);

// QLinearMul's rule, y = clamp(zy + RHE(M * (a - za)(b - zb))), in two steps so that many short
// broadcast runs (a squeeze-and-excitation scale over 7 x 7 planes) share one requantising pass:
// products[j] = (a[j*strideA] - za)(b[j*strideB] - zb) for j < n, strides 0 (one element
// broadcast along the run) or 1; then y[j] from products[j] for j < n.
void qlinearMulProductsAvx2(const uint8_t* a, int64_t strideA, bool signedA, int32_t za, const uint8_t* b, int64_t strideB,
                            bool signedB, int32_t zb, int32_t* products, int64_t n);
void qlinearMulRequantizeAvx2(const int32_t* products, int64_t n, Multiplier m, int32_t zy, QRange range, uint8_t* y);

// y[i] = table[x[i] ^ flip] for i < n, one 256-entry byte table (QLinearLut; flip 0x80 maps int8
// inputs to table entries).
void lookupBytesAvx2(const uint8_t* table, uint8_t flip, const uint8_t* x, uint8_t* y, int64_t n);

}  // namespace bx::cpu
