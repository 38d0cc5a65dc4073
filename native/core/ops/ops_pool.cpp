// Quantized mean reductions (QLinearGlobalAveragePool and the DequantizeLinear -> ReduceMean ->
// QuantizeLinear pattern) and MaxPool on any element type.
#include <limits>

#include "../device.h"
#include "../qparams.h"
#include "ops_common.h"

namespace bx {
namespace {

// One ReduceMean stage as written in the graph; stages apply in order, each to the shape the
// previous one produced. The mean of equal-sized means is the overall mean, so the stages
// collapse to one integer sum over the union of the reduced axes.
struct ReduceStage {
  std::vector<int64_t> axes;  // empty: all axes from `firstAxis` on
  int64_t firstAxis = 0;
  bool keepDims = true;
};

// sum of count quantized elements from index `first` (|sum| bounded by the op's int32 check;
// the sum of raw values minus count * zx equals the sum of centred ones modulo 2^32, and both
// are exact here). Typed loops the compiler vectorises.
template <typename T>
int32_t typedRowSum(const T* p, int64_t count) {
  uint32_t sum = 0;
  for (int64_t j = 0; j < count; ++j) sum += uint32_t(int32_t(p[j]));
  return int32_t(sum);
}

int32_t rowSum(const Tensor& x, int64_t first, int64_t count) {
  switch (x.dtype) {
    case DType::UInt8: return typedRowSum(x.data<uint8_t>() + first, count);
    case DType::Int8: return typedRowSum(x.data<int8_t>() + first, count);
    case DType::UInt16: return typedRowSum(x.data<uint16_t>() + first, count);
    case DType::Int16: return typedRowSum(x.data<int16_t>() + first, count);
    default: fail(ErrorCode::Internal, "rowSum of a non-quantized type");
  }
}

class QuantizedMeanOp : public Op {
 public:
  QuantizedMeanOp(QuantParams x, QuantParams y, std::vector<ReduceStage> stages, std::string where)
      : x_(std::move(x)), y_(std::move(y)), stages_(std::move(stages)), where_(std::move(where)) {}

  // Which input dims the stages reduce, the output shape, the element count of one mean and the
  // requantisation multiplier (which folds 1/count).
  struct Plan {
    std::vector<bool> reduced;
    Shape shape;
    int64_t count = 1;
    Multiplier multiplier;
    // Whether the reduced dims form one contiguous block [firstReduced, lastReduced) of the input
    // (global pooling, a mean over the last axes): an [outer, count, inner] view.
    bool oneBlock = false;
    size_t firstReduced = 0, lastReduced = 0;
  };

  Plan plan(DType dtype, const Shape& inputShape) const {
    if (dtype != x_.dtype) fail(ErrorCode::Input, where_ + ": input is " + dtypeName(dtype) + ", expected " + dtypeName(x_.dtype));
    // Track, for every current dim, which original dim it is; mark reduced originals.
    const size_t rank = inputShape.size();
    Plan p;
    p.reduced.assign(rank, false);
    std::vector<int64_t> current(rank);
    for (size_t d = 0; d < rank; ++d) current[d] = int64_t(d);
    Shape shape = inputShape;
    for (const ReduceStage& stage : stages_) {
      std::vector<bool> hit(shape.size(), false);
      if (stage.axes.empty()) {
        for (size_t d = size_t(stage.firstAxis); d < shape.size(); ++d) hit[d] = true;
      }
      for (int64_t axis : stage.axes) hit[size_t(normalizeAxis(axis, int64_t(shape.size()), "ReduceMean"))] = true;
      Shape nextShape;
      std::vector<int64_t> nextCurrent;
      for (size_t d = 0; d < shape.size(); ++d) {
        if (hit[d]) {
          if (current[d] >= 0) p.reduced[size_t(current[d])] = true;
          if (stage.keepDims) { nextShape.push_back(1); nextCurrent.push_back(-1); }
        } else {
          nextShape.push_back(shape[d]);
          nextCurrent.push_back(current[d]);
        }
      }
      shape = nextShape;
      current = nextCurrent;
    }
    p.shape = shape;
    for (size_t d = 0; d < rank; ++d) if (p.reduced[d]) p.count *= inputShape[d];
    while (p.firstReduced < rank && !p.reduced[p.firstReduced]) ++p.firstReduced;
    p.lastReduced = p.firstReduced;
    while (p.lastReduced < rank && p.reduced[p.lastReduced]) ++p.lastReduced;
    p.oneBlock = true;  // also with nothing reduced: an empty block at the end, count 1
    for (size_t d = p.lastReduced; d < rank; ++d) p.oneBlock = p.oneBlock && !p.reduced[d];
    const int64_t maxCentred = maxCenteredMagnitude(rangeOf(x_.dtype), x_.zeroPoints[0]);
    if (p.count == 0) fail(ErrorCode::Input, where_ + ": mean over an empty axis");
    if (p.count > kInt32Max / std::max<int64_t>(maxCentred, 1)) {
      fail(ErrorCode::OverflowBound, where_ + ": a mean over " + std::to_string(p.count) + " elements could overflow int32");
    }
    if (!deriveMultiplier(double(x_.scales[0]) / (double(y_.scales[0]) * double(p.count)), &p.multiplier)) {
      fail(ErrorCode::InvalidModel, where_ + ": scale ratio cannot be represented");
    }
    return p;
  }

  void run(ExecContext& ctx, const std::vector<const Tensor*>& in, std::vector<Tensor>& out) const override {
    const Tensor& x = *in[0];
    const Plan p = plan(x.dtype, x.shape);
    const size_t rank = x.shape.size();
    const std::vector<bool>& reduced = p.reduced;
    const Shape& shape = p.shape;
    const Multiplier m = p.multiplier;
    Shape outerShape;  // input dims with reduced ones set to 1, for index mapping
    for (size_t d = 0; d < rank; ++d) outerShape.push_back(reduced[d] ? 1 : x.shape[d]);
    // Output strides over the input's coordinates (0 on reduced dims).
    std::vector<int64_t> outStride(rank, 0);
    int64_t stride = 1;
    for (size_t d = rank; d-- > 0;) {
      if (!reduced[d]) { outStride[d] = stride; stride *= x.shape[d]; }
    }
    const int64_t outCount = elementCount(outerShape);
    std::vector<int32_t> sums(size_t(outCount), 0);
    std::vector<int64_t> coord(rank, 0);
    const int32_t zx = x_.zeroPoints[0];
    if (p.oneBlock && p.lastReduced == rank) {
      // Trailing reduced dims (global pooling over H, W): each mean is one contiguous row.
      parallelRange(ctx.pool, outCount, std::max<int64_t>(1, (1 << 14) / p.count), [&](int64_t begin, int64_t end) {
        for (int64_t row = begin; row < end; ++row) sums[size_t(row)] = int32_t(uint32_t(rowSum(x, row * p.count, p.count)) - uint32_t(p.count) * uint32_t(zx));
      });
    } else {
      int64_t o = 0;
      for (int64_t i = 0, n = x.size(); i < n; ++i) {
        sums[size_t(o)] += quantizedAt(x.bytes(), x.dtype, i) - zx;
        for (size_t d = rank; d-- > 0;) {
          o += outStride[d];
          if (++coord[d] < x.shape[d]) break;
          o -= outStride[d] * x.shape[d];
          coord[d] = 0;
        }
      }
    }
    Tensor y = ctx.allocate(y_.dtype, shape);
    const QRange range = y_.range();
    const bool wideOut = isWideQuantizedType(y_.dtype);
    for (int64_t i = 0; i < outCount; ++i) {
      const int32_t v = requantize(sums[size_t(i)], m, y_.zeroPoints[0], range.lo, range.hi);
      // the low byte (two bytes for 16-bit types) encodes the signed and unsigned types alike
      if (wideOut) reinterpret_cast<uint16_t*>(y.buffer->data())[i] = uint16_t(v);
      else y.buffer->data()[i] = uint8_t(v);
    }
    out[0] = std::move(y);
  }

  bool hasDeviceKernel() const override { return true; }

  // On the device when the reduced dims form one contiguous block (global pooling, a mean over
  // the last axes): an [outer, count, inner] view. Other layouts run on the host.
  bool runDevice(DeviceContext& ctx, const std::vector<const DeviceTensor*>& in, std::vector<DeviceTensor>& out) const override {
    const DeviceTensor& x = *in[0];
    const Plan p = plan(x.dtype, x.shape);
    if (!p.oneBlock) return false;
    MeanDeviceArgs a;
    a.outer = elementCount(Shape(x.shape.begin(), x.shape.begin() + int64_t(p.firstReduced)));
    a.count = p.count;
    a.inner = elementCount(Shape(x.shape.begin() + int64_t(p.lastReduced), x.shape.end()));
    a.inputType = x.dtype;
    a.inputZeroPoint = x_.zeroPoints[0];
    a.multiplier = p.multiplier;
    a.outputZeroPoint = y_.zeroPoints[0];
    a.range = y_.range();
    a.wideOutput = isWideQuantizedType(y_.dtype);
    DeviceTensor y = ctx.allocate(y_.dtype, p.shape);
    a.input = x.data();
    a.output = y.data();
    ctx.mean(a);
    out[0] = std::move(y);
    return true;
  }

 private:
  QuantParams x_, y_;
  std::vector<ReduceStage> stages_;
  std::string where_;
};

template <typename T>
void maxPoolPlanes(const T* x, T* y, int64_t planes, int64_t inH, int64_t inW, int64_t outH, int64_t outW,
                   const int64_t* kernel, const int64_t* stride, const int64_t* dilation, const int64_t* padBegin,
                   cpu::ThreadPool& pool) {
  // Output columns whose whole window lies inside the row: no bounds checks there.
  const int64_t oxBegin = std::min(outW, (padBegin[1] + stride[1] - 1) / stride[1]);
  const int64_t lastTap = (kernel[1] - 1) * dilation[1];
  const int64_t oxEnd = std::max(oxBegin, std::min(outW, inW - 1 - lastTap + padBegin[1] >= 0 ? (inW - 1 - lastTap + padBegin[1]) / stride[1] + 1 : 0));
  // Small planes (a digit's feature maps): several per task, not one.
  const int64_t grain = std::max<int64_t>(1, 4096 / std::max<int64_t>(outH * outW * kernel[0] * kernel[1], 1));
  pool.parallelFor((planes + grain - 1) / grain, [&](int64_t task) {
    for (int64_t p = task * grain; p < std::min(planes, (task + 1) * grain); ++p) {
      const T* src = x + p * inH * inW;
      T* dst = y + p * outH * outW;
      for (int64_t oy = 0; oy < outH; ++oy) {
        const int64_t iy0 = oy * stride[0] - padBegin[0];
        const bool rowsInside = iy0 >= 0 && iy0 + (kernel[0] - 1) * dilation[0] < inH;
        for (int64_t ox = 0; ox < outW; ++ox) {
          if (rowsInside && ox == oxBegin && oxEnd > oxBegin) {
            // Every tap of these windows is inside: the first tap seeds the maximum, so no flag.
            for (; ox < oxEnd; ++ox) {
              const T* window = src + iy0 * inW + ox * stride[1] - padBegin[1];
              T best = window[0];
              for (int64_t ky = 0; ky < kernel[0]; ++ky) {
                const T* row = window + ky * dilation[0] * inW;
                for (int64_t kx = 0; kx < kernel[1]; ++kx) {
                  const T v = row[kx * dilation[1]];
                  if (v > best) best = v;  // NaN never wins, as below
                }
              }
              dst[oy * outW + ox] = best;
            }
            if (ox == outW) break;
          }
          T best = std::numeric_limits<T>::lowest();
          bool any = false;
          for (int64_t ky = 0; ky < kernel[0]; ++ky) {
            const int64_t iy = oy * stride[0] - padBegin[0] + ky * dilation[0];
            if (iy < 0 || iy >= inH) continue;
            for (int64_t kx = 0; kx < kernel[1]; ++kx) {
              const int64_t ix = ox * stride[1] - padBegin[1] + kx * dilation[1];
              if (ix < 0 || ix >= inW) continue;
              const T v = src[iy * inW + ix];
              // NaN never wins, so float max stays deterministic.
              if (!any || v > best) { best = v; any = true; }
            }
          }
          dst[oy * outW + ox] = best;
        }
      }
    }
  });
}

class MaxPoolOp : public Op {
 public:
  MaxPoolOp(int64_t spatialRank, std::vector<int64_t> kernel, std::vector<int64_t> strides, std::vector<int64_t> dilations,
            std::vector<int64_t> pads, bool ceilMode, std::string autoPad, std::string where)
      : rank_(spatialRank), ceil_(ceilMode), autoPad_(std::move(autoPad)), where_(std::move(where)) {
    for (int64_t i = 0; i < spatialRank; ++i) {
      const size_t slot = size_t(2 - spatialRank + i);
      kernel_[slot] = kernel[size_t(i)];
      stride_[slot] = strides.empty() ? 1 : strides[size_t(i)];
      dilation_[slot] = dilations.empty() ? 1 : dilations[size_t(i)];
      padBegin_[slot] = pads.empty() ? 0 : pads[size_t(i)];
      padEnd_[slot] = pads.empty() ? 0 : pads[size_t(i + spatialRank)];
    }
  }

  // Output shape and the window geometry for an input shape.
  Shape plan(const Shape& shape, int64_t* inDims, int64_t* outDims, int64_t* padBegin) const {
    if (int64_t(shape.size()) != 2 + rank_) fail(ErrorCode::Input, where_ + ": input " + shapeToString(shape) + " has the wrong rank");
    inDims[0] = rank_ == 2 ? shape[2] : 1;
    inDims[1] = shape.back();
    for (int i = 0; i < 2; ++i) {
      const WindowDim d = windowDim(inDims[i], kernel_[i], stride_[i], dilation_[i], padBegin_[i], padEnd_[i], autoPad_, ceil_, where_);
      outDims[i] = d.out;
      padBegin[i] = d.padBegin;
    }
    Shape outShape = {shape[0], shape[1]};
    if (rank_ == 2) outShape.push_back(outDims[0]);
    outShape.push_back(outDims[1]);
    return outShape;
  }

  void run(ExecContext& ctx, const std::vector<const Tensor*>& in, std::vector<Tensor>& out) const override {
    const Tensor& x = *in[0];
    int64_t inDims[2], outDims[2], padBegin[2];
    const Shape outShape = plan(x.shape, inDims, outDims, padBegin);
    Tensor y = ctx.allocate(x.dtype, outShape);
    const int64_t planes = x.shape[0] * x.shape[1];
    switch (x.dtype) {
      case DType::UInt8: maxPoolPlanes(x.data<uint8_t>(), y.mutableData<uint8_t>(), planes, inDims[0], inDims[1], outDims[0], outDims[1], kernel_, stride_, dilation_, padBegin, ctx.pool); break;
      case DType::Int8: maxPoolPlanes(x.data<int8_t>(), y.mutableData<int8_t>(), planes, inDims[0], inDims[1], outDims[0], outDims[1], kernel_, stride_, dilation_, padBegin, ctx.pool); break;
      case DType::Int16: maxPoolPlanes(x.data<int16_t>(), y.mutableData<int16_t>(), planes, inDims[0], inDims[1], outDims[0], outDims[1], kernel_, stride_, dilation_, padBegin, ctx.pool); break;
      case DType::Float32: maxPoolPlanes(x.data<float>(), y.mutableData<float>(), planes, inDims[0], inDims[1], outDims[0], outDims[1], kernel_, stride_, dilation_, padBegin, ctx.pool); break;
      default: fail(ErrorCode::Input, where_ + ": MaxPool does not support " + dtypeName(x.dtype));
    }
    out[0] = std::move(y);
  }

  bool hasDeviceKernel() const override { return true; }

  bool runDevice(DeviceContext& ctx, const std::vector<const DeviceTensor*>& in, std::vector<DeviceTensor>& out) const override {
    const DeviceTensor& x = *in[0];
    if (x.dtype != DType::UInt8 && x.dtype != DType::Int8 && x.dtype != DType::Int16 && x.dtype != DType::Float32) {
      fail(ErrorCode::Input, where_ + ": MaxPool does not support " + dtypeName(x.dtype));
    }
    MaxPoolDeviceArgs a;
    int64_t inDims[2], outDims[2];
    const Shape outShape = plan(x.shape, inDims, outDims, a.padBegin);
    DeviceTensor y = ctx.allocate(x.dtype, outShape);
    a.dtype = x.dtype;
    a.planes = x.shape[0] * x.shape[1];
    a.inH = inDims[0];
    a.inW = inDims[1];
    a.outH = outDims[0];
    a.outW = outDims[1];
    for (int i = 0; i < 2; ++i) {
      a.kernel[i] = kernel_[i];
      a.stride[i] = stride_[i];
      a.dilation[i] = dilation_[i];
    }
    a.input = x.data();
    a.output = y.data();
    ctx.maxPool(a);
    out[0] = std::move(y);
    return true;
  }

 private:
  int64_t rank_;
  int64_t kernel_[2] = {1, 1}, stride_[2] = {1, 1}, dilation_[2] = {1, 1}, padBegin_[2] = {0, 0}, padEnd_[2] = {0, 0};
  bool ceil_;
  std::string autoPad_;
  std::string where_;
};

// com.microsoft QLinearAveragePool (NCHW, 1-D or 2-D): acc = sum (x - zx) over the window's
// inside elements; divisor = inside count, or with count_include_pad the window clipped to the
// padded input; y = requantize(acc, sx / (sy * divisor)).
class QLinearAveragePoolOp : public Op {
 public:
  QLinearAveragePoolOp(QuantParams x, QuantParams y, int64_t rank, std::vector<int64_t> kernel, std::vector<int64_t> strides,
                       std::vector<int64_t> pads, bool ceilMode, bool includePad, std::string autoPad, std::string where)
      : x_(std::move(x)), y_(std::move(y)), rank_(rank), ceil_(ceilMode), includePad_(includePad), autoPad_(std::move(autoPad)),
        where_(std::move(where)) {
    for (int64_t i = 0; i < rank; ++i) {
      const size_t slot = size_t(2 - rank + i);
      kernel_[slot] = kernel[size_t(i)];
      stride_[slot] = strides.empty() ? 1 : strides[size_t(i)];
      padBegin_[slot] = pads.empty() ? 0 : pads[size_t(i)];
      padEnd_[slot] = pads.empty() ? 0 : pads[size_t(i + rank)];
    }
    // The requantisation multiplier for every divisor a window can have (device kernels index it).
    const double ratio = double(x_.scales[0]) / double(y_.scales[0]);
    byDivisor_.resize(size_t(kernel_[0] * kernel_[1] + 1));
    for (size_t d = 1; d < byDivisor_.size(); ++d) allDivisorsValid_ = allDivisorsValid_ && deriveMultiplier(ratio / double(d), &byDivisor_[d]);
  }

  // Checks the input; the output shape and the window geometry.
  Shape plan(DType dtype, const Shape& shape, int64_t* inDims, int64_t* outDims, int64_t* padBegin, int64_t* padEnd) const {
    if (dtype != x_.dtype || int64_t(shape.size()) != 2 + rank_) {
      fail(ErrorCode::Input, where_ + ": input " + std::string(dtypeName(dtype)) + shapeToString(shape) + " does not fit");
    }
    inDims[0] = rank_ == 2 ? shape[2] : 1;
    inDims[1] = shape.back();
    for (int i = 0; i < 2; ++i) {
      const WindowDim d = windowDim(inDims[i], kernel_[i], stride_[i], 1, padBegin_[i], padEnd_[i], autoPad_, ceil_, where_);
      outDims[i] = d.out;
      padBegin[i] = d.padBegin;
      padEnd[i] = d.padEnd;
    }
    Shape outShape = {shape[0], shape[1]};
    if (rank_ == 2) outShape.push_back(outDims[0]);
    outShape.push_back(outDims[1]);
    return outShape;
  }

  void run(ExecContext& ctx, const std::vector<const Tensor*>& in, std::vector<Tensor>& out) const override {
    const Tensor& x = *in[0];
    int64_t inDims[2], outDims[2], padBegin[2], padEnd[2];
    const Shape outShape = plan(x.dtype, x.shape, inDims, outDims, padBegin, padEnd);
    Tensor y = ctx.allocate(y_.dtype, outShape);
    const bool isSigned = x.dtype == DType::Int8;
    const int32_t zx = x_.zeroPoints[0];
    const QRange range = y_.range();
    const double ratio = double(x_.scales[0]) / double(y_.scales[0]);
    ctx.pool.parallelFor(x.shape[0] * x.shape[1], [&](int64_t plane) {
      const uint8_t* src = x.bytes() + plane * inDims[0] * inDims[1];
      uint8_t* dst = y.buffer->data() + plane * outDims[0] * outDims[1];
      for (int64_t oy = 0; oy < outDims[0]; ++oy) {
        const int64_t y0 = oy * stride_[0] - padBegin[0];
        const int64_t y1 = std::min(y0 + kernel_[0], inDims[0] + padEnd[0]);
        for (int64_t ox = 0; ox < outDims[1]; ++ox) {
          const int64_t x0 = ox * stride_[1] - padBegin[1];
          const int64_t x1 = std::min(x0 + kernel_[1], inDims[1] + padEnd[1]);
          int32_t acc = 0;
          int64_t inside = 0;
          for (int64_t iy = std::max<int64_t>(0, y0); iy < std::min(y1, inDims[0]); ++iy) {
            for (int64_t ix = std::max<int64_t>(0, x0); ix < std::min(x1, inDims[1]); ++ix) {
              acc += quantizedAt(src, isSigned, iy * inDims[1] + ix) - zx;
              ++inside;
            }
          }
          const int64_t divisor = includePad_ ? (y1 - y0) * (x1 - x0) : inside;
          Multiplier m;
          if (divisor <= 0 || !deriveMultiplier(ratio / double(divisor), &m)) {
            fail(ErrorCode::Input, where_ + ": empty pooling window");
          }
          dst[oy * outDims[1] + ox] = uint8_t(requantize(acc, m, y_.zeroPoints[0], range.lo, range.hi));
        }
      }
    });
    out[0] = std::move(y);
  }

  bool hasDeviceKernel() const override { return true; }

  // On the device unless some window could be empty or have an unrepresentable multiplier: the
  // host path then raises the error at the element the CPU would.
  bool runDevice(DeviceContext& ctx, const std::vector<const DeviceTensor*>& in, std::vector<DeviceTensor>& out) const override {
    const DeviceTensor& x = *in[0];
    AveragePoolDeviceArgs a;
    int64_t inDims[2], outDims[2];
    const Shape outShape = plan(x.dtype, x.shape, inDims, outDims, a.padBegin, a.padEnd);
    if (!allDivisorsValid_) return false;
    for (int i = 0; i < 2; ++i) {
      for (int64_t o = 0; o < outDims[i]; ++o) {
        const int64_t begin = o * stride_[i] - a.padBegin[i];
        const int64_t end = std::min(begin + kernel_[i], inDims[i] + a.padEnd[i]);
        if (std::min(end, inDims[i]) - std::max<int64_t>(0, begin) < 1) return false;
      }
    }
    DeviceTensor y = ctx.allocate(y_.dtype, outShape);
    a.hostMultipliers = byDivisor_.data();
    a.planes = x.shape[0] * x.shape[1];
    a.inH = inDims[0];
    a.inW = inDims[1];
    a.outH = outDims[0];
    a.outW = outDims[1];
    for (int i = 0; i < 2; ++i) {
      a.kernel[i] = kernel_[i];
      a.stride[i] = stride_[i];
    }
    a.includePad = includePad_;
    a.inputSigned = x.dtype == DType::Int8;
    a.inputZeroPoint = x_.zeroPoints[0];
    a.outputZeroPoint = y_.zeroPoints[0];
    a.range = y_.range();
    a.input = x.data();
    a.output = y.data();
    ctx.averagePool(a);
    out[0] = std::move(y);
    return true;
  }

 private:
  QuantParams x_, y_;
  int64_t rank_;
  int64_t kernel_[2] = {1, 1}, stride_[2] = {1, 1}, padBegin_[2] = {0, 0}, padEnd_[2] = {0, 0};
  std::vector<Multiplier> byDivisor_;
  bool allDivisorsValid_ = true;
  bool ceil_, includePad_;
  std::string autoPad_;
  std::string where_;
};

}  // namespace

std::unique_ptr<Op> createQLinearAveragePool(BuildContext& ctx) {
  ctx.requireInputs(5, 5);
  QuantParams x = readPerTensorByteParams(ctx, 1, 2, "input");
  QuantParams y = readPerTensorByteParams(ctx, 3, 4, "output");
  if (ctx.attrInt("channels_last", 0) != 0) ctx.unsupported("channels_last=1");
  const std::vector<int64_t> kernel = ctx.attrInts("kernel_shape");
  if (kernel.size() != 1 && kernel.size() != 2) ctx.unsupported("only 1-D and 2-D pooling is supported");
  const int64_t rank = int64_t(kernel.size());
  const std::vector<int64_t> strides = ctx.attrInts("strides"), pads = ctx.attrInts("pads");
  if ((!strides.empty() && int64_t(strides.size()) != rank) || (!pads.empty() && int64_t(pads.size()) != 2 * rank)) {
    ctx.invalid("strides or pads do not match kernel_shape");
  }
  checkWindowAttributes(ctx, kernel, strides, {}, pads);
  // The window sum is bounded by area * 255: far inside int32 for any real kernel.
  if (kernel[0] * (rank == 2 ? kernel[1] : 1) > (int64_t(1) << 20)) ctx.overflow("pooling window too large");
  return std::make_unique<QLinearAveragePoolOp>(std::move(x), std::move(y), rank, kernel, strides, pads,
                                                ctx.attrInt("ceil_mode", 0) != 0, ctx.attrInt("count_include_pad", 0) != 0,
                                                ctx.attrString("auto_pad", "NOTSET"), ctx.where());
}

std::unique_ptr<Op> createQLinearGlobalAveragePool(BuildContext& ctx) {
  ctx.requireInputs(5, 5);
  QuantParams x = readPerTensorByteParams(ctx, 1, 2, "input");
  QuantParams y = readPerTensorByteParams(ctx, 3, 4, "output");
  if (x.dtype != y.dtype) ctx.unsupported("input and output types differ");
  // NCHW: every spatial dim after the channel is averaged and kept as a 1.
  if (ctx.attrInt("channels_last", 0) != 0) ctx.unsupported("channels_last=1");
  ReduceStage stage;
  stage.firstAxis = 2;
  stage.keepDims = true;
  return std::make_unique<QuantizedMeanOp>(std::move(x), std::move(y), std::vector<ReduceStage>{stage}, ctx.where());
}

// bitexact::QLinearReduceMean, produced by the QDQ rewrite from DequantizeLinear -> ReduceMean+
// -> QuantizeLinear (8- or 16-bit). Attributes: stages (int), axes<i> (ints), keepdims<i> (int).
std::unique_ptr<Op> createQLinearReduceMean(BuildContext& ctx) {
  ctx.requireInputs(5, 5);
  QuantParams x = readPerTensorParams(ctx, 1, 2, "input");
  QuantParams y = readPerTensorParams(ctx, 3, 4, "output");
  std::vector<ReduceStage> stages;
  const int64_t count = ctx.attrInt("stages", 0);
  for (int64_t i = 0; i < count; ++i) {
    ReduceStage s;
    s.axes = ctx.attrInts(("axes" + std::to_string(i)).c_str());
    s.keepDims = ctx.attrInt(("keepdims" + std::to_string(i)).c_str(), 1) != 0;
    stages.push_back(s);
  }
  return std::make_unique<QuantizedMeanOp>(std::move(x), std::move(y), std::move(stages), ctx.where());
}

std::unique_ptr<Op> createMaxPool(BuildContext& ctx) {
  ctx.requireInputs(1, 1);
  if (ctx.node.outputs.size() > 1) ctx.unsupported("the Indices output");
  const std::vector<int64_t> kernel = ctx.attrInts("kernel_shape");
  if (kernel.size() != 1 && kernel.size() != 2) ctx.unsupported("only 1-D and 2-D pooling is supported");
  const int64_t rank = int64_t(kernel.size());
  const std::vector<int64_t> strides = ctx.attrInts("strides"), dilations = ctx.attrInts("dilations"), pads = ctx.attrInts("pads");
  if ((!strides.empty() && int64_t(strides.size()) != rank) || (!dilations.empty() && int64_t(dilations.size()) != rank) ||
      (!pads.empty() && int64_t(pads.size()) != 2 * rank)) {
    ctx.invalid("strides, dilations or pads do not match kernel_shape");
  }
  if (ctx.attrInt("storage_order", 0) != 0) ctx.unsupported("storage_order=1");
  checkWindowAttributes(ctx, kernel, strides, dilations, pads);
  return std::make_unique<MaxPoolOp>(rank, kernel, strides, dilations, pads, ctx.attrInt("ceil_mode", 0) != 0,
                                     ctx.attrString("auto_pad", "NOTSET"), ctx.where());
}

}  // namespace bx
