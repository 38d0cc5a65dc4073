// Pad and Resize (nearest) on any element type: both only move elements, so they are exact. The
// source indices of Resize are computed with binary32 arithmetic, as ONNX specifies them.
#include <cmath>
#include <cstring>

#include "device_gather.h"
#include "ops_common.h"

namespace bx {
namespace {

// Inputs 1.. of a device op (pads, scales, sizes: a few numbers) as host tensors in `storage`;
// input 0 (the data) stays on the device and is null here.
std::vector<const Tensor*> auxiliaryInputsOnHost(DeviceContext& ctx, const std::vector<const DeviceTensor*>& in,
                                                 std::vector<Tensor>* storage) {
  storage->assign(in.size(), Tensor());
  std::vector<const Tensor*> hostIn(in.size(), nullptr);
  for (size_t i = 1; i < in.size(); ++i) {
    if (!in[i]) continue;
    (*storage)[i] = ctx.download(*in[i]);
    hostIn[i] = &(*storage)[i];
  }
  return hostIn;
}

// The device form: per-dimension input offsets from the per-dimension source indices.
bool gatherByAxisIndicesOnDevice(DeviceContext& ctx, const DeviceTensor& x, DeviceTensor& y,
                                 const std::vector<std::vector<int64_t>>& sources, const uint8_t* fill) {
  const std::vector<int64_t> inStride = contiguousStrides(x.shape);
  std::vector<std::vector<int64_t>> offsets(sources.size());
  for (size_t d = 0; d < sources.size(); ++d) {
    for (int64_t s : sources[d]) offsets[d].push_back(s < 0 ? -1 : s * inStride[d]);
  }
  return deviceAxisGather(ctx, x, y.data(), y.shape, offsets, {}, fill);
}

// Copies one element per output position from a per-dimension source index (-1 = fill value).
void gatherByAxisIndices(const Tensor& x, Tensor& y, const std::vector<std::vector<int64_t>>& sources, const uint8_t* fill) {
  const size_t rank = y.shape.size();
  const size_t element = dtypeSize(x.dtype);
  std::vector<int64_t> inStride(rank, 1);
  for (size_t d = rank; d-- > 1;) inStride[d - 1] = inStride[d] * x.shape[d];
  std::vector<int64_t> coord(rank, 0);
  for (int64_t i = 0, n = y.size(); i < n; ++i) {
    int64_t src = 0;
    bool inside = true;
    for (size_t d = 0; d < rank; ++d) {
      const int64_t s = sources[d][size_t(coord[d])];
      if (s < 0) { inside = false; break; }
      src += s * inStride[d];
    }
    std::memcpy(y.buffer->data() + size_t(i) * element, inside ? x.bytes() + size_t(src) * element : fill, element);
    for (size_t d = rank; d-- > 0;) {
      if (++coord[d] < y.shape[d]) break;
      coord[d] = 0;
    }
  }
}

class PadOp : public Op {
 public:
  PadOp(std::string mode, std::vector<int64_t> pads, Tensor value, bool fromInputs, std::string where)
      : mode_(std::move(mode)), pads_(std::move(pads)), value_(std::move(value)), fromInputs_(fromInputs), where_(std::move(where)) {}

  // The output shape, per-dimension source indices (-1: fill) and the fill value's bytes, for an
  // input of type `dtype` and shape `inShape`; `in` gives inputs 1-3 (pads, value, axes).
  Shape plan(DType dtype, const Shape& inShape, const std::vector<const Tensor*>& in, std::vector<std::vector<int64_t>>* sourcesOut,
             std::vector<uint8_t>* fillOut) const {
    const int64_t rank = int64_t(inShape.size());
    std::vector<int64_t> pads = pads_;
    std::vector<int64_t> axes;
    if (fromInputs_) {
      pads = readInts(*in[1], where_, "pads");
      if (in.size() > 3 && in[3]) axes = readInts(*in[3], where_, "axes");
    }
    if (axes.empty()) for (int64_t d = 0; d < rank; ++d) axes.push_back(d);
    if (pads.size() != 2 * axes.size()) fail(ErrorCode::Input, where_ + ": pads has the wrong length");
    std::vector<int64_t> before(size_t(rank), 0), after(size_t(rank), 0);
    for (size_t i = 0; i < axes.size(); ++i) {
      const int64_t a = normalizeAxis(axes[i], rank, "Pad");
      before[size_t(a)] = pads[i];
      after[size_t(a)] = pads[i + axes.size()];
    }
    // The fill value: input 2 when given (same type as the data), else the attribute / zero.
    std::vector<uint8_t>& fill = *fillOut;
    fill.assign(dtypeSize(dtype), 0);
    const Tensor* value = fromInputs_ && in.size() > 2 && in[2] ? in[2] : (value_.buffer ? &value_ : nullptr);
    if (value) {
      if (value->dtype != dtype || value->size() != 1) fail(ErrorCode::Input, where_ + ": constant_value must be one element of the data type");
      std::memcpy(fill.data(), value->bytes(), fill.size());
    }
    Shape shape(static_cast<size_t>(rank));
    std::vector<std::vector<int64_t>>& sources = *sourcesOut;
    sources.assign(static_cast<size_t>(rank), {});
    for (int64_t d = 0; d < rank; ++d) {
      const int64_t n = inShape[size_t(d)];
      shape[size_t(d)] = n + before[size_t(d)] + after[size_t(d)];
      if (shape[size_t(d)] < 0) fail(ErrorCode::Input, where_ + ": pads remove more than the dimension holds");
      if (n == 0 && mode_ != "constant" && shape[size_t(d)] > 0) fail(ErrorCode::Input, where_ + ": cannot " + mode_ + "-pad an empty dimension");
      for (int64_t o = 0; o < shape[size_t(d)]; ++o) {
        int64_t i = o - before[size_t(d)];
        if (i < 0 || i >= n) {
          if (mode_ == "constant") i = -1;
          else if (mode_ == "edge") i = i < 0 ? 0 : n - 1;
          else if (mode_ == "wrap") i = ((i % n) + n) % n;
          else {  // reflect, without repeating the edge
            const int64_t period = 2 * (n - 1);
            if (period == 0) i = 0;
            else { i = ((i % period) + period) % period; if (i >= n) i = period - i; }
          }
        }
        sources[size_t(d)].push_back(i);
      }
    }
    return shape;
  }

  void run(ExecContext& ctx, const std::vector<const Tensor*>& in, std::vector<Tensor>& out) const override {
    const Tensor& x = *in[0];
    std::vector<std::vector<int64_t>> sources;
    std::vector<uint8_t> fill;
    const Shape shape = plan(x.dtype, x.shape, in, &sources, &fill);
    Tensor y = ctx.allocate(x.dtype, shape);
    gatherByAxisIndices(x, y, sources, fill.data());
    out[0] = std::move(y);
  }

  bool hasDeviceKernel() const override { return true; }

  bool runDevice(DeviceContext& ctx, const std::vector<const DeviceTensor*>& in, std::vector<DeviceTensor>& out) const override {
    const DeviceTensor& x = *in[0];
    std::vector<Tensor> host;  // pads, value, axes: small, read on the host
    const std::vector<const Tensor*> hostIn = auxiliaryInputsOnHost(ctx, in, &host);
    std::vector<std::vector<int64_t>> sources;
    std::vector<uint8_t> fill;
    const Shape shape = plan(x.dtype, x.shape, hostIn, &sources, &fill);
    DeviceTensor y = ctx.allocate(x.dtype, shape);
    if (!gatherByAxisIndicesOnDevice(ctx, x, y, sources, fill.data())) return false;
    out[0] = std::move(y);
    return true;
  }

 private:
  std::string mode_;
  std::vector<int64_t> pads_;
  Tensor value_;
  bool fromInputs_;
  std::string where_;
};

class ResizeNearestOp : public Op {
 public:
  ResizeNearestOp(std::string transform, std::string nearest, size_t scalesInput, size_t sizesInput, std::string where)
      : transform_(std::move(transform)), nearest_(std::move(nearest)), scalesInput_(scalesInput), sizesInput_(sizesInput),
        where_(std::move(where)) {}

  // The output shape and per-dimension source indices; `in` gives the scales/sizes inputs.
  Shape plan(const Shape& inShape, const std::vector<const Tensor*>& in, std::vector<std::vector<int64_t>>* sourcesOut) const {
    const size_t rank = inShape.size();
    std::vector<float> scales(rank, 1.0f);
    Shape shape = inShape;
    const Tensor* sizes = sizesInput_ < in.size() ? in[sizesInput_] : nullptr;
    const Tensor* scaleTensor = scalesInput_ < in.size() ? in[scalesInput_] : nullptr;
    if (sizes && sizes->size() > 0) {
      const std::vector<int64_t> v = readInts(*sizes, where_, "sizes");
      if (v.size() != rank) fail(ErrorCode::Input, where_ + ": sizes must give every dimension");
      for (size_t d = 0; d < rank; ++d) {
        shape[d] = v[d];
        scales[d] = float(v[d]) / float(inShape[d]);
      }
    } else if (scaleTensor && scaleTensor->size() > 0) {
      if (scaleTensor->dtype != DType::Float32 || size_t(scaleTensor->size()) != rank) fail(ErrorCode::Input, where_ + ": scales must be float32, one per dimension");
      for (size_t d = 0; d < rank; ++d) {
        scales[d] = scaleTensor->floatAt(int64_t(d));
        if (!(scales[d] > 0.0f)) fail(ErrorCode::Input, where_ + ": scales must be positive");
        shape[d] = int64_t(std::floor(float(inShape[d]) * scales[d]));
      }
    } else {
      fail(ErrorCode::Input, where_ + ": needs scales or sizes");
    }
    std::vector<std::vector<int64_t>>& sources = *sourcesOut;
    sources.assign(rank, {});
    for (size_t d = 0; d < rank; ++d) {
      const int64_t n = inShape[d];
      for (int64_t o = 0; o < shape[d]; ++o) sources[d].push_back(sourceIndex(o, n, shape[d], scales[d]));
    }
    return shape;
  }

  void run(ExecContext& ctx, const std::vector<const Tensor*>& in, std::vector<Tensor>& out) const override {
    const Tensor& x = *in[0];
    std::vector<std::vector<int64_t>> sources;
    const Shape shape = plan(x.shape, in, &sources);
    Tensor y = ctx.allocate(x.dtype, shape);
    gatherByAxisIndices(x, y, sources, nullptr);
    out[0] = std::move(y);
  }

  bool hasDeviceKernel() const override { return true; }

  bool runDevice(DeviceContext& ctx, const std::vector<const DeviceTensor*>& in, std::vector<DeviceTensor>& out) const override {
    const DeviceTensor& x = *in[0];
    std::vector<Tensor> host;  // roi, scales, sizes: small, read on the host
    const std::vector<const Tensor*> hostIn = auxiliaryInputsOnHost(ctx, in, &host);
    std::vector<std::vector<int64_t>> sources;
    const Shape shape = plan(x.shape, hostIn, &sources);
    DeviceTensor y = ctx.allocate(x.dtype, shape);
    if (!gatherByAxisIndicesOnDevice(ctx, x, y, sources, nullptr)) return false;
    out[0] = std::move(y);
    return true;
  }

 private:
  int64_t sourceIndex(int64_t o, int64_t inLength, int64_t outLength, float scale) const {
    const float of = float(o);
    float v;
    if (transform_ == "asymmetric") v = of / scale;
    else if (transform_ == "align_corners") v = outLength == 1 ? 0.0f : of * float(inLength - 1) / float(outLength - 1);
    else if (transform_ == "pytorch_half_pixel") v = outLength > 1 ? (of + 0.5f) / scale - 0.5f : 0.0f;
    else if (transform_ == "tf_half_pixel_for_nn") v = (of + 0.5f) / scale;
    else v = (of + 0.5f) / scale - 0.5f;  // half_pixel
    float r;
    if (nearest_ == "floor") r = std::floor(v);
    else if (nearest_ == "ceil") r = std::ceil(v);
    else if (nearest_ == "round_prefer_ceil") r = (v - std::floor(v) == 0.5f) ? std::ceil(v) : std::floor(v + 0.5f);
    else r = (v - std::floor(v) == 0.5f) ? std::floor(v) : std::floor(v + 0.5f);  // round_prefer_floor
    const int64_t i = int64_t(r);
    return i < 0 ? 0 : (i >= inLength ? inLength - 1 : i);
  }

  std::string transform_, nearest_;
  size_t scalesInput_, sizesInput_;
  std::string where_;
};

}  // namespace

std::unique_ptr<Op> createPad(BuildContext& ctx) {
  const std::string mode = ctx.attrString("mode", "constant");
  if (mode != "constant" && mode != "reflect" && mode != "edge" && mode != "wrap") ctx.unsupported("Pad mode '" + mode + "'");
  if (ctx.opset < 11) {
    ctx.requireInputs(1, 1);
    const float value = ctx.attrFloat("value", 0.0f);
    Tensor v;
    if (value != 0.0f) ctx.unsupported("Pad with a non-zero 'value' attribute on a quantized graph");
    return std::make_unique<PadOp>(mode, ctx.attrInts("pads"), v, false, ctx.where());
  }
  ctx.requireInputs(2, 4);
  return std::make_unique<PadOp>(mode, std::vector<int64_t>{}, Tensor(), true, ctx.where());
}

std::unique_ptr<Op> createResize(BuildContext& ctx) {
  const std::string mode = ctx.attrString("mode", "nearest");
  if (mode != "nearest") ctx.unsupported("Resize mode '" + mode + "' (only nearest moves values without arithmetic)");
  if (ctx.opset < 11) {
    ctx.requireInputs(2, 2);
    return std::make_unique<ResizeNearestOp>("asymmetric", "floor", 1, 99, ctx.where());
  }
  ctx.requireInputs(1, 4);
  if (ctx.attrInt("antialias", 0) != 0) ctx.unsupported("antialias");
  const std::string transform = ctx.attrString("coordinate_transformation_mode", "half_pixel");
  if (transform == "tf_crop_and_resize") ctx.unsupported("coordinate_transformation_mode tf_crop_and_resize");
  return std::make_unique<ResizeNearestOp>(transform, ctx.attrString("nearest_mode", "round_prefer_floor"), 2, 3, ctx.where());
}

}  // namespace bx
