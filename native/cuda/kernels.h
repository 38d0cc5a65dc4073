// Kernel launchers of the CUDA backend (kernels_*.cu), called by cuda_context.cu and the GPU
// bench. Every launcher enqueues on `stream` and returns at once; errors surface through
// cudaGetLastError, which the caller checks.
#pragma once

#include <cuda_runtime.h>

#include "../core/device.h"

namespace bx::cuda {

// The GEMM's tile: weights rows x activation columns x depth per thread block.
constexpr int64_t kTileRows = 128;
constexpr int64_t kTileCols = 256;  // columns are padded for the widest kernel (sm_90a)
constexpr int64_t kTileDepth = 64;

inline int64_t roundUp(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

// The one-thread-per-element kernels: blocks of kBlock threads, a grid covering `count` threads
// up to a cap (the kernels loop with a grid stride beyond it).
constexpr int kBlock = 256;
inline dim3 gridFor(int64_t count, int block = kBlock) {
  const int64_t blocks = (count + block - 1) / block;
  return dim3(unsigned(blocks < 65535 * 16 ? (blocks > 0 ? blocks : 1) : 65535 * 16));
}

// A quantized element of any of the four types as an integer, and its store (the low one or two
// bytes encode the signed and unsigned types alike).
__device__ __forceinline__ int32_t loadQuantizedElement(const uint8_t* data, DType type, int64_t i) {
  switch (type) {
    case DType::Int8: return int32_t(int8_t(data[i]));
    case DType::UInt16: return int32_t(reinterpret_cast<const uint16_t*>(data)[i]);
    case DType::Int16: return int32_t(reinterpret_cast<const int16_t*>(data)[i]);
    default: return int32_t(data[i]);
  }
}
__device__ __forceinline__ void storeQuantizedElement(uint8_t* data, bool wide, int64_t i, int32_t v) {
  if (wide) reinterpret_cast<uint16_t*>(data)[i] = uint16_t(v);
  else data[i] = uint8_t(v);
}

// Device copies of one linear layer's constants; weights zero-padded to [rowsPadded][depthPadded].
struct LinearConstants {
  const int8_t* weights = nullptr;
  int64_t rowsPadded = 0, depthPadded = 0;
  const int32_t* zeroPoints = nullptr;
  const int32_t* rowConstants = nullptr;
  const Multiplier* multipliers = nullptr;  // null without requantisation
};

// Activations as the GEMM reads them: [colsPadded][depthPadded] bytes offset to u8 (zero beyond
// the real depth and columns) and the column sums Sa over the real depth.
void launchPackActivations(const LinearDeviceArgs& a, int64_t depthPadded, int64_t colsPadded, uint8_t* packed,
                           int32_t* colSums, cudaStream_t stream);
// Which GEMM kernel runs: all give the same bytes (integer sums are exact in any order).
enum class GemmPath {
  Plain,   // one thread per output (sm_75)
  Mma,     // mma.sync m16n8k32 tensor cores (sm_80 and newer)
  Wgmma,   // warpgroup MMA fed by TMA (compute capability 9.0, sm_90a code)
  Hopper,  // the 9.0 default: Wgmma for GEMMs of at least kWgmmaMinTiles of its tiles, Mma below
};
constexpr int64_t kWgmmaMinTiles = 64;
const char* gemmPathName(GemmPath path);
// The fastest path a device has, unless BITEXACT_CUDA_GEMM=plain|mma|wgmma names one it can run
// (tests and the bench compare them).
GemmPath chooseGemmPath(int major, int minor);

// A 16-bit layer (LinearDeviceArgs::wide): one thread per output, the exact int32 sum from the
// plain weights [rows][depth] (s8 domain), then the epilogue.
void launchWideLinear(const LinearDeviceArgs& a, const int8_t* weights, const int32_t* zeroPoints, const int32_t* bias,
                      const Multiplier* multipliers, cudaStream_t stream);

// out = epilogue(W x packed), on the given path.
void launchGemm(const LinearDeviceArgs& a, const LinearConstants& w, const uint8_t* packed, const int32_t* colSums,
                int64_t colsPadded, GemmPath path, cudaStream_t stream);

void launchDepthwise(const DepthwiseDeviceArgs& a, const int8_t* weights, const int32_t* zeroPoints, const int32_t* bias,
                     const Multiplier* multipliers, cudaStream_t stream);
void launchLut(const LutDeviceArgs& a, const uint8_t* table, cudaStream_t stream);
void launchBinary(const BinaryDeviceArgs& a, cudaStream_t stream);
// firstNonFinite: device word that receives the smallest index of a NaN/Inf input (atomicMin)
// when non-finite inputs are refused; left untouched otherwise.
void launchQuantize(const QuantizeDeviceArgs& a, const float* scales, const int32_t* zeroPoints, bool allowNonFinite,
                    unsigned long long* firstNonFinite, cudaStream_t stream);
void launchDequantize(const DequantizeDeviceArgs& a, const float* scales, const int32_t* zeroPoints, cudaStream_t stream);
void launchMaxPool(const MaxPoolDeviceArgs& a, cudaStream_t stream);
void launchMean(const MeanDeviceArgs& a, cudaStream_t stream);
void launchAxisGather(const AxisGatherDeviceArgs& a, cudaStream_t stream);
void launchSoftmax(const SoftmaxDeviceArgs& a, const uint64_t* exps, cudaStream_t stream);  // masked too
void launchAveragePool(const AveragePoolDeviceArgs& a, const Multiplier* multipliers, cudaStream_t stream);
void launchDynamicMatMul(const DynamicMatMulDeviceArgs& a, cudaStream_t stream);
void launchLayerNorm(const LayerNormDeviceArgs& a, const int64_t* gamma, const int64_t* beta, cudaStream_t stream);

}  // namespace bx::cuda
