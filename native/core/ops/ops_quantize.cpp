// QuantizeLinear and DequantizeLinear: the float boundary of a quantized graph (contract rule 3).
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>

#include "../../cpu/quantize_avx2.h"
#include "../device.h"
#include "../qparams.h"
#include "ops_common.h"

namespace bx {
namespace {

// Whether x[0..n) holds no NaN or infinity: split across the pool, vectorised on every vector ISA
// (they all imply AVX2). Which elements fail does not matter here; the caller finds the first.
bool allFinite(ExecContext& ctx, const float* x, int64_t n) {
  std::atomic<bool> finite{true};
  parallelRange(ctx.pool, n, 1 << 15, [&](int64_t begin, int64_t end) {
    const bool ok = ctx.isa != cpu::Isa::Scalar ? cpu::allFiniteAvx2(x + begin, end - begin)
                                                : std::all_of(x + begin, x + end, [](float v) { return std::isfinite(v); });
    if (!ok) finite.store(false);
  });
  return finite.load();
}

class QuantizeLinearOp : public Op {
 public:
  QuantizeLinearOp(QuantParams q, int64_t axis, std::string where) : q_(std::move(q)), axis_(axis), where_(std::move(where)) {}

  void run(ExecContext& ctx, const std::vector<const Tensor*>& in, std::vector<Tensor>& out) const override {
    const Tensor& x = *in[0];
    if (x.dtype != DType::Float32) fail(ErrorCode::Input, where_ + ": expects a float32 input, got " + dtypeName(x.dtype));
    AxisLayout layout;
    if (!q_.perTensor()) {
      layout = axisLayout(x.shape, normalizeAxis(axis_, int64_t(x.shape.size()), "QuantizeLinear"));
      if (layout.channels != int64_t(q_.scales.size())) {
        fail(ErrorCode::Input, where_ + ": axis has " + std::to_string(layout.channels) + " channels but " +
                                   std::to_string(q_.scales.size()) + " scales");
      }
    }
    Tensor y = ctx.allocateForOverwrite(q_.dtype, x.shape);
    const float* src = x.data<float>();
    const int64_t n = x.size();
    if (!ctx.allowNonFinite && !allFinite(ctx, src, n)) {
      for (int64_t i = 0; i < n; ++i) {  // the first one, for the message
        if (!std::isfinite(src[i])) {
          fail(ErrorCode::Input, where_ + ": input element " + std::to_string(i) + " is " +
                                     (std::isnan(src[i]) ? "NaN" : "infinite") +
                                     "; non-finite values are refused (option allowNonFinite)");
        }
      }
    }
    uint8_t* dst = y.buffer->data();
    const bool bytes = q_.dtype == DType::UInt8 || q_.dtype == DType::Int8;
    if (bytes && q_.perTensor() && !ctx.allowNonFinite && ctx.isa != cpu::Isa::Scalar) {
      // Every vector ISA here implies AVX2; the inputs were checked finite above.
      parallelRange(ctx.pool, n, 1 << 14, [&](int64_t begin, int64_t end) {
        cpu::quantizeBytesAvx2(src + begin, dst + begin, end - begin, q_.scales[0], q_.zeroPoints[0], q_.range());
      });
      out[0] = std::move(y);
      return;
    }
    parallelRange(ctx.pool, n, 1 << 14, [&](int64_t begin, int64_t end) {
      switch (q_.dtype) {
        case DType::UInt8: quantizeRange(src, reinterpret_cast<uint8_t*>(dst), begin, end, layout); break;
        case DType::Int8: quantizeRange(src, reinterpret_cast<int8_t*>(dst), begin, end, layout); break;
        case DType::UInt16: quantizeRange(src, reinterpret_cast<uint16_t*>(dst), begin, end, layout); break;
        default: quantizeRange(src, reinterpret_cast<int16_t*>(dst), begin, end, layout); break;
      }
    });
    out[0] = std::move(y);
  }

  bool hasDeviceKernel() const override { return true; }

  bool runDevice(DeviceContext& ctx, const std::vector<const DeviceTensor*>& in, std::vector<DeviceTensor>& out) const override {
    const DeviceTensor& x = *in[0];
    if (x.dtype != DType::Float32) fail(ErrorCode::Input, where_ + ": expects a float32 input, got " + dtypeName(x.dtype));
    QuantizeDeviceArgs a;
    if (!q_.perTensor()) {
      const AxisLayout layout = axisLayout(x.shape, normalizeAxis(axis_, int64_t(x.shape.size()), "QuantizeLinear"));
      if (layout.channels != int64_t(q_.scales.size())) {
        fail(ErrorCode::Input, where_ + ": axis has " + std::to_string(layout.channels) + " channels but " +
                                   std::to_string(q_.scales.size()) + " scales");
      }
      a.channels = layout.channels;
      a.inner = layout.inner;
    }
    DeviceTensor y = ctx.allocate(q_.dtype, x.shape);
    a.hostScales = q_.scales.data();
    a.hostZeroPoints = q_.zeroPoints.data();
    a.count = x.size();
    a.outputType = q_.dtype;
    a.range = q_.range();
    a.input = reinterpret_cast<const float*>(x.data());
    a.output = y.data();
    ctx.quantize(a, where_);
    out[0] = std::move(y);
    return true;
  }

 private:
  template <typename T>
  void quantizeRange(const float* src, T* dst, int64_t begin, int64_t end, const AxisLayout& layout) const {
    const QRange range = q_.range();
    for (int64_t i = begin; i < end;) {
      // A run of elements sharing one channel's scale and zero point.
      const size_t c = q_.perTensor() ? 0 : size_t((i / layout.inner) % layout.channels);
      const int64_t runEnd = q_.perTensor() ? end : std::min(end, (i / layout.inner + 1) * layout.inner);
      const float scale = q_.scales[c];
      const int32_t zp = q_.zeroPoints[c];
      for (; i < runEnd; ++i) {
        const float v = src[i];
        // NaN reaches here only with allowNonFinite; it maps to the zero point.
        dst[i] = T(std::isnan(v) ? zp : quantizeFloat(v, scale, zp, range));
      }
    }
  }

  QuantParams q_;
  int64_t axis_;
  std::string where_;
};

class DequantizeLinearOp : public Op {
 public:
  // typed: a zero point input fixed the element type; without one any integer type is accepted.
  DequantizeLinearOp(QuantParams q, bool typed, int64_t axis, std::string where)
      : q_(std::move(q)), typed_(typed), axis_(axis), where_(std::move(where)) {}

  void run(ExecContext& ctx, const std::vector<const Tensor*>& in, std::vector<Tensor>& out) const override {
    const Tensor& x = *in[0];
    if (typed_ ? x.dtype != q_.dtype : x.dtype == DType::Float32) {
      fail(ErrorCode::Input, where_ + ": input is " + dtypeName(x.dtype) + " but its zero point is " + dtypeName(q_.dtype));
    }
    AxisLayout layout;
    if (!q_.perTensor()) {
      layout = axisLayout(x.shape, normalizeAxis(axis_, int64_t(x.shape.size()), "DequantizeLinear"));
      if (layout.channels != int64_t(q_.scales.size())) {
        fail(ErrorCode::Input, where_ + ": axis has " + std::to_string(layout.channels) + " channels but " +
                                   std::to_string(q_.scales.size()) + " scales");
      }
    }
    Tensor y = ctx.allocateForOverwrite(DType::Float32, x.shape);
    float* dst = y.mutableData<float>();
    parallelRange(ctx.pool, x.size(), 1 << 14, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        const size_t c = q_.perTensor() ? 0 : size_t((i / layout.inner) % layout.channels);
        dst[i] = dequantizeToFloat(x.intAt(i), q_.zeroPoints[c], q_.scales[c]);
      }
    });
    out[0] = std::move(y);
  }

  bool hasDeviceKernel() const override { return true; }

  bool runDevice(DeviceContext& ctx, const std::vector<const DeviceTensor*>& in, std::vector<DeviceTensor>& out) const override {
    const DeviceTensor& x = *in[0];
    if (typed_ ? x.dtype != q_.dtype : x.dtype == DType::Float32) {
      fail(ErrorCode::Input, where_ + ": input is " + dtypeName(x.dtype) + " but its zero point is " + dtypeName(q_.dtype));
    }
    // int64 inputs (a scale applied to a shape, say) stay on the host.
    if (x.dtype != DType::UInt8 && x.dtype != DType::Int8 && x.dtype != DType::UInt16 && x.dtype != DType::Int16 &&
        x.dtype != DType::Int32) {
      return false;
    }
    DequantizeDeviceArgs a;
    if (!q_.perTensor()) {
      const AxisLayout layout = axisLayout(x.shape, normalizeAxis(axis_, int64_t(x.shape.size()), "DequantizeLinear"));
      if (layout.channels != int64_t(q_.scales.size())) {
        fail(ErrorCode::Input, where_ + ": axis has " + std::to_string(layout.channels) + " channels but " +
                                   std::to_string(q_.scales.size()) + " scales");
      }
      a.channels = layout.channels;
      a.inner = layout.inner;
    }
    DeviceTensor y = ctx.allocate(DType::Float32, x.shape);
    a.hostScales = q_.scales.data();
    a.hostZeroPoints = q_.zeroPoints.data();
    a.count = x.size();
    a.inputType = x.dtype;
    a.input = x.data();
    a.output = reinterpret_cast<float*>(y.data());
    ctx.dequantize(a);
    out[0] = std::move(y);
    return true;
  }

 private:
  QuantParams q_;
  bool typed_;
  int64_t axis_;
  std::string where_;
};

}  // namespace

std::unique_ptr<Op> createQuantizeLinear(BuildContext& ctx) {
  ctx.requireInputs(2, 3);
  if (ctx.attrInt("block_size", 0) != 0) ctx.unsupported("blocked quantisation (block_size) is not supported");
  if (ctx.attrInt("saturate", 1) != 1) ctx.unsupported("saturate=0 is not supported");
  QuantParams q = readQuantParams(ctx, 1, 2, DType::UInt8, "output");
  if (!isQuantizedType(q.dtype)) ctx.unsupported(std::string("output type ") + dtypeName(q.dtype) + " is not supported");
  return std::make_unique<QuantizeLinearOp>(std::move(q), ctx.attrInt("axis", 1), ctx.where());
}

std::unique_ptr<Op> createDequantizeLinear(BuildContext& ctx) {
  ctx.requireInputs(2, 3);
  if (ctx.attrInt("block_size", 0) != 0) ctx.unsupported("blocked quantisation (block_size) is not supported");
  QuantParams q = readQuantParams(ctx, 1, 2, DType::UInt8, "input");
  return std::make_unique<DequantizeLinearOp>(std::move(q), ctx.hasInput(2), ctx.attrInt("axis", 1), ctx.where());
}

}  // namespace bx
