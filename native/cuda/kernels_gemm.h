// What the GEMM kernels share (kernels_linear.cu, kernels_gemm_sm90.cu): their parameters and
// the epilogue that turns one exact dot product into an output element.
#pragma once

#include <cuda_runtime.h>

#include "../core/device.h"

namespace bx::cuda {

struct GemmParams {
  const int8_t* weights;   // [rowsPadded][depthPadded]
  const uint8_t* packed;   // [colsPadded][depthPadded]
  int64_t depthPadded;
  const int32_t* zeroPoints;
  const int32_t* rowConstants;
  const Multiplier* multipliers;
  const int32_t* colSums;
  bool anyZeroPoint;
  int64_t rows, columns;
  bool requantize;
  int32_t zeroY, lo, hi;
  uint8_t* out;
  int64_t colsPerImage, imageOutStride, rowStride, colStride;
};

// acc = D + rowConstant - zb * Sa (wrap-around, exact modulo 2^32), then numerics.h requantize.
__device__ __forceinline__ void storeResult(const GemmParams& p, int64_t row, int64_t col, uint32_t d) {
  if (row >= p.rows || col >= p.columns) return;
  uint32_t acc = d + uint32_t(p.rowConstants[row]);
  if (p.anyZeroPoint) acc -= uint32_t(p.zeroPoints[row]) * uint32_t(p.colSums[col]);
  const int64_t image = col / p.colsPerImage;
  const int64_t index = image * p.imageOutStride + row * p.rowStride + (col - image * p.colsPerImage) * p.colStride;
  if (!p.requantize) {
    reinterpret_cast<int32_t*>(p.out)[index] = int32_t(acc);
  } else {
    // The low byte encodes int8 and uint8 alike.
    p.out[index] = uint8_t(requantize(int32_t(acc), p.multipliers[row], p.zeroY, p.lo, p.hi));
  }
}

// The staged epilogue of a tile: this thread's outputs are one row (`row`) and the columns
// colBegin, colBegin + step, ... below colEnd, their dot products at staged[0], staged[stride],
// ... Exactly storeResult's arithmetic, with the row's constants read once and the output
// position advanced instead of divided out per element (the 64-bit division dominated).
__device__ __forceinline__ void storeRowSegment(const GemmParams& p, int64_t row, int64_t colBegin, int64_t colEnd, int step,
                                                const uint32_t* staged, int stride) {
  if (row >= p.rows) return;
  colEnd = colEnd < p.columns ? colEnd : p.columns;
  if (colBegin >= colEnd) return;
  const uint32_t rowConstant = uint32_t(p.rowConstants[row]);
  const uint32_t zb = p.anyZeroPoint ? uint32_t(p.zeroPoints[row]) : 0;
  Multiplier m = {};
  if (p.requantize) m = p.multipliers[row];
  int64_t image = colBegin / p.colsPerImage, inImage = colBegin - image * p.colsPerImage;
  for (int64_t col = colBegin; col < colEnd; col += step, staged += stride) {
    uint32_t acc = *staged + rowConstant;
    if (p.anyZeroPoint) acc -= zb * uint32_t(p.colSums[col]);
    const int64_t index = image * p.imageOutStride + row * p.rowStride + inImage * p.colStride;
    if (!p.requantize) reinterpret_cast<int32_t*>(p.out)[index] = int32_t(acc);
    else p.out[index] = uint8_t(requantize(int32_t(acc), m, p.zeroY, p.lo, p.hi));  // the low byte encodes int8 and uint8 alike
    inImage += step;
    while (inImage >= p.colsPerImage) inImage -= p.colsPerImage, ++image;
  }
}

// Hopper's warpgroup-MMA kernel (kernels_gemm_sm90.cu): 128 x 256 tiles; compute capability 9.0.
// False (nothing launched) when the driver cannot describe the operands to the copy engine.
bool launchGemmWgmma(const GemmParams& p, int64_t colsPadded, int64_t rowsPadded, cudaStream_t stream);

}  // namespace bx::cuda
