// Numpy-style broadcasting for binary elementwise ops.
#pragma once

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

// Calls fn(outIndex, indexA, indexB) for every output element in [begin, end).
template <typename Fn>
void forEachBroadcast(const BroadcastPlan& plan, int64_t begin, int64_t end, Fn fn) {
  const size_t rank = plan.output.size();
  std::vector<int64_t> coord(rank, 0);
  int64_t rest = begin, ia = 0, ib = 0;
  for (size_t d = rank; d-- > 0;) {
    coord[d] = rest % plan.output[d];
    rest /= plan.output[d];
    ia += coord[d] * plan.stridesA[d];
    ib += coord[d] * plan.stridesB[d];
  }
  for (int64_t i = begin; i < end; ++i) {
    fn(i, ia, ib);
    for (size_t d = rank; d-- > 0;) {  // odometer increment
      ia += plan.stridesA[d];
      ib += plan.stridesB[d];
      if (++coord[d] < plan.output[d]) break;
      ia -= plan.stridesA[d] * plan.output[d];
      ib -= plan.stridesB[d] * plan.output[d];
      coord[d] = 0;
    }
  }
}

}  // namespace bx
