// bitexact::QLinearLut: y = table[channel][x] for uint8/int8 x. Produced by the QDQ rewrite for
// elementwise functions of one quantized value (HardSwish, HardSigmoid, Relu, Clip, LeakyRelu)
// and for float preprocessing of a uint8 input; the tables are built at load time with binary32
// basic operations only (docs/determinism.md, "Lookup tables").
#include "../device.h"
#include "../lut_tables.h"
#include "../qparams.h"
#include "ops_common.h"

namespace bx {
namespace {

class LutOp : public Op {
 public:
  LutOp(Tensor table, int64_t channels, int64_t axis, std::string where)
      : table_(std::move(table)), channels_(channels), axis_(axis), where_(std::move(where)) {}

  void run(ExecContext& ctx, const std::vector<const Tensor*>& in, std::vector<Tensor>& out) const override {
    const Tensor& x = *in[0];
    if (x.dtype != DType::UInt8 && x.dtype != DType::Int8) fail(ErrorCode::Input, where_ + ": input must be uint8 or int8");
    AxisLayout layout;
    if (channels_ > 1) {
      layout = axisLayout(x.shape, normalizeAxis(axis_, int64_t(x.shape.size()), "QLinearLut"));
      if (layout.channels != channels_) {
        fail(ErrorCode::Input, where_ + ": input " + shapeToString(x.shape) + " does not have " + std::to_string(channels_) + " channels");
      }
    }
    Tensor y = ctx.allocate(table_.dtype, x.shape);
    const uint8_t offset = x.dtype == DType::Int8 ? 0x80 : 0;  // int8 -128 is table entry 0
    const uint8_t* src = x.bytes();
    uint8_t* dst = y.buffer->data();
    const uint8_t* table = table_.bytes();
    parallelRange(ctx.pool, x.size(), 1 << 14, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        const int64_t c = channels_ > 1 ? (i / layout.inner) % channels_ : 0;
        dst[i] = table[c * 256 + uint8_t(src[i] ^ offset)];
      }
    });
    out[0] = std::move(y);
  }

  bool hasDeviceKernel() const override { return true; }

  bool runDevice(DeviceContext& ctx, const std::vector<const DeviceTensor*>& in, std::vector<DeviceTensor>& out) const override {
    const DeviceTensor& x = *in[0];
    if (x.dtype != DType::UInt8 && x.dtype != DType::Int8) fail(ErrorCode::Input, where_ + ": input must be uint8 or int8");
    LutDeviceArgs a;
    if (channels_ > 1) {
      const AxisLayout layout = axisLayout(x.shape, normalizeAxis(axis_, int64_t(x.shape.size()), "QLinearLut"));
      if (layout.channels != channels_) {
        fail(ErrorCode::Input, where_ + ": input " + shapeToString(x.shape) + " does not have " + std::to_string(channels_) + " channels");
      }
      a.inner = layout.inner;
    }
    DeviceTensor y = ctx.allocate(table_.dtype, x.shape);
    a.hostTable = table_.bytes();
    a.channels = channels_;
    a.count = x.size();
    a.offset = x.dtype == DType::Int8 ? 0x80 : 0;
    a.input = x.data();
    a.output = y.data();
    ctx.lut(a);
    out[0] = std::move(y);
    return true;
  }

 private:
  Tensor table_;
  int64_t channels_;
  int64_t axis_;
  std::string where_;
};

}  // namespace

std::unique_ptr<Op> makeLutOp(const Tensor& table, int64_t axis, const std::string& where) {
  return std::make_unique<LutOp>(table, table.size() / 256, axis, where);
}

// com.microsoft QLinearSigmoid: a table from the integer sigmoid.
std::unique_ptr<Op> createQLinearSigmoid(BuildContext& ctx) {
  ctx.requireInputs(4, 5);
  const QuantParams x = readPerTensorByteParams(ctx, 1, 2, "input"), y = readPerTensorByteParams(ctx, 3, 4, "output");
  return makeLutOp(sigmoidTable(x.dtype, x.scales[0], x.zeroPoints[0], y.dtype, y.scales[0], y.zeroPoints[0]), 1, ctx.where());
}

// com.microsoft QLinearLeakyRelu: x >= 0 ? x : alpha * x, in binary32, tabulated.
std::unique_ptr<Op> createQLinearLeakyRelu(BuildContext& ctx) {
  ctx.requireInputs(4, 5);
  const QuantParams x = readPerTensorByteParams(ctx, 1, 2, "input"), y = readPerTensorByteParams(ctx, 3, 4, "output");
  const float alpha = ctx.attrFloat("alpha", 0.01f);
  return makeLutOp(floatFunctionTable(x.dtype, x.scales[0], x.zeroPoints[0], y.dtype, y.scales[0], y.zeroPoints[0],
                                      [alpha](float v) { return leakyRelu(v, alpha); }),
                   1, ctx.where());
}

std::unique_ptr<Op> createQLinearLut(BuildContext& ctx) {
  ctx.requireInputs(1, 1);
  const onnx::Attribute* table = ctx.node.attribute("table");
  if (!table || table->kind != onnx::Attribute::Kind::Tensor) ctx.invalid("missing table attribute");
  const Tensor& t = table->t;
  if ((t.dtype != DType::UInt8 && t.dtype != DType::Int8) || t.shape.empty() || t.shape.back() != 256 || t.size() % 256 != 0) {
    ctx.invalid("table must be uint8/int8 [..., 256]");
  }
  return std::make_unique<LutOp>(t, t.size() / 256, ctx.attrInt("axis", 1), ctx.where());
}

}  // namespace bx
