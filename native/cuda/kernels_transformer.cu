// Kernels of the transformer ops: activation x activation MatMul (one thread per output, the
// exact int32 sum) and integer LayerNormalization (one thread per row, ops_layernorm.cpp's
// formula with numerics.h's 128-bit isqrt and rounding division).
#include <cstdint>

#include "kernels.h"

namespace bx::cuda {
namespace {

__device__ __forceinline__ int32_t centred(const uint8_t* data, bool isSigned, int64_t i, int32_t zero) {
  return (isSigned ? int32_t(int8_t(data[i])) : int32_t(data[i])) - zero;
}

__global__ void dynamicMatMulKernel(DynamicMatMulDeviceArgs a) {
  const int64_t total = a.batches * a.m * a.n;
  for (int64_t o = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; o < total; o += int64_t(gridDim.x) * blockDim.x) {
    const int64_t batch = o / (a.m * a.n), rest = o - batch * a.m * a.n;
    const int64_t i = rest / a.n, j = rest - i * a.n;
    const uint8_t* row = a.a + a.aOffsets[batch] + i * a.k;
    const uint8_t* col = a.b + a.bOffsets[batch] + j;
    int32_t acc = 0;  // exact: the host checked K against the int32 bound
    for (int64_t t = 0; t < a.k; ++t) acc += centred(row, a.aSigned, t, a.za) * centred(col, a.bSigned, t * a.n, a.zb);
    if (a.requantize) a.output[o] = uint8_t(requantize(acc, a.multiplier, a.zy, a.range.lo, a.range.hi));
    else reinterpret_cast<int32_t*>(a.output)[o] = acc;
  }
}

__global__ void layerNormKernel(LayerNormDeviceArgs a, const int64_t* gamma, const int64_t* beta) {
  for (int64_t r = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; r < a.rows; r += int64_t(gridDim.x) * blockDim.x) {
    const uint8_t* src = a.input + r * a.n;
    int64_t s1 = 0, s2 = 0;
    for (int64_t i = 0; i < a.n; ++i) {
      const int64_t c = centred(src, a.inputSigned, i, a.zx);
      s1 += c;
      s2 += c * c;
    }
    const int64_t spread = a.n * s2 - s1 * s1;
    const unsigned __int128 v = ((unsigned __int128)uint64_t(spread) << 32) + (unsigned __int128)(uint64_t(a.n) * uint64_t(a.n)) * a.epsQ32;
    const uint64_t root = isqrt128(v);
    uint8_t* dst = a.output + r * a.n;
    for (int64_t i = 0; i < a.n; ++i) {
      __int128 q;
      if (root == 0) {
        q = roundDivideEvenSigned(beta[i], (unsigned __int128)1 << 24);
      } else {
        const __int128 c = __int128(a.n) * centred(src, a.inputSigned, i, a.zx) - s1;
        q = roundDivideEvenSigned(__int128(gamma[i]) * c * 65536 + __int128(beta[i]) * root, (unsigned __int128)root << 24);
      }
      const __int128 shifted = q + a.zy;
      dst[i] = uint8_t(shifted < a.range.lo ? a.range.lo : (shifted > a.range.hi ? a.range.hi : int32_t(shifted)));
    }
  }
}

}  // namespace

void launchDynamicMatMul(const DynamicMatMulDeviceArgs& a, cudaStream_t stream) {
  dynamicMatMulKernel<<<gridFor(a.batches * a.m * a.n), kBlock, 0, stream>>>(a);
}

void launchLayerNorm(const LayerNormDeviceArgs& a, const int64_t* gamma, const int64_t* beta, cudaStream_t stream) {
  layerNormKernel<<<gridFor(a.rows, 64), 64, 0, stream>>>(a, gamma, beta);
}

}  // namespace bx::cuda
