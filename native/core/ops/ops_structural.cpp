// Ops that move or select elements without arithmetic; they work on every element type (shape
// tensors are int64). Shape-only subgraphs built from them are folded at load time when their
// inputs are constant (see graph.cpp).
#include <climits>
#include <cstring>
#include <numeric>

#include "device_gather.h"
#include "ops_common.h"

namespace bx {
namespace {

class IdentityOp : public Op {
 public:
  void run(ExecContext&, const std::vector<const Tensor*>& in, std::vector<Tensor>& out) const override { out[0] = *in[0]; }
  DataUse dataUse() const override { return DataUse::ViewOfFirst; }
};

class ShapeOp : public Op {
 public:
  ShapeOp(int64_t start, int64_t end, bool hasEnd) : start_(start), end_(end), hasEnd_(hasEnd) {}
  DataUse dataUse() const override { return DataUse::ShapeOfFirst; }
  void run(ExecContext& ctx, const std::vector<const Tensor*>& in, std::vector<Tensor>& out) const override {
    const int64_t rank = int64_t(in[0]->shape.size());
    const auto clampAxis = [rank](int64_t a) { a = a < 0 ? a + rank : a; return std::max<int64_t>(0, std::min(rank, a)); };
    const int64_t begin = clampAxis(start_), end = hasEnd_ ? clampAxis(end_) : rank;
    Tensor y = ctx.allocate(DType::Int64, {std::max<int64_t>(0, end - begin)});
    for (int64_t i = begin; i < end; ++i) y.mutableData<int64_t>()[i - begin] = in[0]->shape[size_t(i)];
    out[0] = std::move(y);
  }

 private:
  int64_t start_, end_;
  bool hasEnd_;
};

class ReshapeOp : public Op {
 public:
  ReshapeOp(bool allowZero, std::string where) : allowZero_(allowZero), where_(std::move(where)) {}
  DataUse dataUse() const override { return DataUse::ViewOfFirst; }
  void run(ExecContext&, const std::vector<const Tensor*>& in, std::vector<Tensor>& out) const override {
    const Tensor& x = *in[0];
    std::vector<int64_t> target = readInts(*in[1], where_, "shape");
    int64_t known = 1, inferAt = -1;
    for (size_t i = 0; i < target.size(); ++i) {
      if (target[i] == 0 && !allowZero_) {
        if (i >= x.shape.size()) fail(ErrorCode::Input, where_ + ": shape entry 0 copies a dimension the input lacks");
        target[i] = x.shape[i];
      }
      if (target[i] == -1) {
        if (inferAt >= 0) fail(ErrorCode::Input, where_ + ": more than one -1 in the target shape");
        inferAt = int64_t(i);
        continue;
      }
      if (target[i] < 0) fail(ErrorCode::Input, where_ + ": negative dimension in the target shape");
      known *= target[i];
    }
    if (inferAt >= 0) {
      if (known == 0 || x.size() % known != 0) {
        fail(ErrorCode::Input, where_ + ": cannot reshape " + shapeToString(x.shape) + " to " + shapeToString(target));
      }
      target[size_t(inferAt)] = x.size() / known;
    }
    if (elementCount(target) != x.size()) {
      fail(ErrorCode::Input, where_ + ": cannot reshape " + shapeToString(x.shape) + " to " + shapeToString(target));
    }
    out[0] = reshapeView(x, target);
  }

 private:
  bool allowZero_;
  std::string where_;
};

class FlattenOp : public Op {
 public:
  FlattenOp(int64_t axis, std::string where) : axis_(axis), where_(std::move(where)) {}
  DataUse dataUse() const override { return DataUse::ViewOfFirst; }
  void run(ExecContext&, const std::vector<const Tensor*>& in, std::vector<Tensor>& out) const override {
    const Tensor& x = *in[0];
    const int64_t rank = int64_t(x.shape.size());
    const int64_t axis = axis_ < 0 ? axis_ + rank : axis_;
    if (axis < 0 || axis > rank) fail(ErrorCode::Input, where_ + ": axis out of range");
    int64_t outer = 1;
    for (int64_t i = 0; i < axis; ++i) outer *= x.shape[size_t(i)];
    out[0] = reshapeView(x, {outer, outer == 0 ? 0 : x.size() / outer});
  }

 private:
  int64_t axis_;
  std::string where_;
};

// Unsqueeze (insert = true) and Squeeze; axes from the attribute (old opsets) or input 1.
class SqueezeOp : public Op {
 public:
  SqueezeOp(bool insert, std::vector<int64_t> axes, bool axesFromInput, std::string where)
      : insert_(insert), axes_(std::move(axes)), axesFromInput_(axesFromInput), where_(std::move(where)) {}
  DataUse dataUse() const override { return DataUse::ViewOfFirst; }
  void run(ExecContext&, const std::vector<const Tensor*>& in, std::vector<Tensor>& out) const override {
    const Tensor& x = *in[0];
    std::vector<int64_t> axes = axes_;
    if (axesFromInput_ && in.size() > 1 && in[1]) axes = readInts(*in[1], where_, "axes");
    Shape shape = x.shape;
    if (insert_) {
      const int64_t outRank = int64_t(shape.size() + axes.size());
      std::vector<bool> inserted(size_t(outRank), false);
      for (int64_t a : axes) {
        const int64_t n = normalizeAxis(a, outRank, "Unsqueeze");
        if (inserted[size_t(n)]) fail(ErrorCode::Input, where_ + ": repeated axis");
        inserted[size_t(n)] = true;
      }
      Shape result;
      size_t next = 0;
      for (int64_t d = 0; d < outRank; ++d) result.push_back(inserted[size_t(d)] ? 1 : shape[next++]);
      out[0] = reshapeView(x, result);
      return;
    }
    std::vector<bool> drop(shape.size(), false);
    if (axes.empty()) {
      for (size_t d = 0; d < shape.size(); ++d) drop[d] = shape[d] == 1;
    } else {
      for (int64_t a : axes) {
        const int64_t n = normalizeAxis(a, int64_t(shape.size()), "Squeeze");
        if (shape[size_t(n)] != 1) fail(ErrorCode::Input, where_ + ": cannot squeeze a dimension of size " + std::to_string(shape[size_t(n)]));
        drop[size_t(n)] = true;
      }
    }
    Shape result;
    for (size_t d = 0; d < shape.size(); ++d) if (!drop[d]) result.push_back(shape[d]);
    out[0] = reshapeView(x, result);
  }

 private:
  bool insert_;
  std::vector<int64_t> axes_;
  bool axesFromInput_;
  std::string where_;
};

class ConcatOp : public Op {
 public:
  ConcatOp(int64_t axis, std::string where) : axis_(axis), where_(std::move(where)) {}
  void run(ExecContext& ctx, const std::vector<const Tensor*>& in, std::vector<Tensor>& out) const override {
    const ConcatLayout l = planConcat(in, axis_, where_);
    Tensor y = ctx.allocate(in[0]->dtype, l.shape);
    const size_t element = dtypeSize(y.dtype);
    const int64_t outRow = l.shape[size_t(l.axis)] * l.inner;
    int64_t offset = 0;
    for (const Tensor* t : in) {
      const int64_t row = t->shape[size_t(l.axis)] * l.inner;
      for (int64_t o = 0; o < l.outer; ++o) {
        std::memcpy(y.buffer->data() + size_t(o * outRow + offset) * element, t->bytes() + size_t(o * row) * element, size_t(row) * element);
      }
      offset += row;
    }
    out[0] = std::move(y);
  }

  bool hasDeviceKernel() const override { return true; }

  bool runDevice(DeviceContext& ctx, const std::vector<const DeviceTensor*>& in, std::vector<DeviceTensor>& out) const override {
    std::vector<Tensor> shapes;  // dtype and shape only: planConcat reads nothing else
    for (const DeviceTensor* t : in) {
      Tensor s;
      s.dtype = t->dtype;
      s.shape = t->shape;
      shapes.push_back(std::move(s));
    }
    std::vector<const Tensor*> parts;
    for (const Tensor& s : shapes) parts.push_back(&s);
    const ConcatLayout l = planConcat(parts, axis_, where_);
    DeviceTensor y = ctx.allocate(in[0]->dtype, l.shape);
    if (!deviceConcat(ctx, in, l, y)) return false;
    out[0] = std::move(y);
    return true;
  }

 private:
  int64_t axis_;
  std::string where_;
};

class GatherOp : public Op {
 public:
  GatherOp(int64_t axis, std::string where) : axis_(axis), where_(std::move(where)) {}

  // Output shape, the [outer, count, inner] geometry and the indices made non-negative.
  struct Plan {
    Shape shape;
    int64_t outer = 1, inner = 1, extent = 0;
    std::vector<int64_t> indices;
  };

  Plan plan(const Shape& dataShape, const Tensor& indexTensor) const {
    Plan p;
    p.indices = readInts(indexTensor, where_, "indices");
    const int64_t rank = int64_t(dataShape.size());
    const int64_t axis = normalizeAxis(axis_, rank, "Gather");
    p.extent = dataShape[size_t(axis)];
    p.shape.assign(dataShape.begin(), dataShape.begin() + axis);
    p.shape.insert(p.shape.end(), indexTensor.shape.begin(), indexTensor.shape.end());
    p.shape.insert(p.shape.end(), dataShape.begin() + axis + 1, dataShape.end());
    for (int64_t d = 0; d < axis; ++d) p.outer *= dataShape[size_t(d)];
    for (int64_t d = axis + 1; d < rank; ++d) p.inner *= dataShape[size_t(d)];
    for (int64_t& idx : p.indices) {
      const int64_t given = idx;
      if (idx < 0) idx += p.extent;
      if (idx < 0 || idx >= p.extent) {
        fail(ErrorCode::Input, where_ + ": index " + std::to_string(given) + " is out of range for a dimension of " + std::to_string(p.extent));
      }
    }
    return p;
  }

  void run(ExecContext& ctx, const std::vector<const Tensor*>& in, std::vector<Tensor>& out) const override {
    const Tensor& data = *in[0];
    const Plan p = plan(data.shape, *in[1]);
    Tensor y = ctx.allocate(data.dtype, p.shape);
    const size_t element = dtypeSize(data.dtype);
    const int64_t count = int64_t(p.indices.size());
    for (int64_t o = 0; o < p.outer; ++o) {
      for (int64_t j = 0; j < count; ++j) {
        std::memcpy(y.buffer->data() + size_t((o * count + j) * p.inner) * element,
                    data.bytes() + size_t((o * p.extent + p.indices[size_t(j)]) * p.inner) * element, size_t(p.inner) * element);
      }
    }
    out[0] = std::move(y);
  }

  bool hasDeviceKernel() const override { return true; }

  bool runDevice(DeviceContext& ctx, const std::vector<const DeviceTensor*>& in, std::vector<DeviceTensor>& out) const override {
    const DeviceTensor& data = *in[0];
    const Plan p = plan(data.shape, ctx.download(*in[1]));
    DeviceTensor y = ctx.allocate(data.dtype, p.shape);
    const int64_t count = int64_t(p.indices.size());
    std::vector<std::vector<int64_t>> offsets(3);
    for (int64_t o = 0; o < p.outer; ++o) offsets[0].push_back(o * p.extent * p.inner);
    for (int64_t j = 0; j < count; ++j) offsets[1].push_back(p.indices[size_t(j)] * p.inner);
    for (int64_t k = 0; k < p.inner; ++k) offsets[2].push_back(k);
    if (!deviceAxisGather(ctx, data, y.data(), {p.outer, count, p.inner}, offsets)) return false;
    out[0] = std::move(y);
    return true;
  }

 private:
  int64_t axis_;
  std::string where_;
};

class TransposeOp : public Op {
 public:
  TransposeOp(std::vector<int64_t> perm, std::string where) : perm_(std::move(perm)), where_(std::move(where)) {}
  // The output shape and, per output dim, the input stride it walks.
  Shape plan(const Shape& inShape, std::vector<int64_t>* stride) const {
    const size_t rank = inShape.size();
    std::vector<int64_t> perm = perm_;
    if (perm.empty()) for (size_t d = 0; d < rank; ++d) perm.push_back(int64_t(rank - 1 - d));
    if (perm.size() != rank) fail(ErrorCode::Input, where_ + ": perm length does not match the input rank");
    std::vector<bool> seen(rank, false);
    for (int64_t p : perm) {
      if (p < 0 || p >= int64_t(rank) || seen[size_t(p)]) fail(ErrorCode::InvalidModel, where_ + ": perm is not a permutation");
      seen[size_t(p)] = true;
    }
    Shape shape(rank);
    const std::vector<int64_t> inStride = contiguousStrides(inShape);
    stride->assign(rank, 0);
    for (size_t d = 0; d < rank; ++d) {
      shape[d] = inShape[size_t(perm[d])];
      (*stride)[d] = inStride[size_t(perm[d])];
    }
    return shape;
  }

  void run(ExecContext& ctx, const std::vector<const Tensor*>& in, std::vector<Tensor>& out) const override {
    const Tensor& x = *in[0];
    const size_t rank = x.shape.size();
    std::vector<int64_t> stride;
    const Shape shape = plan(x.shape, &stride);
    Tensor y = ctx.allocate(x.dtype, shape);
    const size_t element = dtypeSize(x.dtype);
    std::vector<int64_t> coord(rank, 0);
    int64_t src = 0;
    for (int64_t i = 0, n = y.size(); i < n; ++i) {
      std::memcpy(y.buffer->data() + size_t(i) * element, x.bytes() + size_t(src) * element, element);
      for (size_t d = rank; d-- > 0;) {
        src += stride[d];
        if (++coord[d] < shape[d]) break;
        src -= stride[d] * shape[d];
        coord[d] = 0;
      }
    }
    out[0] = std::move(y);
  }

  bool hasDeviceKernel() const override { return true; }

  bool runDevice(DeviceContext& ctx, const std::vector<const DeviceTensor*>& in, std::vector<DeviceTensor>& out) const override {
    const DeviceTensor& x = *in[0];
    std::vector<int64_t> stride;
    const Shape shape = plan(x.shape, &stride);
    DeviceTensor y = ctx.allocate(x.dtype, shape);
    std::vector<std::vector<int64_t>> offsets(shape.size());
    for (size_t d = 0; d < shape.size(); ++d) {
      for (int64_t c = 0; c < shape[d]; ++c) offsets[d].push_back(c * stride[d]);
    }
    if (!deviceAxisGather(ctx, x, y.data(), shape, offsets)) return false;
    out[0] = std::move(y);
    return true;
  }

 private:
  std::vector<int64_t> perm_;
  std::string where_;
};

class SliceOp : public Op {
 public:
  // Opset < 10 passes starts/ends/axes as attributes; later opsets as inputs 1-4.
  SliceOp(std::vector<int64_t> starts, std::vector<int64_t> ends, std::vector<int64_t> axes, bool fromInputs, std::string where)
      : starts_(std::move(starts)), ends_(std::move(ends)), axes_(std::move(axes)), fromInputs_(fromInputs), where_(std::move(where)) {}

  // The output shape and, per dim, the first input index and the step. `aux` holds inputs 1-4.
  Shape plan(const Shape& inShape, const std::vector<const Tensor*>& aux, std::vector<int64_t>* begin, std::vector<int64_t>* step) const {
    std::vector<int64_t> starts = starts_, ends = ends_, axes = axes_, steps;
    if (fromInputs_) {
      starts = readInts(*aux[0], where_, "starts");
      ends = readInts(*aux[1], where_, "ends");
      if (aux.size() > 2 && aux[2]) axes = readInts(*aux[2], where_, "axes");
      if (aux.size() > 3 && aux[3]) steps = readInts(*aux[3], where_, "steps");
    }
    const int64_t rank = int64_t(inShape.size());
    if (axes.empty()) for (size_t i = 0; i < starts.size(); ++i) axes.push_back(int64_t(i));
    if (steps.empty()) steps.assign(starts.size(), 1);
    if (ends.size() != starts.size() || axes.size() != starts.size() || steps.size() != starts.size()) {
      fail(ErrorCode::Input, where_ + ": starts, ends, axes and steps differ in length");
    }
    begin->assign(size_t(rank), 0);
    step->assign(size_t(rank), 1);
    Shape shape = inShape;
    for (size_t i = 0; i < starts.size(); ++i) {
      const int64_t a = normalizeAxis(axes[i], rank, "Slice");
      const int64_t dim = inShape[size_t(a)];
      const int64_t s = steps[i];
      if (s == 0 || s == INT64_MIN) fail(ErrorCode::Input, where_ + ": invalid step " + std::to_string(s));
      // ONNX: negative indices count from the end, then clamp to [0, dim] (step > 0) or
      // [-1, dim - 1] for the end and [0, dim - 1] for the start (step < 0).
      int64_t b = starts[i] < 0 ? starts[i] + dim : starts[i];
      int64_t e = ends[i] < 0 ? ends[i] + dim : ends[i];
      if (s > 0) {
        b = std::max<int64_t>(0, std::min(dim, b));
        e = std::max<int64_t>(0, std::min(dim, e));
      } else {
        b = std::max<int64_t>(0, std::min(dim - 1, b));
        e = std::max<int64_t>(-1, std::min(dim - 1, e));
      }
      const int64_t length = s > 0 ? std::max<int64_t>(0, (e - b + s - 1) / s) : std::max<int64_t>(0, (b - e + (-s) - 1) / (-s));
      (*begin)[size_t(a)] = b;
      (*step)[size_t(a)] = s;
      shape[size_t(a)] = length;
    }
    return shape;
  }

  void run(ExecContext& ctx, const std::vector<const Tensor*>& in, std::vector<Tensor>& out) const override {
    const Tensor& x = *in[0];
    std::vector<int64_t> begin, step;
    const Shape shape = plan(x.shape, std::vector<const Tensor*>(in.begin() + 1, in.end()), &begin, &step);
    const int64_t rank = int64_t(x.shape.size());
    Tensor y = ctx.allocate(x.dtype, shape);
    const size_t element = dtypeSize(x.dtype);
    const std::vector<int64_t> inStride = contiguousStrides(x.shape);
    std::vector<int64_t> coord(size_t(rank), 0);
    for (int64_t i = 0, n = y.size(); i < n; ++i) {
      int64_t src = 0;
      for (int64_t d = 0; d < rank; ++d) src += (begin[size_t(d)] + coord[size_t(d)] * step[size_t(d)]) * inStride[size_t(d)];
      std::memcpy(y.buffer->data() + size_t(i) * element, x.bytes() + size_t(src) * element, element);
      for (int64_t d = rank; d-- > 0;) {
        if (++coord[size_t(d)] < shape[size_t(d)]) break;
        coord[size_t(d)] = 0;
      }
    }
    out[0] = std::move(y);
  }

  bool hasDeviceKernel() const override { return true; }

  bool runDevice(DeviceContext& ctx, const std::vector<const DeviceTensor*>& in, std::vector<DeviceTensor>& out) const override {
    const DeviceTensor& x = *in[0];
    std::vector<Tensor> hostAux;  // the small index inputs, on the host
    for (size_t i = 1; i < in.size(); ++i) hostAux.push_back(in[i] ? ctx.download(*in[i]) : Tensor());
    std::vector<const Tensor*> aux;
    for (size_t i = 1; i < in.size(); ++i) aux.push_back(in[i] ? &hostAux[i - 1] : nullptr);
    std::vector<int64_t> begin, step;
    const Shape shape = plan(x.shape, aux, &begin, &step);
    DeviceTensor y = ctx.allocate(x.dtype, shape);
    const std::vector<int64_t> inStride = contiguousStrides(x.shape);
    std::vector<std::vector<int64_t>> offsets(shape.size());
    for (size_t d = 0; d < shape.size(); ++d) {
      for (int64_t c = 0; c < shape[d]; ++c) offsets[d].push_back((begin[d] + c * step[d]) * inStride[d]);
    }
    if (!deviceAxisGather(ctx, x, y.data(), shape, offsets)) return false;
    out[0] = std::move(y);
    return true;
  }

 private:
  std::vector<int64_t> starts_, ends_, axes_;
  bool fromInputs_;
  std::string where_;
};

}  // namespace

std::unique_ptr<Op> createIdentity(BuildContext& ctx) {
  ctx.requireInputs(1, 1);
  return std::make_unique<IdentityOp>();
}

std::unique_ptr<Op> createShape(BuildContext& ctx) {
  ctx.requireInputs(1, 1);
  return std::make_unique<ShapeOp>(ctx.attrInt("start", 0), ctx.attrInt("end", 0), ctx.hasAttr("end"));
}

std::unique_ptr<Op> createReshape(BuildContext& ctx) {
  ctx.requireInputs(2, 2);
  return std::make_unique<ReshapeOp>(ctx.attrInt("allowzero", 0) != 0, ctx.where());
}

std::unique_ptr<Op> createFlatten(BuildContext& ctx) {
  ctx.requireInputs(1, 1);
  return std::make_unique<FlattenOp>(ctx.attrInt("axis", 1), ctx.where());
}

std::unique_ptr<Op> createUnsqueeze(BuildContext& ctx) {
  const bool fromInput = ctx.opset >= 13;
  ctx.requireInputs(fromInput ? 2 : 1, fromInput ? 2 : 1);
  return std::make_unique<SqueezeOp>(true, ctx.attrInts("axes"), fromInput, ctx.where());
}

std::unique_ptr<Op> createSqueeze(BuildContext& ctx) {
  const bool fromInput = ctx.opset >= 13;
  ctx.requireInputs(1, fromInput ? 2 : 1);
  return std::make_unique<SqueezeOp>(false, ctx.attrInts("axes"), fromInput, ctx.where());
}

std::unique_ptr<Op> createConcat(BuildContext& ctx) {
  if (ctx.inputCount() < 1) ctx.invalid("Concat needs at least one input");
  if (!ctx.hasAttr("axis")) ctx.invalid("missing attribute axis");
  return std::make_unique<ConcatOp>(ctx.attrInt("axis", 0), ctx.where());
}

std::unique_ptr<Op> createGather(BuildContext& ctx) {
  ctx.requireInputs(2, 2);
  return std::make_unique<GatherOp>(ctx.attrInt("axis", 0), ctx.where());
}

std::unique_ptr<Op> createTranspose(BuildContext& ctx) {
  ctx.requireInputs(1, 1);
  return std::make_unique<TransposeOp>(ctx.attrInts("perm"), ctx.where());
}

std::unique_ptr<Op> createSlice(BuildContext& ctx) {
  if (ctx.opset < 10) {
    ctx.requireInputs(1, 1);
    return std::make_unique<SliceOp>(ctx.attrInts("starts"), ctx.attrInts("ends"), ctx.attrInts("axes"), false, ctx.where());
  }
  ctx.requireInputs(3, 5);
  return std::make_unique<SliceOp>(std::vector<int64_t>{}, std::vector<int64_t>{}, std::vector<int64_t>{}, true, ctx.where());
}

}  // namespace bx
