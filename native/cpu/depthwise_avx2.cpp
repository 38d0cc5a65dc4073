// The depthwise kernel, built with -mavx2 so the compiler vectorises its int32 loops. Only used
// on CPUs with AVX2 (every vector ISA path here implies it); the scalar ISA uses the reference.
#include "depthwise.h"

namespace bx::cpu {
namespace {

// Padding positions hold the input zero point, a real 0, so they contribute nothing and are
// skipped. One output row at a time, all taps, so the row's accumulators stay in L1.
template <typename T>
void accumulateTyped(const DepthwisePlane& p, int32_t* acc) {
  const Conv2dGeometry& g = p.g;
  const T* x = reinterpret_cast<const T*>(p.image);
  const int32_t zx = p.inputZeroPoint;
  // Per kernel column: the output columns whose input column lies inside the row, and the shift
  // from output to input column (computed once, not per row).
  constexpr int64_t kMaxKernelWidth = 64;
  int64_t oxBegin[kMaxKernelWidth], oxEnd[kMaxKernelWidth], shift[kMaxKernelWidth];
  const int64_t kernelW = g.kernelW < kMaxKernelWidth ? g.kernelW : kMaxKernelWidth;
  for (int64_t kx = 0; kx < kernelW; ++kx) {
    shift[kx] = kx * g.dilationW - g.padLeft;
    oxBegin[kx] = shift[kx] >= 0 ? 0 : (-shift[kx] + g.strideW - 1) / g.strideW;
    oxEnd[kx] = g.inW - 1 - shift[kx] < 0 ? 0 : (g.inW - 1 - shift[kx]) / g.strideW + 1;
    if (oxEnd[kx] > g.outW) oxEnd[kx] = g.outW;
  }
  for (int64_t oy = 0; oy < g.outH; ++oy) {
    int32_t* out = acc + oy * g.outW;
    for (int64_t ox = 0; ox < g.outW; ++ox) out[ox] = p.bias;
    for (int64_t ky = 0; ky < g.kernelH; ++ky) {
      const int64_t iy = oy * g.strideH - g.padTop + ky * g.dilationH;
      if (iy < 0 || iy >= g.inH) continue;
      const T* row = x + iy * g.inW;  // input column of output ox: ox*strideW + shift
      for (int64_t kx = 0; kx < kernelW; ++kx) {
        const int32_t w = int32_t(p.weights[ky * g.kernelW + kx]) - p.weightZeroPoint;
        if (w == 0) continue;
        const int64_t s = shift[kx];
        if (g.strideW == 1) {
          for (int64_t ox = oxBegin[kx]; ox < oxEnd[kx]; ++ox) out[ox] += w * (int32_t(row[ox + s]) - zx);
        } else {
          for (int64_t ox = oxBegin[kx]; ox < oxEnd[kx]; ++ox) out[ox] += w * (int32_t(row[ox * g.strideW + s]) - zx);
        }
      }
    }
  }
}

}  // namespace

void depthwiseAccumulateAvx2(const DepthwisePlane& p, int32_t* acc) {
  if (p.signedInput) accumulateTyped<int8_t>(p, acc);
  else accumulateTyped<uint8_t>(p, acc);
}

}  // namespace bx::cpu
