// Small helpers shared by the op implementations.
#pragma once

#include <algorithm>
#include <functional>

#include "../op.h"

namespace bx {

// Normalises a possibly negative axis against a rank; throws ERR_BITEXACT_INPUT when out of range.
int64_t normalizeAxis(int64_t axis, int64_t rank, const char* opName);

// Runs fn(begin, end) over [0, count) in chunks of at least `grain` elements on the pool.
void parallelRange(cpu::ThreadPool& pool, int64_t count, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

// Inner size (product of dims after axis) and channel count for a per-axis quantisation.
struct AxisLayout {
  int64_t channels = 1;
  int64_t inner = 1;
};
AxisLayout axisLayout(const Shape& shape, int64_t axis);

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
