#include "broadcast.h"

namespace bx {

BroadcastPlan planBroadcast(const Shape& a, const Shape& b, const std::string& where) {
  BroadcastPlan p;
  const size_t rank = a.size() > b.size() ? a.size() : b.size();
  p.output.assign(rank, 1);
  p.stridesA.assign(rank, 0);
  p.stridesB.assign(rank, 0);
  int64_t strideA = 1, strideB = 1;
  for (size_t i = 0; i < rank; ++i) {
    const size_t d = rank - 1 - i;
    const int64_t da = i < a.size() ? a[a.size() - 1 - i] : 1;
    const int64_t db = i < b.size() ? b[b.size() - 1 - i] : 1;
    if (da != db && da != 1 && db != 1) {
      fail(ErrorCode::Input, where + ": shapes " + shapeToString(a) + " and " + shapeToString(b) + " do not broadcast");
    }
    p.output[d] = da == 1 ? db : da;
    p.stridesA[d] = da == 1 ? 0 : strideA;
    p.stridesB[d] = db == 1 ? 0 : strideB;
    strideA *= da;
    strideB *= db;
  }
  return p;
}

BroadcastPlan coalesceBroadcast(const BroadcastPlan& plan) {
  BroadcastPlan merged;
  for (size_t d = 0; d < plan.output.size(); ++d) {
    if (plan.output[d] == 1) continue;
    const int64_t n = plan.output[d], sa = plan.stridesA[d], sb = plan.stridesB[d];
    if (!merged.output.empty()) {
      // The previous (outer) dim continues into this one for both operands: one dim of n * size.
      const size_t p = merged.output.size() - 1;
      if (merged.stridesA[p] == sa * n && merged.stridesB[p] == sb * n) {
        merged.output[p] *= n;
        merged.stridesA[p] = sa;
        merged.stridesB[p] = sb;
        continue;
      }
    }
    merged.output.push_back(n);
    merged.stridesA.push_back(sa);
    merged.stridesB.push_back(sb);
  }
  return merged;
}

}  // namespace bx
