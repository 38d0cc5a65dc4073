// Elementwise, lookup, pooling and depthwise kernels: one thread per output element, each
// computing exactly what the CPU op computes for that element (same numerics.h functions, same
// binary32 operations, compiled with --fmad=false so no multiply-add is contracted).
#include <cstdint>

#include "kernels.h"

namespace bx::cuda {
namespace {

#define BX_GRID_STRIDE(i, count) \
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < (count); i += int64_t(gridDim.x) * blockDim.x)

__device__ __forceinline__ int32_t loadQuantized(const uint8_t* data, bool isSigned, int64_t i) {
  return isSigned ? int32_t(int8_t(data[i])) : int32_t(data[i]);
}

__global__ void depthwiseKernel(DepthwiseDeviceArgs a, const int8_t* weights, const int32_t* zeroPoints,
                                const int32_t* bias, const Multiplier* multipliers) {
  const cpu::Conv2dGeometry& g = a.conv;
  const int64_t outPlane = g.outH * g.outW, inPlane = g.inH * g.inW;
  const int64_t window = g.kernelH * g.kernelW;
  BX_GRID_STRIDE(i, a.batch * a.channels * outPlane) {
    const int64_t plane = i / outPlane, p = i - plane * outPlane;
    const int64_t c = plane % a.channels;
    const int64_t oy = p / g.outW, ox = p - oy * g.outW;
    const uint8_t* image = a.input + plane * inPlane;
    const int8_t* w = weights + c * window;
    const int32_t zw = zeroPoints[c];
    // Exact: the load-time bound keeps bias + sum within int32.
    int32_t acc = bias ? bias[c] : 0;
    for (int64_t ky = 0; ky < g.kernelH; ++ky) {
      const int64_t iy = oy * g.strideH - g.padTop + ky * g.dilationH;
      if (iy < 0 || iy >= g.inH) continue;
      for (int64_t kx = 0; kx < g.kernelW; ++kx) {
        const int64_t ix = ox * g.strideW - g.padLeft + kx * g.dilationW;
        if (ix < 0 || ix >= g.inW) continue;
        acc += (loadQuantized(image, a.inputSigned, iy * g.inW + ix) - a.inputZeroPoint) * (int32_t(w[ky * g.kernelW + kx]) - zw);
      }
    }
    if (!multipliers) {
      reinterpret_cast<int32_t*>(a.output)[i] = acc;
    } else {
      a.output[i] = uint8_t(requantize(acc, multipliers[c], a.outputZeroPoint, a.range.lo, a.range.hi));
    }
  }
}

__global__ void lutKernel(LutDeviceArgs a, const uint8_t* table) {
  // int8 -128 and int16 -32768 are entry 0
  const int32_t lowest = a.inputType == DType::Int8 ? -128 : (a.inputType == DType::Int16 ? -32768 : 0);
  BX_GRID_STRIDE(i, a.count) {
    const int64_t c = a.channels > 1 ? (i / a.inner) % a.channels : 0;
    const int64_t entry = c * a.entries + (loadQuantizedElement(a.input, a.inputType, i) - lowest);
    if (a.outputBytes == 2) reinterpret_cast<uint16_t*>(a.output)[i] = reinterpret_cast<const uint16_t*>(table)[entry];
    else a.output[i] = table[entry];
  }
}

__global__ void binaryKernel(BinaryDeviceArgs a) {
  BX_GRID_STRIDE(i, a.count) {
    int64_t rest = i, ia = 0, ib = 0;
    for (int d = a.rank - 1; d >= 0; --d) {
      const int64_t coord = rest % a.dims[d];
      rest /= a.dims[d];
      ia += coord * a.stridesA[d];
      ib += coord * a.stridesB[d];
    }
    const int32_t x = loadQuantizedElement(a.a, a.typeA, ia) - a.zeroA;
    const int32_t y = loadQuantizedElement(a.b, a.typeB, ib) - a.zeroB;
    // 16-bit add: |x|, |y| <= 65535 and multipliers < 2^32 keep the pair's sum below 2^50
    const int64_t v = a.multiply ? applyMultiplier(x * y, a.single) : applyMultiplierPair(x, y, a.pair);
    storeQuantizedElement(a.output, a.wideOutput, i, saturate(v + a.zeroY, a.range.lo, a.range.hi));
  }
}

// numerics.h quantizeFloat: one binary32 division, round half to even, add the zero point, clamp.
__device__ __forceinline__ int32_t quantizeOne(float x, float scale, int32_t zeroPoint, QRange range) {
  const float quotient = __fdiv_rn(x, scale);
  const double d = double(quotient);
  // rint rounds half to even in the default rounding mode; |d| >= 2^23 is already integral.
  const double rounded = (fabs(d) < 8388608.0 ? rint(d) : d) + double(zeroPoint);
  if (rounded <= double(range.lo)) return range.lo;
  if (rounded >= double(range.hi)) return range.hi;
  return int32_t(rounded);
}

__global__ void quantizeKernel(QuantizeDeviceArgs a, const float* scales, const int32_t* zeroPoints, bool allowNonFinite,
                               unsigned long long* firstNonFinite) {
  BX_GRID_STRIDE(i, a.count) {
    const int64_t c = a.channels > 1 ? (i / a.inner) % a.channels : 0;
    const float v = a.input[i];
    if (!isfinite(v) && !allowNonFinite) atomicMin(firstNonFinite, (unsigned long long)i);
    // NaN reaches the output only with allowNonFinite; it maps to the zero point.
    const int32_t q = isnan(v) ? zeroPoints[c] : quantizeOne(v, scales[c], zeroPoints[c], a.range);
    switch (a.outputType) {
      case DType::UInt8: a.output[i] = uint8_t(q); break;
      case DType::Int8: reinterpret_cast<int8_t*>(a.output)[i] = int8_t(q); break;
      case DType::UInt16: reinterpret_cast<uint16_t*>(a.output)[i] = uint16_t(q); break;
      default: reinterpret_cast<int16_t*>(a.output)[i] = int16_t(q); break;
    }
  }
}

__global__ void dequantizeKernel(DequantizeDeviceArgs a, const float* scales, const int32_t* zeroPoints) {
  BX_GRID_STRIDE(i, a.count) {
    const int64_t c = a.channels > 1 ? (i / a.inner) % a.channels : 0;
    int64_t x;
    switch (a.inputType) {
      case DType::UInt8: x = a.input[i]; break;
      case DType::Int8: x = reinterpret_cast<const int8_t*>(a.input)[i]; break;
      case DType::UInt16: x = reinterpret_cast<const uint16_t*>(a.input)[i]; break;
      case DType::Int16: x = reinterpret_cast<const int16_t*>(a.input)[i]; break;
      default: x = reinterpret_cast<const int32_t*>(a.input)[i]; break;
    }
    // numerics.h dequantizeToFloat: one conversion to binary32, one binary32 multiply.
    a.output[i] = __fmul_rn(__ll2float_rn(x - zeroPoints[c]), scales[c]);
  }
}

// std::numeric_limits<T>::lowest(): what the CPU's MaxPool leaves for a window with no input.
__device__ __forceinline__ uint8_t lowestOf(uint8_t) { return 0; }
__device__ __forceinline__ int8_t lowestOf(int8_t) { return -128; }
__device__ __forceinline__ int16_t lowestOf(int16_t) { return -32768; }
__device__ __forceinline__ float lowestOf(float) { return -3.40282346638528859812e+38f; }

template <typename T>
__global__ void maxPoolKernel(MaxPoolDeviceArgs a) {
  const T* x = reinterpret_cast<const T*>(a.input);
  T* y = reinterpret_cast<T*>(a.output);
  const int64_t outPlane = a.outH * a.outW;
  BX_GRID_STRIDE(i, a.planes * outPlane) {
    const int64_t plane = i / outPlane, p = i - plane * outPlane;
    const int64_t oy = p / a.outW, ox = p - oy * a.outW;
    const T* src = x + plane * a.inH * a.inW;
    T best = T(0);
    bool any = false;
    for (int64_t ky = 0; ky < a.kernel[0]; ++ky) {
      const int64_t iy = oy * a.stride[0] - a.padBegin[0] + ky * a.dilation[0];
      if (iy < 0 || iy >= a.inH) continue;
      for (int64_t kx = 0; kx < a.kernel[1]; ++kx) {
        const int64_t ix = ox * a.stride[1] - a.padBegin[1] + kx * a.dilation[1];
        if (ix < 0 || ix >= a.inW) continue;
        const T v = src[iy * a.inW + ix];
        // NaN never wins, as on the CPU.
        if (!any || v > best) { best = v; any = true; }
      }
    }
    if (!any) best = lowestOf(T(0));
    y[i] = best;
  }
}

__global__ void meanKernel(MeanDeviceArgs a) {
  BX_GRID_STRIDE(i, a.outer * a.inner) {
    const int64_t o = i / a.inner, in = i - o * a.inner;
    // Exact: the plan bounds count * max|x - zx| within int32.
    int32_t sum = 0;
    for (int64_t k = 0; k < a.count; ++k) sum += loadQuantizedElement(a.input, a.inputType, o * a.count * a.inner + in + k * a.inner) - a.inputZeroPoint;
    storeQuantizedElement(a.output, a.wideOutput, i, requantize(sum, a.multiplier, a.outputZeroPoint, a.range.lo, a.range.hi));
  }
}

}  // namespace

void launchDepthwise(const DepthwiseDeviceArgs& a, const int8_t* weights, const int32_t* zeroPoints, const int32_t* bias,
                     const Multiplier* multipliers, cudaStream_t stream) {
  const int64_t count = a.batch * a.channels * a.conv.outH * a.conv.outW;
  depthwiseKernel<<<gridFor(count), kBlock, 0, stream>>>(a, weights, zeroPoints, bias, multipliers);
}

void launchLut(const LutDeviceArgs& a, const uint8_t* table, cudaStream_t stream) {
  lutKernel<<<gridFor(a.count), kBlock, 0, stream>>>(a, table);
}

void launchBinary(const BinaryDeviceArgs& a, cudaStream_t stream) { binaryKernel<<<gridFor(a.count), kBlock, 0, stream>>>(a); }

void launchQuantize(const QuantizeDeviceArgs& a, const float* scales, const int32_t* zeroPoints, bool allowNonFinite,
                    unsigned long long* firstNonFinite, cudaStream_t stream) {
  quantizeKernel<<<gridFor(a.count), kBlock, 0, stream>>>(a, scales, zeroPoints, allowNonFinite, firstNonFinite);
}

void launchDequantize(const DequantizeDeviceArgs& a, const float* scales, const int32_t* zeroPoints, cudaStream_t stream) {
  dequantizeKernel<<<gridFor(a.count), kBlock, 0, stream>>>(a, scales, zeroPoints);
}

void launchMaxPool(const MaxPoolDeviceArgs& a, cudaStream_t stream) {
  const dim3 grid = gridFor(a.planes * a.outH * a.outW);
  switch (a.dtype) {
    case DType::UInt8: maxPoolKernel<uint8_t><<<grid, kBlock, 0, stream>>>(a); break;
    case DType::Int8: maxPoolKernel<int8_t><<<grid, kBlock, 0, stream>>>(a); break;
    case DType::Int16: maxPoolKernel<int16_t><<<grid, kBlock, 0, stream>>>(a); break;
    default: maxPoolKernel<float><<<grid, kBlock, 0, stream>>>(a); break;
  }
}

void launchMean(const MeanDeviceArgs& a, cudaStream_t stream) { meanKernel<<<gridFor(a.outer * a.inner), kBlock, 0, stream>>>(a); }

}  // namespace bx::cuda
