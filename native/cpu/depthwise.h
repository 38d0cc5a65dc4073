// Depthwise convolution (one input channel per group, one output channel per group): a direct
// kernel, since a GEMM with a single row wastes almost all of its work.
#pragma once

#include <cstdint>

#include "isa.h"
#include "qgemm.h"

namespace bx::cpu {

struct DepthwisePlane {
  const uint8_t* image = nullptr;  // one input plane, inH x inW, raw u8 or s8
  bool signedInput = false;
  int32_t inputZeroPoint = 0;
  const int8_t* weights = nullptr;  // kernelH x kernelW, s8 domain (b)
  int32_t weightZeroPoint = 0;      // zb, in the same domain
  int32_t bias = 0;
  Conv2dGeometry g;                 // channels = 1
};

// acc[oy*outW + ox] = bias + sum (x - zx)(b - zb): exact int32 (bounds proven at load time).
// Needs AVX2 (built with -mavx2).
void depthwiseAccumulateAvx2(const DepthwisePlane& p, int32_t* acc);

}  // namespace bx::cpu
