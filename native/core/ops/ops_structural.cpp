// Ops that move or select elements without arithmetic; they work on every element type (shape
// tensors are int64). Shape-only subgraphs built from them are folded at load time when their
// inputs are constant (see graph.cpp).
#include <climits>
#include <cstring>
#include <numeric>

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

 private:
  int64_t axis_;
  std::string where_;
};

class GatherOp : public Op {
 public:
  GatherOp(int64_t axis, std::string where) : axis_(axis), where_(std::move(where)) {}
  void run(ExecContext& ctx, const std::vector<const Tensor*>& in, std::vector<Tensor>& out) const override {
    const Tensor& data = *in[0];
    const std::vector<int64_t> indices = readInts(*in[1], where_, "indices");
    const int64_t rank = int64_t(data.shape.size());
    const int64_t axis = normalizeAxis(axis_, rank, "Gather");
    const int64_t extent = data.shape[size_t(axis)];
    Shape shape(data.shape.begin(), data.shape.begin() + axis);
    shape.insert(shape.end(), in[1]->shape.begin(), in[1]->shape.end());
    shape.insert(shape.end(), data.shape.begin() + axis + 1, data.shape.end());
    Tensor y = ctx.allocate(data.dtype, shape);
    const size_t element = dtypeSize(data.dtype);
    int64_t outer = 1, inner = 1;
    for (int64_t d = 0; d < axis; ++d) outer *= data.shape[size_t(d)];
    for (int64_t d = axis + 1; d < rank; ++d) inner *= data.shape[size_t(d)];
    const int64_t count = int64_t(indices.size());
    for (int64_t o = 0; o < outer; ++o) {
      for (int64_t j = 0; j < count; ++j) {
        int64_t idx = indices[size_t(j)];
        if (idx < 0) idx += extent;
        if (idx < 0 || idx >= extent) {
          fail(ErrorCode::Input, where_ + ": index " + std::to_string(indices[size_t(j)]) + " is out of range for a dimension of " + std::to_string(extent));
        }
        std::memcpy(y.buffer->data() + size_t((o * count + j) * inner) * element,
                    data.bytes() + size_t((o * extent + idx) * inner) * element, size_t(inner) * element);
      }
    }
    out[0] = std::move(y);
  }

 private:
  int64_t axis_;
  std::string where_;
};

class TransposeOp : public Op {
 public:
  TransposeOp(std::vector<int64_t> perm, std::string where) : perm_(std::move(perm)), where_(std::move(where)) {}
  void run(ExecContext& ctx, const std::vector<const Tensor*>& in, std::vector<Tensor>& out) const override {
    const Tensor& x = *in[0];
    const size_t rank = x.shape.size();
    std::vector<int64_t> perm = perm_;
    if (perm.empty()) for (size_t d = 0; d < rank; ++d) perm.push_back(int64_t(rank - 1 - d));
    if (perm.size() != rank) fail(ErrorCode::Input, where_ + ": perm length does not match the input rank");
    std::vector<bool> seen(rank, false);
    for (int64_t p : perm) {
      if (p < 0 || p >= int64_t(rank) || seen[size_t(p)]) fail(ErrorCode::InvalidModel, where_ + ": perm is not a permutation");
      seen[size_t(p)] = true;
    }
    Shape shape(rank);
    std::vector<int64_t> inStride(rank, 1);
    for (size_t d = rank; d-- > 1;) inStride[d - 1] = inStride[d] * x.shape[d];
    std::vector<int64_t> stride(rank);
    for (size_t d = 0; d < rank; ++d) {
      shape[d] = x.shape[size_t(perm[d])];
      stride[d] = inStride[size_t(perm[d])];
    }
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

 private:
  std::vector<int64_t> perm_;
  std::string where_;
};

class SliceOp : public Op {
 public:
  // Opset < 10 passes starts/ends/axes as attributes; later opsets as inputs 1-4.
  SliceOp(std::vector<int64_t> starts, std::vector<int64_t> ends, std::vector<int64_t> axes, bool fromInputs, std::string where)
      : starts_(std::move(starts)), ends_(std::move(ends)), axes_(std::move(axes)), fromInputs_(fromInputs), where_(std::move(where)) {}
  void run(ExecContext& ctx, const std::vector<const Tensor*>& in, std::vector<Tensor>& out) const override {
    const Tensor& x = *in[0];
    std::vector<int64_t> starts = starts_, ends = ends_, axes = axes_, steps;
    if (fromInputs_) {
      starts = readInts(*in[1], where_, "starts");
      ends = readInts(*in[2], where_, "ends");
      if (in.size() > 3 && in[3]) axes = readInts(*in[3], where_, "axes");
      if (in.size() > 4 && in[4]) steps = readInts(*in[4], where_, "steps");
    }
    const int64_t rank = int64_t(x.shape.size());
    if (axes.empty()) for (size_t i = 0; i < starts.size(); ++i) axes.push_back(int64_t(i));
    if (steps.empty()) steps.assign(starts.size(), 1);
    if (ends.size() != starts.size() || axes.size() != starts.size() || steps.size() != starts.size()) {
      fail(ErrorCode::Input, where_ + ": starts, ends, axes and steps differ in length");
    }
    std::vector<int64_t> begin(size_t(rank), 0), step(size_t(rank), 1);
    Shape shape = x.shape;
    for (size_t i = 0; i < starts.size(); ++i) {
      const int64_t a = normalizeAxis(axes[i], rank, "Slice");
      const int64_t dim = x.shape[size_t(a)];
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
      begin[size_t(a)] = b;
      step[size_t(a)] = s;
      shape[size_t(a)] = length;
    }
    Tensor y = ctx.allocate(x.dtype, shape);
    const size_t element = dtypeSize(x.dtype);
    std::vector<int64_t> inStride(size_t(rank), 1);
    for (int64_t d = rank - 1; d > 0; --d) inStride[size_t(d - 1)] = inStride[size_t(d)] * x.shape[size_t(d)];
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
