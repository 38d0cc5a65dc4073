#include "ops_common.h"

namespace bx {

int64_t normalizeAxis(int64_t axis, int64_t rank, const char* opName) {
  const int64_t a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) {
    fail(ErrorCode::Input, std::string(opName) + ": axis " + std::to_string(axis) + " is out of range for rank " +
                               std::to_string(rank));
  }
  return a;
}

std::vector<int64_t> readInts(const Tensor& t, const std::string& where, const char* role) {
  if (t.dtype != DType::Int64 && t.dtype != DType::Int32) {
    fail(ErrorCode::Input, where + ": " + role + " must be int64, got " + dtypeName(t.dtype));
  }
  std::vector<int64_t> v(size_t(t.size()));
  for (int64_t i = 0; i < t.size(); ++i) v[size_t(i)] = t.intAt(i);
  return v;
}

void parallelRange(cpu::ThreadPool& pool, int64_t count, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
  if (count <= 0) return;
  const int64_t maxChunks = int64_t(pool.threads()) * 4;
  int64_t chunks = std::max<int64_t>(1, std::min<int64_t>(maxChunks, count / std::max<int64_t>(grain, 1)));
  const int64_t step = (count + chunks - 1) / chunks;
  chunks = (count + step - 1) / step;
  pool.parallelFor(chunks, [&](int64_t c) { fn(c * step, std::min(count, (c + 1) * step)); });
}

AxisLayout axisLayout(const Shape& shape, int64_t axis) {
  AxisLayout l;
  l.channels = shape[size_t(axis)];
  for (size_t i = size_t(axis) + 1; i < shape.size(); ++i) l.inner *= shape[i];
  return l;
}

ConcatLayout planConcat(const std::vector<const Tensor*>& parts, int64_t axis, const std::string& where) {
  const Tensor& first = *parts[0];
  const int64_t rank = int64_t(first.shape.size());
  ConcatLayout l;
  l.axis = normalizeAxis(axis, rank, "Concat");
  l.shape = first.shape;
  l.shape[size_t(l.axis)] = 0;
  for (const Tensor* t : parts) {
    if (t->dtype != first.dtype || int64_t(t->shape.size()) != rank) fail(ErrorCode::Input, where + ": inputs differ in type or rank");
    for (int64_t d = 0; d < rank; ++d) {
      if (d != l.axis && t->shape[size_t(d)] != first.shape[size_t(d)]) {
        fail(ErrorCode::Input, where + ": input shapes " + shapeToString(first.shape) + " and " + shapeToString(t->shape) +
                                   " do not concatenate");
      }
    }
    l.shape[size_t(l.axis)] += t->shape[size_t(l.axis)];
  }
  for (int64_t d = 0; d < l.axis; ++d) l.outer *= l.shape[size_t(d)];
  for (int64_t d = l.axis + 1; d < rank; ++d) l.inner *= l.shape[size_t(d)];
  return l;
}

void checkWindowAttributes(const BuildContext& ctx, const std::vector<int64_t>& kernel, const std::vector<int64_t>& strides,
                           const std::vector<int64_t>& dilations, const std::vector<int64_t>& pads) {
  for (int64_t v : kernel) if (v < 1) ctx.invalid("kernel_shape entries must be >= 1");
  for (int64_t v : strides) if (v < 1) ctx.invalid("strides must be >= 1");
  for (int64_t v : dilations) if (v < 1) ctx.invalid("dilations must be >= 1");
  for (int64_t v : pads) if (v < 0) ctx.invalid("pads must be >= 0");
}

WindowDim windowDim(int64_t in, int64_t kernel, int64_t stride, int64_t dilation, int64_t padBegin, int64_t padEnd,
                    const std::string& autoPad, bool ceilMode, const std::string& where) {
  WindowDim d;
  const int64_t extent = (kernel - 1) * dilation + 1;
  if (autoPad == "SAME_UPPER" || autoPad == "SAME_LOWER") {
    d.out = (in + stride - 1) / stride;
    const int64_t total = std::max<int64_t>(0, (d.out - 1) * stride + extent - in);
    d.padBegin = autoPad == "SAME_UPPER" ? total / 2 : total - total / 2;
    d.padEnd = total - d.padBegin;
    return d;
  }
  const bool valid = autoPad == "VALID";
  d.padBegin = valid ? 0 : padBegin;
  d.padEnd = valid ? 0 : padEnd;
  const int64_t span = in + d.padBegin + d.padEnd - extent;
  if (span < 0) fail(ErrorCode::Input, where + ": input of length " + std::to_string(in) + " is smaller than the window");
  d.out = (ceilMode ? (span + stride - 1) / stride : span / stride) + 1;
  // With ceil_mode the last window must start inside the input or its leading padding.
  if (ceilMode && (d.out - 1) * stride >= in + d.padBegin) --d.out;
  return d;
}

}  // namespace bx
