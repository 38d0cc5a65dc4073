// bitexact::AttentionMaskKeep: the keep mask of an attention mask (attention_mask.h). Each mask
// element is converted to binary32 (round to nearest even) and put through the recorded steps
// (binary32 basic operations: the same bits on every machine). Mode AdditiveBias: a result of 0
// keeps the position (1), one <= kMaskedBias drops it (0), anything else is refused. Modes
// KeepWhenTrue / KeepWhenFalse: a Where condition, non-zero meaning true.
#include <cmath>

#include "../attention_mask.h"
#include "ops_common.h"

namespace bx {
namespace {

float elementAsFloat(const Tensor& t, int64_t i) {
  switch (t.dtype) {
    case DType::Float32: return t.data<float>()[i];
    case DType::Int64: return float(t.data<int64_t>()[i]);
    case DType::Int32: return float(t.data<int32_t>()[i]);
    case DType::UInt8: case DType::Bool: return float(t.data<uint8_t>()[i]);
    case DType::Int8: return float(t.data<int8_t>()[i]);
    case DType::UInt16: return float(t.data<uint16_t>()[i]);
    case DType::Int16: return float(t.data<int16_t>()[i]);
  }
  return NAN;
}

class AttentionMaskKeepOp : public Op {
 public:
  AttentionMaskKeepOp(std::vector<int64_t> steps, std::vector<int64_t> constantFirst, std::vector<float> constants, MaskMode mode,
                      std::string where)
      : steps_(std::move(steps)), constantFirst_(std::move(constantFirst)), constants_(std::move(constants)), mode_(mode),
        where_(std::move(where)) {}

  void run(ExecContext& ctx, const std::vector<const Tensor*>& in, std::vector<Tensor>& out) const override {
    const Tensor& mask = *in[0];
    Tensor keep = ctx.allocate(DType::UInt8, mask.shape);
    uint8_t* dst = keep.mutableData<uint8_t>();
    for (int64_t i = 0; i < mask.size(); ++i) {
      const float v = evaluate(elementAsFloat(mask, i));
      if (mode_ == MaskMode::KeepWhenTrue || mode_ == MaskMode::KeepWhenFalse) {
        dst[i] = uint8_t((v != 0.0f) == (mode_ == MaskMode::KeepWhenTrue) ? 1 : 0);
      } else if (v == 0.0f) {
        dst[i] = 1;
      } else if (v <= kMaskedBias) {
        dst[i] = 0;
      } else {
        fail(ErrorCode::Input, where_ + ": mask element " + std::to_string(i) + " gives the additive bias " + std::to_string(v) +
                                   "; bitexact supports masks whose bias is 0 (attend) or <= -1000 (masked)");
      }
    }
    out[0] = std::move(keep);
  }

 private:
  float evaluate(float x) const {
    for (size_t s = 0; s < steps_.size(); ++s) {
      const float a = constantFirst_[s] ? constants_[s] : x, b = constantFirst_[s] ? x : constants_[s];
      switch (MaskStep(steps_[s])) {
        case MaskStep::Add: x = a + b; break;
        case MaskStep::Sub: x = a - b; break;
        case MaskStep::Mul: x = a * b; break;
        case MaskStep::Div: x = a / b; break;
        case MaskStep::Neg: x = -x; break;
        case MaskStep::Equal: x = a == b ? 1.0f : 0.0f; break;
        case MaskStep::Not: x = x == 0.0f ? 1.0f : 0.0f; break;
        case MaskStep::ToBool: x = x != 0.0f ? 1.0f : 0.0f; break;
        case MaskStep::Trunc: x = std::trunc(x); break;
      }
    }
    return x;
  }

  std::vector<int64_t> steps_, constantFirst_;
  std::vector<float> constants_;
  MaskMode mode_;
  std::string where_;
};

}  // namespace

std::unique_ptr<Op> createAttentionMaskKeep(BuildContext& ctx) {
  ctx.requireInputs(1, 1);
  std::vector<int64_t> steps = ctx.attrInts("steps"), first = ctx.attrInts("constant_first");
  std::vector<float> constants = ctx.attrFloats("constants");
  if (first.size() != steps.size() || constants.size() != steps.size()) ctx.invalid("steps, constant_first and constants must have one entry per step");
  for (int64_t s : steps) if (s < int64_t(MaskStep::Add) || s > int64_t(MaskStep::Trunc)) ctx.invalid("unknown mask step " + std::to_string(s));
  const int64_t mode = ctx.attrInt("mode", int64_t(MaskMode::AdditiveBias));
  if (mode < int64_t(MaskMode::AdditiveBias) || mode > int64_t(MaskMode::KeepWhenFalse)) ctx.invalid("unknown mask mode " + std::to_string(mode));
  return std::make_unique<AttentionMaskKeepOp>(std::move(steps), std::move(first), std::move(constants), MaskMode(mode), ctx.where());
}

}  // namespace bx
