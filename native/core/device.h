// The interface between the graph executor / ops (plain C++) and a device backend (native/cuda).
// Nothing here names a CUDA type, so the core builds and runs without the CUDA toolkit; a backend
// implements DeviceBackend and DeviceContext, and every op that has a device kernel describes its
// work through the argument structs below. Ops without a device kernel run on the CPU inside a
// device run (the executor moves their inputs to the host), so every model runs on every backend.
//
// The kernels compute with the integer rules of numerics.h, which they include too: a device run
// must produce exactly the bytes of a CPU run (tests: test/native/cuda_ops.cpp).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "../cpu/qgemm.h"
#include "numerics.h"
#include "tensor.h"

namespace bx {

// A tensor in device memory. `memory` owns the allocation (freed in stream order); views share it.
struct DeviceTensor {
  DType dtype = DType::UInt8;
  Shape shape;
  std::shared_ptr<uint8_t> memory;  // device pointer

  int64_t size() const { return elementCount(shape); }
  size_t byteSize() const { return size_t(size()) * dtypeSize(dtype); }
  uint8_t* data() const { return memory.get(); }
};

// ---- kernel arguments (pointers are device pointers unless named host) --------------------------

// Integer GEMM with constant weights, as the CPU's packed GEMM defines it (cpu/qgemm.h):
//   out[row][col] = epilogue(D[row][col] + rowConstant[row] - zb[row] * Sa[col])
// with D = sum_k w[row][k] * a[k][col] (w in the s8 domain, a offset to u8).
struct LinearDeviceArgs {
  // Weights, host arrays owned by the op (uploaded once per model, keyed by these addresses).
  const int8_t* hostWeights = nullptr;       // [rows][depth], s8 domain (PackedWeights::plain)
  const int32_t* hostZeroPoints = nullptr;   // zb per row, s8 domain
  const int32_t* hostRowConstants = nullptr; // per row
  const Multiplier* hostMultipliers = nullptr;  // per row; null when not requantising
  bool anyWeightZeroPoint = false;
  int64_t rows = 0, depth = 0;
  // 16-bit layers (w8a16: a 16-bit input or output) skip the packed GEMM: one thread per output
  // computes bias + sum_k (x - zx)(w - zw) exactly, as the CPU's scalar reference does.
  bool wide = false;
  const int32_t* hostBias = nullptr;  // per row, or null (wide layers only)
  DType inputType = DType::UInt8;
  int32_t inputZeroPoint = 0;

  // Activations: either a matrix, element (k, col) at input[k*strideK + col*strideCol], or an
  // im2col view of `images` NCHW images (one group's channels) `imageStride` elements apart.
  bool im2col = false;
  const uint8_t* input = nullptr;
  bool inputSigned = false;
  int64_t columns = 0;
  int64_t strideK = 0, strideCol = 0;
  cpu::Conv2dGeometry conv;
  int64_t imageStride = 0;
  uint8_t padByte = 0;  // the raw input zero point, the value of padding

  // Output: column col = image * colsPerImage + p goes to
  //   out[image * imageOutStride + row * rowStride + p * colStride]   (elements)
  bool requantize = true;
  int32_t outputZeroPoint = 0;
  QRange range = kRangeU8;
  bool signedOutput = false;
  bool wideOutput = false;  // uint16/int16 elements (the low two bytes encode both)
  uint8_t* output = nullptr;
  int64_t colsPerImage = 0, imageOutStride = 0, rowStride = 0, colStride = 0;
};

// Depthwise convolution (one input channel and one output row per group), all planes at once.
struct DepthwiseDeviceArgs {
  const int8_t* hostWeights = nullptr;      // [channels][kh*kw], s8 domain
  const int32_t* hostZeroPoints = nullptr;  // per channel, s8 domain
  const int32_t* hostBias = nullptr;        // per channel, or null
  const Multiplier* hostMultipliers = nullptr;  // per channel; null: int32 output
  int64_t channels = 0, batch = 0;
  cpu::Conv2dGeometry conv;  // channels field unused (1 per group)
  const uint8_t* input = nullptr;
  bool inputSigned = false;
  int32_t inputZeroPoint = 0;
  int32_t outputZeroPoint = 0;
  QRange range = kRangeU8;
  bool signedOutput = false;
  uint8_t* output = nullptr;
};

// y[i] = table[channel(i)][x[i] - lowest(inputType)], channel(i) = (i / inner) % channels:
// `entries` (256 for 8-bit inputs, 65536 for 16-bit ones) elements of outputBytes (1 or 2) each.
struct LutDeviceArgs {
  const uint8_t* hostTable = nullptr;  // [channels][entries] elements
  int64_t channels = 1, inner = 1, count = 0;
  int64_t entries = 256;
  DType inputType = DType::UInt8;
  int outputBytes = 1;
  const uint8_t* input = nullptr;
  uint8_t* output = nullptr;
};

// QLinearAdd (pair multiplier) and QLinearMul (single multiplier) with broadcasting over up to
// kMaxRank dims: element i of the output reads a[sum coord_d * stridesA[d]] and likewise b.
struct BinaryDeviceArgs {
  static constexpr int kMaxRank = 8;
  bool multiply = false;
  MultiplierPair pair;  // add
  Multiplier single;    // multiply
  DType typeA = DType::UInt8, typeB = DType::UInt8;  // 8- or 16-bit (16-bit: add only)
  int32_t zeroA = 0, zeroB = 0, zeroY = 0;
  QRange range = kRangeU8;
  bool wideOutput = false;
  int rank = 0;
  int64_t dims[kMaxRank] = {};
  int64_t stridesA[kMaxRank] = {};
  int64_t stridesB[kMaxRank] = {};
  int64_t count = 0;
  const uint8_t* a = nullptr;
  const uint8_t* b = nullptr;
  uint8_t* output = nullptr;
};

// QuantizeLinear float32 -> u8/s8/u16/s16, per tensor or per channel ((i / inner) % channels).
struct QuantizeDeviceArgs {
  const float* hostScales = nullptr;
  const int32_t* hostZeroPoints = nullptr;
  int64_t channels = 1, inner = 1, count = 0;
  DType outputType = DType::UInt8;
  QRange range = kRangeU8;
  const float* input = nullptr;
  uint8_t* output = nullptr;
};

// DequantizeLinear of an integer tensor (u8/s8/u16/s16/int32) to float32.
struct DequantizeDeviceArgs {
  const float* hostScales = nullptr;
  const int32_t* hostZeroPoints = nullptr;
  int64_t channels = 1, inner = 1, count = 0;
  DType inputType = DType::UInt8;
  const uint8_t* input = nullptr;
  float* output = nullptr;
};

// MaxPool over NCHW planes (u8, s8, s16 or float32).
struct MaxPoolDeviceArgs {
  DType dtype = DType::UInt8;
  int64_t planes = 0, inH = 0, inW = 0, outH = 0, outW = 0;
  int64_t kernel[2] = {1, 1}, stride[2] = {1, 1}, dilation[2] = {1, 1}, padBegin[2] = {0, 0};
  const uint8_t* input = nullptr;
  uint8_t* output = nullptr;
};

// A quantised mean over the middle block of an [outer, count, inner] view: the integer sum of
// (x - zx) requantised by `multiplier` (which folds the 1/count).
struct MeanDeviceArgs {
  int64_t outer = 0, count = 0, inner = 0;
  DType inputType = DType::UInt8;  // 8- or 16-bit
  int32_t inputZeroPoint = 0;
  Multiplier multiplier;
  int32_t outputZeroPoint = 0;
  QRange range = kRangeU8;
  bool wideOutput = false;
  const uint8_t* input = nullptr;
  uint8_t* output = nullptr;
};

// Every op that only moves elements (Transpose, Slice, Concat, Gather, Pad, Resize): output
// element at coordinates c goes to output[sum c_d * outStrides[d]] and comes from
// input[sum table[tableStart[d] + c_d]] (offsets in elements), or is `fill` when any of those
// table entries is negative.
struct AxisGatherDeviceArgs {
  static constexpr int kMaxRank = 8;
  int rank = 0;
  int64_t dims[kMaxRank] = {};
  int64_t tableStart[kMaxRank] = {};
  int64_t outStrides[kMaxRank] = {};
  const int64_t* table = nullptr;  // device
  int64_t count = 0;
  int elementSize = 1;  // 1, 2, 4 or 8
  uint8_t fill[8] = {};
  const uint8_t* input = nullptr;
  uint8_t* output = nullptr;
};

// QLinearSoftmax: rows of `length` elements `inner` apart; e = exps[max - x] (Q40) and
// y = quantizeRatio(e, sum e) with the output scale split as numerics.h ScaleParts.
// QLinearMaskedSoftmax adds a keep mask (one byte per position, 0 = dropped) broadcast to the
// input: element i's keep byte is keep[sum coord_d(i) * keepStrides[d]] over the input's dims.
struct SoftmaxDeviceArgs {
  static constexpr int kMaxRank = 8;
  const uint64_t* hostExps = nullptr;  // [expCount]: 256 for 8-bit inputs, 65536 for 16-bit
  int64_t expCount = 256;
  int64_t outer = 0, length = 0, inner = 0;
  DType inputType = DType::UInt8;
  ScaleParts outputScale;
  int32_t outputZeroPoint = 0;
  QRange range = kRangeU8;
  bool wideOutput = false;
  const uint8_t* keep = nullptr;  // null: unmasked
  int rank = 0;
  int64_t dims[kMaxRank] = {};
  int64_t keepStrides[kMaxRank] = {};
  const uint8_t* input = nullptr;
  uint8_t* output = nullptr;
};

// QLinearAveragePool over NCHW planes: acc = sum (x - zx) over the window's inside elements,
// divisor = inside count or (count_include_pad) the window clipped to the padded input, and
// y = requantize(acc, multipliers[divisor]) (one multiplier per possible divisor, from the host).
struct AveragePoolDeviceArgs {
  const Multiplier* hostMultipliers = nullptr;  // [kernel[0] * kernel[1] + 1], index = divisor
  int64_t planes = 0, inH = 0, inW = 0, outH = 0, outW = 0;
  int64_t kernel[2] = {1, 1}, stride[2] = {1, 1}, padBegin[2] = {0, 0}, padEnd[2] = {0, 0};
  bool includePad = false;
  bool inputSigned = false;
  int32_t inputZeroPoint = 0, outputZeroPoint = 0;
  QRange range = kRangeU8;
  const uint8_t* input = nullptr;
  uint8_t* output = nullptr;
};

// QLinearMatMul / MatMulInteger with a run-time B: per batch, A and B offsets (elements, device
// tables); acc = sum_k (a - za)(b - zb), requantised or stored as int32.
struct DynamicMatMulDeviceArgs {
  int64_t batches = 0, m = 0, k = 0, n = 0;
  const int64_t* aOffsets = nullptr;
  const int64_t* bOffsets = nullptr;
  bool aSigned = false, bSigned = false;
  int32_t za = 0, zb = 0;
  bool requantize = true;
  Multiplier multiplier;
  int32_t zy = 0;
  QRange range = kRangeU8;
  const uint8_t* a = nullptr;
  const uint8_t* b = nullptr;
  uint8_t* output = nullptr;
};

// bitexact::QLinearLayerNorm: rows of n centred inputs (ops_layernorm.cpp has the formula).
struct LayerNormDeviceArgs {
  const int64_t* hostGamma = nullptr;  // [n], Q24 multiples of the output scale
  const int64_t* hostBeta = nullptr;   // [n]
  uint64_t epsQ32 = 0;
  int64_t rows = 0, n = 0;
  bool inputSigned = false;
  int32_t zx = 0, zy = 0;
  QRange range = kRangeU8;
  const uint8_t* input = nullptr;
  uint8_t* output = nullptr;
};

// Per-run device state: one stream, stream-ordered allocations, the model's cached constants.
class DeviceContext {
 public:
  virtual ~DeviceContext() = default;
  // Uninitialised device memory; ERR_BITEXACT_RESOURCE beyond the run's memory cap.
  virtual DeviceTensor allocate(DType dtype, const Shape& shape) = 0;
  virtual DeviceTensor upload(const Tensor& host) = 0;
  // Waits for the stream, except for bytes this run uploaded (or a model constant): those come
  // back from the host copy, so ops can read small index inputs (Gather, Slice) cheaply.
  virtual Tensor download(const DeviceTensor& device) = 0;
  // A model constant (initializer or folded value), uploaded once per model and cached.
  virtual DeviceTensor constant(const Tensor& host) = 0;
  virtual bool allowNonFinite() const = 0;

  virtual void linear(const LinearDeviceArgs& args) = 0;
  virtual void depthwise(const DepthwiseDeviceArgs& args) = 0;
  virtual void lut(const LutDeviceArgs& args) = 0;
  virtual void binary(const BinaryDeviceArgs& args) = 0;
  // Fails with ERR_BITEXACT_INPUT naming `where` when a non-finite input is refused.
  virtual void quantize(const QuantizeDeviceArgs& args, const std::string& where) = 0;
  virtual void dequantize(const DequantizeDeviceArgs& args) = 0;
  virtual void maxPool(const MaxPoolDeviceArgs& args) = 0;
  virtual void mean(const MeanDeviceArgs& args) = 0;
  virtual void axisGather(const AxisGatherDeviceArgs& args) = 0;
  virtual void softmax(const SoftmaxDeviceArgs& args) = 0;
  virtual void averagePool(const AveragePoolDeviceArgs& args) = 0;
  virtual void dynamicMatMul(const DynamicMatMulDeviceArgs& args) = 0;
  virtual void layerNorm(const LayerNormDeviceArgs& args) = 0;
};

// Constants of one model on one device (weights, tables): created by the backend, owned by the
// CompiledModel, freed with it.
class DeviceConstants {
 public:
  virtual ~DeviceConstants() = default;
};

// One usable device.
class DeviceBackend {
 public:
  virtual ~DeviceBackend() = default;
  virtual std::string name() const = 0;  // "cuda:0 (NVIDIA H100 80GB HBM3)"
  virtual int index() const = 0;
  virtual std::unique_ptr<DeviceConstants> newConstants() = 0;
  virtual std::unique_ptr<DeviceContext> beginRun(DeviceConstants& constants, int64_t memoryCapBytes,
                                                  bool allowNonFinite) = 0;
};

}  // namespace bx
