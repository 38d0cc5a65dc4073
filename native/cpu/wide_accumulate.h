// Exact int32 sums of 16-bit layers (w8a16): acc[r][p] = start[r] + sum_k w[r][k] * x[k][p] (start
// null: 0) with
// centred weights w (int8 minus zero point) and centred 16-bit activations x laid out
// [depth][columns] (an im2col matrix). The caller proves at load that every partial sum fits
// int32, so the order of the sum cannot change a bit. The portable version (8 rows share each pass
// over a 256-column slice of x, which stays in L1) is the baseline ISA's; wide_accumulate_avx2.cpp
// keeps 8 rows x 16 columns of sums in registers and uses the portable one for the edges.
#pragma once

#include <algorithm>
#include <cstdint>

namespace bx::cpu {

template <int kRowBlock = 8, int64_t kColumnBlock = 256>
inline void wideAccumulateTemplate(const int32_t* w, const int32_t* start, int64_t rows, int64_t depth, const int32_t* x,
                                   int64_t columns, int64_t stride, int32_t* acc) {
  for (int64_t p0 = 0; p0 < columns; p0 += kColumnBlock) {
    const int64_t pn = std::min(kColumnBlock, columns - p0);
    for (int64_t r0 = 0; r0 < rows; r0 += kRowBlock) {
      const int64_t rn = std::min<int64_t>(kRowBlock, rows - r0);
      alignas(64) int32_t a[kRowBlock][kColumnBlock];
      for (int r = 0; r < kRowBlock; ++r) {
        const int32_t s = r < rn && start ? start[r0 + r] : 0;
        for (int64_t p = 0; p < pn; ++p) a[r][p] = s;
      }
      for (int64_t k = 0; k < depth; ++k) {
        int32_t wk[kRowBlock];
        for (int r = 0; r < kRowBlock; ++r) wk[r] = r < rn ? w[(r0 + r) * depth + k] : 0;
        const int32_t* __restrict xk = x + k * stride + p0;
        for (int64_t p = 0; p < pn; ++p) {
          const int32_t v = xk[p];
          for (int r = 0; r < kRowBlock; ++r) a[r][p] += wk[r] * v;
        }
      }
      for (int64_t r = 0; r < rn; ++r) std::copy(a[r], a[r] + pn, acc + (r0 + r) * stride + p0);
    }
  }
}

// The two compiled copies (same integers; the caller picks by ISA).
void wideAccumulate(const int32_t* w, const int32_t* start, int64_t rows, int64_t depth, const int32_t* x, int64_t columns,
                    int32_t* acc);
void wideAccumulateAvx2(const int32_t* w, const int32_t* start, int64_t rows, int64_t depth, const int32_t* x,
                        int64_t columns, int32_t* acc);

}  // namespace bx::cpu
