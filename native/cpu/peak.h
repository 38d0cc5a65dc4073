// The measured int8 peak of this CPU: its best int8 dot-product instruction (AVX-512 VNNI
// vpdpbusd, else the AVX2 vpmaddubsw + vpmaddwd pair) in loops of independent accumulators, one
// per thread. The bench reports GEMM speed as a fraction of it (bench/run.mjs).
#pragma once

#include <cstdint>

#include "isa.h"

namespace bx::cpu {

// int8 operations per second (a multiply-add counts as 2) on `threads` threads, each looping for
// about `seconds`. Scalar has no int8 dot-product instruction: 0.
double measureInt8Peak(Isa isa, int threads, double seconds);

// One ISA's loop (its own translation unit): `blocks` unrolled blocks; returns the ops done.
uint64_t int8PeakLoopAvx2(uint64_t blocks);
uint64_t int8PeakLoopAvx512Vnni(uint64_t blocks);

}  // namespace bx::cpu
