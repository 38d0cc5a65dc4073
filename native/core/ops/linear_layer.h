// Load-time preparation shared by every op that multiplies activations by constant int8/uint8
// weights (QLinearConv, ConvInteger, QLinearMatMul, MatMulInteger, QGemm): weights packed for the
// model's ISA, the int32 overflow bound proven per output row, and the requantisation multipliers.
#pragma once

#include <vector>

#include "../../cpu/qgemm.h"
#include "../device.h"
#include "../qparams.h"

namespace bx {

struct LinearLayerSpec {
  const uint8_t* weights = nullptr;  // [groups * rowsPerGroup][depth], row-major
  bool weightsSigned = true;
  int64_t groups = 1;
  int64_t rowsPerGroup = 0;
  int64_t depth = 0;
  std::vector<int32_t> weightZeroPoints;  // one per row (raw domain)
  std::vector<int32_t> bias;              // one per row, or empty
  DType inputType = DType::UInt8;
  int32_t inputZeroPoint = 0;  // raw domain
  // int16/uint16 activations and outputs allowed (w8a16; the caller runs the scalar reference)
  bool allowWide = false;
  // Requantised output when set; otherwise int32 accumulators are the output.
  bool requantize = true;
  std::vector<double> realMultipliers;  // one per row: input_scale * weight_scale / output_scale
  DType outputType = DType::UInt8;
  int32_t outputZeroPoint = 0;
};

// The optional activation zero point of ConvInteger / MatMulInteger (input `index`): per tensor
// only; its type is the activation's type (uint8 when absent).
struct IntegerInputZeroPoint {
  DType type = DType::UInt8;
  int32_t value = 0;
};
IntegerInputZeroPoint readIntegerInputZeroPoint(const BuildContext& ctx, size_t index, const char* role);

class LinearLayer {
 public:
  // Throws ERR_BITEXACT_OVERFLOW_BOUND (naming the node and row) when some input could overflow
  // int32, ERR_BITEXACT_INVALID_MODEL for a multiplier that cannot be represented.
  LinearLayer(const BuildContext& ctx, const LinearLayerSpec& spec);

  int64_t groups() const { return groups_; }
  int64_t rowsPerGroup() const { return rowsPerGroup_; }
  int64_t depth() const { return depth_; }
  bool inputSigned() const { return inputType_ == DType::Int8; }
  // 16-bit activations or outputs: no packed kernel, the scalar reference computes the layer
  bool wide() const { return isWideQuantizedType(inputType_) || (requantize_ && isWideQuantizedType(outputType_)); }
  DType inputType() const { return inputType_; }
  DType outputType() const { return requantize_ ? outputType_ : DType::Int32; }
  int32_t inputZeroPoint() const { return inputZeroPoint_; }
  const cpu::PackedWeights& weights(int64_t group) const { return packed_[size_t(group)]; }
  int32_t bias(int64_t group, int64_t row) const { return bias_.empty() ? 0 : bias_[size_t(group * rowsPerGroup_ + row)]; }
  bool requantizes() const { return requantize_; }
  int32_t outputZeroPoint() const { return outputZeroPoint_; }
  // Per-row arrays over all groups (row = group * rowsPerGroup + r); multipliers empty without
  // requantisation.
  const std::vector<int32_t>& rowConstants() const { return rowConstants_; }
  const std::vector<Multiplier>& multipliers() const { return multipliers_; }
  // The device form of one group's GEMM; the caller fills in the activation and output fields.
  LinearDeviceArgs deviceArgs(int64_t group) const;
  // The epilogue for one group writing to `out` with the given strides (in elements).
  cpu::GemmEpilogue epilogue(int64_t group, uint8_t* out, int64_t rowStride, int64_t colStride) const;
  // sum_k (x - zx)(w - zw) + bias for one output, from the plain weights: the scalar reference.
  int32_t referenceDot(int64_t group, int64_t row, const int32_t* centredInputs) const;
  // The same sums for rows [rowBegin, rowBegin + rowCount) of a group and `columns` outputs each,
  // from centred inputs laid out [depth][columns]: acc[r * columns + p] = bias + sum_k (w_k - zw) *
  // centred[k * columns + p] (cpu/wide_accumulate.h; the 16-bit layers' path on every ISA).
  void accumulateColumns(cpu::Isa isa, int64_t group, int64_t rowBegin, int64_t rowCount, const int32_t* centred,
                         int64_t columns, int32_t* acc) const;

 private:
  int64_t groups_, rowsPerGroup_, depth_;
  DType inputType_;
  int32_t inputZeroPoint_;
  bool requantize_;
  DType outputType_;
  int32_t outputZeroPoint_;
  std::vector<cpu::PackedWeights> packed_;
  std::vector<int32_t> bias_;
  std::vector<int32_t> rowConstants_;   // [groups * rowsPerGroup]
  // 16-bit layers: weights minus their zero points [groups * rowsPerGroup][depth]
  std::vector<int32_t> centredWeights_;
  std::vector<Multiplier> multipliers_; // [groups * rowsPerGroup]
};

}  // namespace bx
