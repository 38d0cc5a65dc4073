// com.microsoft QLinearSoftmax, integer only: y_i = Q(e_i / sum_j e_j) with
// e_i = exp(-(max - x_i) * sx) from a 256-entry Q40 table (numerics.h expNegQ40) and the ratio
// quantised exactly (quantizeRatio). 16-bit inputs (w8a16) use a 65536-entry table.
// bitexact::QLinearMaskedSoftmax (from DQ -> Add(attention-mask bias) -> Softmax -> Q, see
// attention_mask.h) takes a uint8 keep mask broadcast to the input: dropped positions leave the
// maximum and the sum and output exactly 0 (zero point); a row with every position dropped is
// normalised over all of them, as an equal bias on every element cancels in float softmax too.
#include <algorithm>
#include <limits>

#include "../device.h"
#include "../qparams.h"
#include "broadcast.h"
#include "ops_common.h"

namespace bx {
namespace {

class QuantizedSoftmaxOp : public Op {
 public:
  QuantizedSoftmaxOp(QuantParams x, QuantParams y, int64_t axis, bool coerce2d, bool masked, std::string where)
      : x_(std::move(x)), y_(std::move(y)), axis_(axis), coerce2d_(coerce2d), masked_(masked), where_(std::move(where)) {
    const QRange range = x_.range();
    exps_.resize(size_t(int64_t(range.hi) - range.lo + 1));
    for (size_t d = 0; d < exps_.size(); ++d) exps_[d] = expNegQ40(realMagnitudeQ40(int32_t(d), x_.scales[0]));
  }

  void run(ExecContext& ctx, const std::vector<const Tensor*>& in, std::vector<Tensor>& out) const override {
    const Tensor& x = *in[0];
    int64_t outer, length, inner;
    rows(x.dtype, x.shape, &outer, &length, &inner);
    Tensor y = ctx.allocate(y_.dtype, x.shape);
    const DType inType = x.dtype;
    const bool wideOut = isWideQuantizedType(y.dtype);
    const QRange range = y_.range();
    const uint8_t* src = x.bytes();
    uint8_t* dst = y.buffer->data();
    const std::vector<uint8_t> keep = masked_ ? expandKeep(*in[5], x.shape) : std::vector<uint8_t>();
    const int32_t zero = quantizeRatio(0, 1, y_.scales[0], y_.zeroPoints[0], range);
    parallelRange(ctx.pool, outer * inner, 16, [&](int64_t begin, int64_t end) {
      for (int64_t row = begin; row < end; ++row) {
        const int64_t base = (row / inner) * length * inner + row % inner;
        // unmasked, or a row with every position dropped: the whole row counts
        bool whole = true;
        for (int64_t i = 0; i < length && masked_ && whole; ++i) whole = keep[size_t(base + i * inner)] == 0;
        const auto kept = [&](int64_t i) { return whole || keep[size_t(base + i * inner)] != 0; };
        int32_t maxValue = std::numeric_limits<int32_t>::min();
        for (int64_t i = 0; i < length; ++i) if (kept(i)) maxValue = std::max(maxValue, quantizedAt(src, inType, base + i * inner));
        uint64_t sum = 0;  // < 2^22 * 2^40
        for (int64_t i = 0; i < length; ++i) if (kept(i)) sum += exps_[size_t(maxValue - quantizedAt(src, inType, base + i * inner))];
        for (int64_t i = 0; i < length; ++i) {
          const int32_t v = kept(i) ? quantizeRatio(exps_[size_t(maxValue - quantizedAt(src, inType, base + i * inner))], sum, y_.scales[0], y_.zeroPoints[0], range)
                                    : zero;
          // the low byte (two bytes) encodes the signed and unsigned types alike
          if (wideOut) reinterpret_cast<uint16_t*>(dst)[base + i * inner] = uint16_t(v);
          else dst[base + i * inner] = uint8_t(v);
        }
      }
    });
    out[0] = std::move(y);
  }

  bool hasDeviceKernel() const override { return true; }

  bool runDevice(DeviceContext& ctx, const std::vector<const DeviceTensor*>& in, std::vector<DeviceTensor>& out) const override {
    const DeviceTensor& x = *in[0];
    SoftmaxDeviceArgs a;
    rows(x.dtype, x.shape, &a.outer, &a.length, &a.inner);
    if (masked_) {
      const DeviceTensor& keep = *in[5];
      const BroadcastPlan plan = keepPlan(keep.dtype, keep.shape, x.shape);
      if (plan.output.size() > size_t(SoftmaxDeviceArgs::kMaxRank)) return false;  // on the host
      a.keep = keep.data();
      a.rank = int(plan.output.size());
      for (size_t d = 0; d < plan.output.size(); ++d) {
        a.dims[d] = plan.output[d];
        a.keepStrides[d] = plan.stridesB[d];
      }
    }
    DeviceTensor y = ctx.allocate(y_.dtype, x.shape);
    a.hostExps = exps_.data();
    a.expCount = int64_t(exps_.size());
    a.inputType = x.dtype;
    a.outputScale = splitScale(y_.scales[0]);
    a.outputZeroPoint = y_.zeroPoints[0];
    a.range = y_.range();
    a.wideOutput = isWideQuantizedType(y_.dtype);
    a.input = x.data();
    a.output = y.data();
    ctx.softmax(a);
    out[0] = std::move(y);
    return true;
  }

 private:
  // Checks the input; the rows softmax normalises: `outer * inner` of `length` elements.
  void rows(DType dtype, const Shape& shape, int64_t* outer, int64_t* length, int64_t* inner) const {
    if (dtype != x_.dtype) fail(ErrorCode::Input, where_ + ": input is " + dtypeName(dtype) + ", expected " + dtypeName(x_.dtype));
    const int64_t rank = int64_t(shape.size());
    const int64_t axis = normalizeAxis(axis_, rank, "Softmax");
    // Opset < 13 normalises over all dims from axis on; opset 13 over axis alone.
    *outer = 1, *length = 1, *inner = 1;
    for (int64_t d = 0; d < rank; ++d) {
      if (d < axis) *outer *= shape[size_t(d)];
      else if (d == axis || coerce2d_) *length *= shape[size_t(d)];
      else *inner *= shape[size_t(d)];
    }
    if (*length > (int64_t(1) << 22)) fail(ErrorCode::OverflowBound, where_ + ": softmax over more than 2^22 elements");
  }

  // Checks the keep mask (uint8 or bool, 0 = dropped) and plans its broadcast to the scores.
  BroadcastPlan keepPlan(DType dtype, const Shape& keepShape, const Shape& shape) const {
    if (dtype != DType::UInt8 && dtype != DType::Bool) fail(ErrorCode::Input, where_ + ": keep mask is " + dtypeName(dtype) + ", expected uint8");
    BroadcastPlan plan = planBroadcast(shape, keepShape, where_);
    if (plan.output != shape) fail(ErrorCode::Input, where_ + ": keep mask " + shapeToString(keepShape) + " does not broadcast to the scores " + shapeToString(shape));
    return plan;
  }

  // The keep mask broadcast to the input's shape, one byte per element.
  std::vector<uint8_t> expandKeep(const Tensor& keep, const Shape& shape) const {
    const BroadcastPlan plan = keepPlan(keep.dtype, keep.shape, shape);
    std::vector<uint8_t> out(size_t(elementCount(shape)));
    const uint8_t* k = keep.bytes();
    forEachBroadcast(plan, 0, int64_t(out.size()), [&](int64_t i, int64_t, int64_t ik) { out[size_t(i)] = k[ik]; });
    return out;
  }

  QuantParams x_, y_;
  int64_t axis_;
  bool coerce2d_;
  bool masked_;
  std::string where_;
  std::vector<uint64_t> exps_;  // exp(-d * sx) in Q40 for a distance d from the row maximum
};

}  // namespace

std::unique_ptr<Op> createQLinearSoftmax(BuildContext& ctx) {
  ctx.requireInputs(4, 5);
  QuantParams x = readPerTensorParams(ctx, 1, 2, "input");
  QuantParams y = readPerTensorParams(ctx, 3, 4, "output");
  const int64_t opset = ctx.attrInt("opset", 13);
  return std::make_unique<QuantizedSoftmaxOp>(std::move(x), std::move(y), ctx.attrInt("axis", opset >= 13 ? -1 : 1), opset < 13,
                                              false, ctx.where());
}

// Inputs x, x_scale, x_zero_point, y_scale, y_zero_point, keep.
std::unique_ptr<Op> createQLinearMaskedSoftmax(BuildContext& ctx) {
  ctx.requireInputs(6, 6);
  QuantParams x = readPerTensorParams(ctx, 1, 2, "input");
  QuantParams y = readPerTensorParams(ctx, 3, 4, "output");
  return std::make_unique<QuantizedSoftmaxOp>(std::move(x), std::move(y), ctx.attrInt("axis", -1), false, true, ctx.where());
}

}  // namespace bx
