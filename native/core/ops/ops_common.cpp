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

}  // namespace bx
