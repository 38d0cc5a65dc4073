// Numpy-style broadcasting for binary elementwise ops.
#pragma once

#include <algorithm>
#include <vector>

#include "../tensor.h"

namespace bx {

struct BroadcastPlan {
  Shape output;
  std::vector<int64_t> stridesA;  // per output dim, 0 where A is broadcast
  std::vector<int64_t> stridesB;
};

// Throws ERR_BITEXACT_INPUT naming `where` when the shapes are not broadcastable.
BroadcastPlan planBroadcast(const Shape& a, const Shape& b, const std::string& where);

// The same plan with size-1 dims dropped and adjacent dims merged wherever both operands step
// through them alike (contiguously, or both broadcast): the innermost dim is then as long as the
// layout allows, and its strides are 0 or 1.
BroadcastPlan coalesceBroadcast(const BroadcastPlan& plan);

// Calls fn(outIndex, indexA, indexB, count, strideA, strideB) for runs of output elements
// [outIndex, outIndex + count) along the plan's innermost dim, covering [begin, end): element j
// of a run reads A at indexA + j * strideA and B at indexB + j * strideB.
template <typename Fn>
void forEachBroadcastRun(const BroadcastPlan& plan, int64_t begin, int64_t end, Fn fn) {
  const size_t rank = plan.output.size();
  if (rank == 0) {
    if (begin < end) fn(begin, 0, 0, end - begin, 0, 0);
    return;
  }
  const size_t last = rank - 1;
  const int64_t inner = plan.output[last], strideA = plan.stridesA[last], strideB = plan.stridesB[last];
  std::vector<int64_t> coord(rank, 0);
  int64_t rest = begin, ia = 0, ib = 0;
  for (size_t d = rank; d-- > 0;) {
    coord[d] = rest % plan.output[d];
    rest /= plan.output[d];
    ia += coord[d] * plan.stridesA[d];
    ib += coord[d] * plan.stridesB[d];
  }
  for (int64_t i = begin; i < end;) {
    const int64_t count = std::min(inner - coord[last], end - i);
    fn(i, ia, ib, count, strideA, strideB);
    i += count;
    ia += count * strideA;
    ib += count * strideB;
    coord[last] += count;
    if (coord[last] < inner) continue;
    ia -= strideA * inner;
    ib -= strideB * inner;
    coord[last] = 0;
    for (size_t d = last; d-- > 0;) {  // odometer increment of the outer dims
      ia += plan.stridesA[d];
      ib += plan.stridesB[d];
      if (++coord[d] < plan.output[d]) break;
      ia -= plan.stridesA[d] * plan.output[d];
      ib -= plan.stridesB[d] * plan.output[d];
      coord[d] = 0;
    }
  }
}

// Calls fn(outIndex, indexA, indexB) for every output element in [begin, end).
template <typename Fn>
void forEachBroadcast(const BroadcastPlan& plan, int64_t begin, int64_t end, Fn fn) {
  forEachBroadcastRun(plan, begin, end, [&](int64_t i, int64_t ia, int64_t ib, int64_t count, int64_t strideA, int64_t strideB) {
    for (int64_t j = 0; j < count; ++j) fn(i + j, ia + j * strideA, ib + j * strideB);
  });
}

}  // namespace bx
