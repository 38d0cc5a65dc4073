// com.microsoft QLinearConcat: inputs whose scale and zero point differ from the output's are
// moved to it through a requantisation table (requantize rule of numerics.h), then concatenated.
#include <cstring>

#include "../lut_tables.h"
#include "device_gather.h"
#include "ops_common.h"

namespace bx {
namespace {

class QLinearConcatOp : public Op {
 public:
  QLinearConcatOp(DType type, std::vector<Tensor> tables, int64_t axis, std::string where)
      : type_(type), tables_(std::move(tables)), axis_(axis), where_(std::move(where)) {}

  void run(ExecContext& ctx, const std::vector<const Tensor*>& in, std::vector<Tensor>& out) const override {
    std::vector<const Tensor*> parts;
    for (size_t i = 2; i < in.size(); i += 3) parts.push_back(in[i]);
    if (parts[0]->dtype != type_) fail(ErrorCode::Input, where_ + ": inputs must be " + dtypeName(type_));
    const ConcatLayout l = planConcat(parts, axis_, where_);
    Tensor y = ctx.allocate(type_, l.shape);
    const int64_t outRow = l.shape[size_t(l.axis)] * l.inner;
    const uint8_t offset = type_ == DType::Int8 ? 0x80 : 0;
    int64_t at = 0;
    for (size_t p = 0; p < parts.size(); ++p) {
      const int64_t row = parts[p]->shape[size_t(l.axis)] * l.inner;
      const uint8_t* table = tables_[p].buffer ? tables_[p].bytes() : nullptr;
      for (int64_t o = 0; o < l.outer; ++o) {
        const uint8_t* src = parts[p]->bytes() + o * row;
        uint8_t* dst = y.buffer->data() + o * outRow + at;
        if (!table) std::memcpy(dst, src, size_t(row));
        else for (int64_t i = 0; i < row; ++i) dst[i] = table[uint8_t(src[i] ^ offset)];
      }
      at += row;
    }
    out[0] = std::move(y);
  }

  bool hasDeviceKernel() const override { return true; }

  // Parts with their own quantisation go through their table into a temporary, then every part
  // is copied into its block.
  bool runDevice(DeviceContext& ctx, const std::vector<const DeviceTensor*>& in, std::vector<DeviceTensor>& out) const override {
    std::vector<const DeviceTensor*> parts;
    std::vector<Tensor> shapes;
    for (size_t i = 2; i < in.size(); i += 3) {
      parts.push_back(in[i]);
      Tensor s;
      s.dtype = in[i]->dtype;
      s.shape = in[i]->shape;
      shapes.push_back(std::move(s));
    }
    if (parts[0]->dtype != type_) fail(ErrorCode::Input, where_ + ": inputs must be " + dtypeName(type_));
    std::vector<const Tensor*> shapeList;
    for (const Tensor& s : shapes) shapeList.push_back(&s);
    const ConcatLayout l = planConcat(shapeList, axis_, where_);
    std::vector<DeviceTensor> requantised(parts.size());
    for (size_t p = 0; p < parts.size(); ++p) {
      if (!tables_[p].buffer) continue;
      requantised[p] = ctx.allocate(type_, parts[p]->shape);
      LutDeviceArgs a;
      a.hostTable = tables_[p].bytes();
      a.count = parts[p]->size();
      a.inputType = type_;
      a.input = parts[p]->data();
      a.output = requantised[p].data();
      ctx.lut(a);
      parts[p] = &requantised[p];
    }
    DeviceTensor y = ctx.allocate(type_, l.shape);
    if (!deviceConcat(ctx, parts, l, y)) return false;
    out[0] = std::move(y);
    return true;
  }

 private:
  DType type_;
  std::vector<Tensor> tables_;  // empty tensor where an input already has the output's quantisation
  int64_t axis_;
  std::string where_;
};

}  // namespace

std::unique_ptr<Op> createQLinearConcat(BuildContext& ctx) {
  if (ctx.inputCount() < 5 || (ctx.inputCount() - 2) % 3 != 0) ctx.invalid("expects Y_scale, Y_zero_point, then (X, scale, zero point) triples");
  const QuantParams y = readQuantParams(ctx, 0, 1, DType::UInt8, "output");
  if (!y.perTensor() || (y.dtype != DType::UInt8 && y.dtype != DType::Int8)) ctx.unsupported("output must be per-tensor uint8/int8");
  std::vector<Tensor> tables;
  for (size_t i = 2; i < ctx.inputCount(); i += 3) {
    const QuantParams x = readQuantParams(ctx, i + 1, i + 2, DType::UInt8, "input");
    if (!x.perTensor() || x.dtype != y.dtype) ctx.unsupported("inputs must be per-tensor and of the output's type");
    if (x.scales[0] == y.scales[0] && x.zeroPoints[0] == y.zeroPoints[0]) tables.emplace_back();
    else tables.push_back(requantizeTable(x.dtype, x.scales[0], x.zeroPoints[0], y.dtype, y.scales[0], y.zeroPoints[0]));
  }
  if (!ctx.hasAttr("axis")) ctx.invalid("missing attribute axis");
  return std::make_unique<QLinearConcatOp>(y.dtype, std::move(tables), ctx.attrInt("axis", 0), ctx.where());
}

}  // namespace bx
