#include "wide_accumulate.h"

namespace bx::cpu {

void wideAccumulate(const int32_t* w, const int32_t* start, int64_t rows, int64_t depth, const int32_t* x, int64_t columns,
                    int32_t* acc) {
  wideAccumulateTemplate(w, start, rows, depth, x, columns, columns, acc);
}

}  // namespace bx::cpu
