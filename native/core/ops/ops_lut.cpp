// bitexact::QLinearLut: y = table[channel][x] for uint8/int8 x (256 entries per channel) or
// uint16/int16 x (65536 entries; the w8a16 profile). Produced by the QDQ rewrite for
// elementwise functions of one quantized value (HardSwish, HardSigmoid, Relu, Clip, LeakyRelu)
// and for float preprocessing of a uint8 input; the tables are built at load time with binary32
// basic operations only (docs/determinism.md, "Lookup tables").
#include <algorithm>
#include <cstring>

#include "../../cpu/elementwise_avx2.h"
#include "../device.h"
#include "../lut_tables.h"
#include "../qparams.h"
#include "ops_common.h"

namespace bx {
namespace {

class LutOp : public Op {
 public:
  LutOp(Tensor table, int64_t axis, std::string where)
      : table_(std::move(table)), entries_(table_.shape.back()), channels_(table_.size() / entries_), axis_(axis),
        where_(std::move(where)) {}

  void run(ExecContext& ctx, const std::vector<const Tensor*>& in, std::vector<Tensor>& out) const override {
    const Tensor& x = *in[0];
    checkInput(x.dtype);
    AxisLayout layout;
    if (channels_ > 1) {
      layout = axisLayout(x.shape, normalizeAxis(axis_, int64_t(x.shape.size()), "QLinearLut"));
      if (layout.channels != channels_) {
        fail(ErrorCode::Input, where_ + ": input " + shapeToString(x.shape) + " does not have " + std::to_string(channels_) + " channels");
      }
    }
    Tensor y = ctx.allocateForOverwrite(table_.dtype, x.shape);
    const auto channelOf = [&](int64_t i) { return channels_ > 1 ? (i / layout.inner) % channels_ : 0; };
    if (entries_ == 256 && dtypeSize(table_.dtype) == 1) {
      const uint8_t offset = x.dtype == DType::Int8 ? 0x80 : 0;  // int8 -128 is table entry 0
      const uint8_t* src = x.bytes();
      uint8_t* dst = y.buffer->data();
      const uint8_t* table = table_.bytes();
      // Runs of one channel (the whole tensor for a per-tensor table): the channel is found once
      // per run, not per element.
      const int64_t run = channels_ > 1 ? layout.inner : x.size();
      parallelRange(ctx.pool, x.size(), 1 << 14, [&](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end;) {
          const int64_t stop = std::min(end, (i / run + 1) * run);
          const uint8_t* __restrict row = table + channelOf(i) * 256;
          if (ctx.isa != cpu::Isa::Scalar) {  // every vector ISA here implies AVX2
            cpu::lookupBytesAvx2(row, offset, src + i, dst + i, stop - i);
            i = stop;
            continue;
          }
          const uint8_t* __restrict from = src;
          uint8_t* __restrict to = dst;
          for (; i < stop; ++i) to[i] = row[uint8_t(from[i] ^ offset)];
        }
      });
    } else {
      const int32_t lo = rangeOf(x.dtype).lo;
      const size_t outBytes = dtypeSize(table_.dtype);
      parallelRange(ctx.pool, x.size(), 1 << 14, [&](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; ++i) {
          const int64_t entry = channelOf(i) * entries_ + (quantizedAt(x.bytes(), x.dtype, i) - lo);
          std::memcpy(y.buffer->data() + size_t(i) * outBytes, table_.bytes() + size_t(entry) * outBytes, outBytes);
        }
      });
    }
    out[0] = std::move(y);
  }

  bool hasDeviceKernel() const override { return true; }

  bool runDevice(DeviceContext& ctx, const std::vector<const DeviceTensor*>& in, std::vector<DeviceTensor>& out) const override {
    const DeviceTensor& x = *in[0];
    checkInput(x.dtype);
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
    a.entries = entries_;
    a.inputType = x.dtype;
    a.outputBytes = int(dtypeSize(table_.dtype));
    a.input = x.data();
    a.output = y.data();
    ctx.lut(a);
    out[0] = std::move(y);
    return true;
  }

 private:
  // 8-bit inputs index 256-entry tables, 16-bit ones 65536-entry tables.
  void checkInput(DType dtype) const {
    const bool wideInput = isWideQuantizedType(dtype);
    if (!isQuantizedType(dtype) || wideInput != (entries_ == 65536)) {
      fail(ErrorCode::Input, where_ + ": input is " + dtypeName(dtype) + ", the table is for " + (entries_ == 256 ? "uint8 or int8" : "uint16 or int16"));
    }
  }

  Tensor table_;
  int64_t entries_;
  int64_t channels_;
  int64_t axis_;
  std::string where_;
};

}  // namespace

std::unique_ptr<Op> makeLutOp(const Tensor& table, int64_t axis, const std::string& where) {
  return std::make_unique<LutOp>(table, axis, where);
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
  if (!isQuantizedType(t.dtype) || t.shape.empty() || (t.shape.back() != 256 && t.shape.back() != 65536)) {
    ctx.invalid("table must be uint8/int8/uint16/int16 [..., 256 or 65536]");
  }
  return std::make_unique<LutOp>(t, ctx.attrInt("axis", 1), ctx.where());
}

}  // namespace bx
