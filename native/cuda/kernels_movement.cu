// Kernels of the ops that move elements (Transpose, Slice, Concat, Gather, Pad, Resize: one
// table-driven gather) and of the two window/row reductions with their own integer rules
// (QLinearSoftmax, QLinearAveragePool).
#include <climits>
#include <cstdint>

#include "kernels.h"

namespace bx::cuda {
namespace {

template <typename T>
__global__ void axisGatherKernel(AxisGatherDeviceArgs a) {
  const T* x = reinterpret_cast<const T*>(a.input);
  T* y = reinterpret_cast<T*>(a.output);
  T fill;
  memcpy(&fill, a.fill, sizeof(T));
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < a.count; i += int64_t(gridDim.x) * blockDim.x) {
    int64_t rest = i, src = 0, dst = 0;
    bool inside = true;
    for (int d = a.rank - 1; d >= 0; --d) {
      const int64_t c = rest % a.dims[d];
      rest /= a.dims[d];
      const int64_t offset = a.table[a.tableStart[d] + c];
      inside = inside && offset >= 0;
      src += offset;
      dst += c * a.outStrides[d];
    }
    y[dst] = inside ? x[src] : fill;
  }
}

// The keep byte of input element e of a masked softmax (SoftmaxDeviceArgs::keepStrides).
__device__ __forceinline__ bool keptAt(const SoftmaxDeviceArgs& a, int64_t e) {
  int64_t rest = e, k = 0;
  for (int d = a.rank - 1; d >= 0; --d) {
    k += (rest % a.dims[d]) * a.keepStrides[d];
    rest /= a.dims[d];
  }
  return a.keep[k] != 0;
}

// One thread per row: the row maximum, the Q40 sum of exps, then each quantised ratio (the CPU
// op's loop: ops_softmax.cpp). Masked rows leave dropped positions out of the maximum and the
// sum and write the zero point there; a row with every position dropped counts them all.
__global__ void softmaxKernel(SoftmaxDeviceArgs a, const uint64_t* exps) {
  const int32_t zero = quantizeRatioParts(0, 1, a.outputScale, a.outputZeroPoint, a.range);
  for (int64_t row = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; row < a.outer * a.inner; row += int64_t(gridDim.x) * blockDim.x) {
    const int64_t base = (row / a.inner) * a.length * a.inner + row % a.inner;
    const auto at = [&](int64_t i) { return loadQuantizedElement(a.input, a.inputType, base + i * a.inner); };
    bool whole = true;
    for (int64_t i = 0; i < a.length && a.keep && whole; ++i) whole = !keptAt(a, base + i * a.inner);
    const auto kept = [&](int64_t i) { return whole || keptAt(a, base + i * a.inner); };
    int32_t maxValue = INT_MIN;
    for (int64_t i = 0; i < a.length; ++i) if (kept(i)) maxValue = max(maxValue, at(i));
    uint64_t sum = 0;  // < 2^22 * 2^40
    for (int64_t i = 0; i < a.length; ++i) if (kept(i)) sum += exps[maxValue - at(i)];
    for (int64_t i = 0; i < a.length; ++i) {
      const int32_t v = kept(i) ? quantizeRatioParts(exps[maxValue - at(i)], sum, a.outputScale, a.outputZeroPoint, a.range) : zero;
      storeQuantizedElement(a.output, a.wideOutput, base + i * a.inner, v);
    }
  }
}

__global__ void averagePoolKernel(AveragePoolDeviceArgs a, const Multiplier* multipliers) {
  const int64_t outPlane = a.outH * a.outW;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < a.planes * outPlane; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t plane = i / outPlane, p = i - plane * outPlane;
    const int64_t oy = p / a.outW, ox = p - oy * a.outW;
    const uint8_t* src = a.input + plane * a.inH * a.inW;
    const int64_t y0 = oy * a.stride[0] - a.padBegin[0];
    const int64_t y1 = min(y0 + a.kernel[0], a.inH + a.padEnd[0]);
    const int64_t x0 = ox * a.stride[1] - a.padBegin[1];
    const int64_t x1 = min(x0 + a.kernel[1], a.inW + a.padEnd[1]);
    int32_t acc = 0;
    int64_t inside = 0;
    for (int64_t iy = max(int64_t(0), y0); iy < min(y1, a.inH); ++iy) {
      for (int64_t ix = max(int64_t(0), x0); ix < min(x1, a.inW); ++ix) {
        const uint8_t b = src[iy * a.inW + ix];
        acc += (a.inputSigned ? int32_t(int8_t(b)) : int32_t(b)) - a.inputZeroPoint;
        ++inside;
      }
    }
    const int64_t divisor = a.includePad ? (y1 - y0) * (x1 - x0) : inside;
    // The host checked every reachable divisor (1 .. kernel area) is representable.
    a.output[i] = uint8_t(requantize(acc, multipliers[divisor], a.outputZeroPoint, a.range.lo, a.range.hi));
  }
}

}  // namespace

void launchAxisGather(const AxisGatherDeviceArgs& a, cudaStream_t stream) {
  const dim3 grid = gridFor(a.count);
  switch (a.elementSize) {
    case 1: axisGatherKernel<uint8_t><<<grid, kBlock, 0, stream>>>(a); break;
    case 2: axisGatherKernel<uint16_t><<<grid, kBlock, 0, stream>>>(a); break;
    case 4: axisGatherKernel<uint32_t><<<grid, kBlock, 0, stream>>>(a); break;
    default: axisGatherKernel<uint64_t><<<grid, kBlock, 0, stream>>>(a); break;
  }
}

void launchSoftmax(const SoftmaxDeviceArgs& a, const uint64_t* exps, cudaStream_t stream) {
  softmaxKernel<<<gridFor(a.outer * a.inner), kBlock, 0, stream>>>(a, exps);
}

void launchAveragePool(const AveragePoolDeviceArgs& a, const Multiplier* multipliers, cudaStream_t stream) {
  averagePoolKernel<<<gridFor(a.planes * a.outH * a.outW), kBlock, 0, stream>>>(a, multipliers);
}

}  // namespace bx::cuda
