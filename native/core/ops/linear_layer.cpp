#include "linear_layer.h"

#include "../../cpu/wide_accumulate.h"

#include <cstdlib>

namespace bx {

IntegerInputZeroPoint readIntegerInputZeroPoint(const BuildContext& ctx, size_t index, const char* role) {
  IntegerInputZeroPoint zp;
  if (!ctx.hasInput(index)) return zp;
  const Tensor& z = ctx.requireConstant(index, role);
  if (z.size() != 1) ctx.unsupported(std::string("a ") + role + " per row or channel");
  zp.type = z.dtype;
  zp.value = int32_t(z.intAt(0));
  return zp;
}

LinearLayer::LinearLayer(const BuildContext& ctx, const LinearLayerSpec& s)
    : groups_(s.groups), rowsPerGroup_(s.rowsPerGroup), depth_(s.depth), inputType_(s.inputType),
      inputZeroPoint_(s.inputZeroPoint), requantize_(s.requantize), outputType_(s.outputType),
      outputZeroPoint_(s.outputZeroPoint), bias_(s.bias) {
  const auto supported = [&](DType t) { return t == DType::UInt8 || t == DType::Int8 || (s.allowWide && isWideQuantizedType(t)); };
  const char* types = s.allowWide ? "uint8, int8, uint16 or int16" : "uint8 or int8";
  if (!supported(inputType_)) ctx.unsupported(std::string("input type ") + dtypeName(inputType_) + " is not supported (" + types + ")");
  if (requantize_ && !supported(outputType_)) {
    ctx.unsupported(std::string("output type ") + dtypeName(outputType_) + " is not supported (" + types + ")");
  }
  const int64_t rows = groups_ * rowsPerGroup_;
  const int64_t maxInput = maxCenteredMagnitude(rangeOf(inputType_), inputZeroPoint_);
  // Contract rule 4: |acc| <= sum_k |w - zw| * max|x - zx| + |bias| must fit in int32 for every
  // possible input, proven here from the actual weights.
  for (int64_t r = 0; r < rows; ++r) {
    int64_t weightMass = 0;
    for (int64_t k = 0; k < depth_; ++k) {
      const int32_t w = quantizedAt(s.weights, s.weightsSigned, r * depth_ + k);
      weightMass += std::llabs(int64_t(w) - s.weightZeroPoints[size_t(r)]);
    }
    const int64_t bound = weightMass * maxInput + (bias_.empty() ? 0 : std::llabs(int64_t(bias_[size_t(r)])));
    if (bound > kInt32Max) {
      ctx.overflow("output channel " + std::to_string(r) + " can reach |acc| = " + std::to_string(bound) +
                   " > 2^31-1 (K = " + std::to_string(depth_) + "); bitexact refuses models that could overflow int32");
    }
  }
  const int32_t activationZeroPoint = inputZeroPoint_ + (inputType_ == DType::Int8 ? 128 : 0);
  for (int64_t g = 0; g < groups_; ++g) {
    std::vector<int32_t> zps(s.weightZeroPoints.begin() + g * rowsPerGroup_,
                             s.weightZeroPoints.begin() + (g + 1) * rowsPerGroup_);
    // 16-bit layers run the scalar reference on every ISA: no packed copy of their weights
    packed_.push_back(cpu::packWeights(wide() ? cpu::Isa::Scalar : ctx.isa, s.weights + g * rowsPerGroup_ * depth_, s.weightsSigned,
                                       rowsPerGroup_, depth_, zps));
    std::vector<int32_t> groupBias;
    if (!bias_.empty()) groupBias.assign(bias_.begin() + g * rowsPerGroup_, bias_.begin() + (g + 1) * rowsPerGroup_);
    const std::vector<int32_t> constants = cpu::makeRowConstants(packed_.back(), activationZeroPoint, groupBias);
    rowConstants_.insert(rowConstants_.end(), constants.begin(), constants.end());
  }
  if (wide()) {
    for (int64_t g = 0; g < groups_; ++g) {
      const cpu::PackedWeights& w = packed_[size_t(g)];
      for (int64_t r = 0; r < rowsPerGroup_; ++r) {
        for (int64_t k = 0; k < depth_; ++k) centredWeights_.push_back(int32_t(w.plain[size_t(r * depth_ + k)]) - w.zeroPoints[size_t(r)]);
      }
    }
  }
  if (requantize_) {
    for (int64_t r = 0; r < rows; ++r) {
      Multiplier m;
      if (!deriveMultiplier(s.realMultipliers[size_t(r)], &m)) {
        ctx.invalid("requantisation multiplier " + std::to_string(s.realMultipliers[size_t(r)]) + " for output channel " +
                    std::to_string(r) + " cannot be represented (must be finite, >= 0 and < 2^30)");
      }
      multipliers_.push_back(m);
    }
  }
}

cpu::GemmEpilogue LinearLayer::epilogue(int64_t group, uint8_t* out, int64_t rowStride, int64_t colStride) const {
  cpu::GemmEpilogue e;
  e.rowConstant = rowConstants_.data() + group * rowsPerGroup_;
  e.requantize = requantize_;
  e.multipliers = requantize_ ? multipliers_.data() + group * rowsPerGroup_ : nullptr;
  e.outputZeroPoint = outputZeroPoint_;
  e.range = rangeOf(outputType_);
  e.signedOutput = outputType_ == DType::Int8;
  e.wideOutput = isWideQuantizedType(outputType_);
  e.out = out;
  e.rowStride = rowStride;
  e.colStride = colStride;
  return e;
}

LinearDeviceArgs LinearLayer::deviceArgs(int64_t group) const {
  const cpu::PackedWeights& w = packed_[size_t(group)];
  LinearDeviceArgs a;
  a.hostWeights = w.plain.data();
  a.hostZeroPoints = w.zeroPoints.data();
  a.hostRowConstants = rowConstants_.data() + group * rowsPerGroup_;
  a.hostMultipliers = requantize_ ? multipliers_.data() + group * rowsPerGroup_ : nullptr;
  a.anyWeightZeroPoint = w.anyZeroPoint;
  a.rows = rowsPerGroup_;
  a.depth = depth_;
  a.wide = wide();
  a.hostBias = bias_.empty() ? nullptr : bias_.data() + group * rowsPerGroup_;
  a.inputType = inputType_;
  a.inputZeroPoint = inputZeroPoint_;
  a.inputSigned = inputType_ == DType::Int8;
  a.padByte = uint8_t(inputZeroPoint_);
  a.requantize = requantize_;
  a.outputZeroPoint = outputZeroPoint_;
  a.range = rangeOf(outputType_);
  a.signedOutput = outputType_ == DType::Int8;
  a.wideOutput = requantize_ && isWideQuantizedType(outputType_);
  return a;
}

int32_t LinearLayer::referenceDot(int64_t group, int64_t row, const int32_t* centred) const {
  const cpu::PackedWeights& w = packed_[size_t(group)];
  const int32_t zb = w.zeroPoints[size_t(row)];
  const int8_t* b = w.plain.data() + row * depth_;
  int64_t acc = bias_.empty() ? 0 : bias_[size_t(group * rowsPerGroup_ + row)];
  for (int64_t k = 0; k < depth_; ++k) acc += int64_t(centred[k]) * (int32_t(b[k]) - zb);
  if (acc > kInt32Max || acc < -kInt32Max - 1) fail(ErrorCode::Internal, "accumulator escaped its proven bound");
  return int32_t(acc);
}

void LinearLayer::accumulateColumns(cpu::Isa isa, int64_t group, int64_t rowBegin, int64_t rowCount, const int32_t* centred,
                                    int64_t columns, int32_t* acc) const {
  const int64_t first = group * rowsPerGroup_ + rowBegin;
  const int32_t* w = centredWeights_.data() + first * depth_;
  const int32_t* start = bias_.empty() ? nullptr : bias_.data() + first;
  if (isa == cpu::Isa::Scalar) cpu::wideAccumulate(w, start, rowCount, depth_, centred, columns, acc);
  else cpu::wideAccumulateAvx2(w, start, rowCount, depth_, centred, columns, acc);  // every vector ISA here has AVX2
}

}  // namespace bx
