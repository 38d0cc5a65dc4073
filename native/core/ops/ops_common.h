// Small helpers shared by the op implementations.
#pragma once

#include <algorithm>
#include <functional>

#include "../op.h"

namespace bx {

// Normalises a possibly negative axis against a rank; throws ERR_BITEXACT_INPUT when out of range.
int64_t normalizeAxis(int64_t axis, int64_t rank, const char* opName);

// The values of an int64 (or int32) tensor input such as a shape, axes or pads; ERR_BITEXACT_INPUT
// naming `where` and `role` for another type.
std::vector<int64_t> readInts(const Tensor& t, const std::string& where, const char* role);

// Runs fn(begin, end) over [0, count) in chunks of at least `grain` elements on the pool.
void parallelRange(cpu::ThreadPool& pool, int64_t count, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

// Inner size (product of dims after axis) and channel count for a per-axis quantisation.
struct AxisLayout {
  int64_t channels = 1;
  int64_t inner = 1;
};
AxisLayout axisLayout(const Shape& shape, int64_t axis);

// Concat along one axis: the output shape and the row geometry (outer rows, elements per unit of
// the axis). Checks every part has the first part's type and rank and matches it off the axis.
struct ConcatLayout {
  Shape shape;
  int64_t axis = 0;
  int64_t outer = 1;  // product of dims before the axis
  int64_t inner = 1;  // product of dims after the axis
};
ConcatLayout planConcat(const std::vector<const Tensor*>& parts, int64_t axis, const std::string& where);

// One spatial dimension of a sliding window (Conv, MaxPool, AveragePool): output length and the
// padding actually applied, for auto_pad SAME_UPPER / SAME_LOWER / VALID / NOTSET and ceil_mode as
// ONNX defines them. Throws ERR_BITEXACT_INPUT when the input is smaller than the window.
struct WindowDim {
  int64_t out = 0;
  int64_t padBegin = 0;
  int64_t padEnd = 0;
};
// Refuses (ERR_BITEXACT_INVALID_MODEL) window attributes that no model can mean: a kernel,
// stride or dilation below 1, or negative pads.
void checkWindowAttributes(const BuildContext& ctx, const std::vector<int64_t>& kernel, const std::vector<int64_t>& strides,
                           const std::vector<int64_t>& dilations, const std::vector<int64_t>& pads);

WindowDim windowDim(int64_t in, int64_t kernel, int64_t stride, int64_t dilation, int64_t padBegin, int64_t padEnd,
                    const std::string& autoPad, bool ceilMode, const std::string& where);

}  // namespace bx
