// wide_accumulate.h with AVX2: blocks of 8 rows x 16 columns whose sums stay in 16 registers
// while the depth runs (one broadcast weight and two loads of x per 128 multiply-adds).
#include <immintrin.h>

#include "wide_accumulate.h"

namespace bx::cpu {

void wideAccumulateAvx2(const int32_t* w, const int32_t* start, int64_t rows, int64_t depth, const int32_t* x,
                        int64_t columns, int32_t* acc) {
  constexpr int64_t kRows = 8, kCols = 16;
  const int64_t fullRows = rows / kRows * kRows, fullCols = columns / kCols * kCols;
  for (int64_t r0 = 0; r0 < fullRows; r0 += kRows) {
    const int32_t* wr = w + r0 * depth;
    for (int64_t p0 = 0; p0 < fullCols; p0 += kCols) {
      __m256i c[kRows][2];
      for (int r = 0; r < kRows; ++r) c[r][0] = c[r][1] = _mm256_set1_epi32(start ? start[r0 + r] : 0);
      for (int64_t k = 0; k < depth; ++k) {
        const int32_t* xk = x + k * columns + p0;
        const __m256i x0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xk));
        const __m256i x1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xk + 8));
        for (int r = 0; r < kRows; ++r) {
          const __m256i wv = _mm256_set1_epi32(wr[r * depth + k]);
          c[r][0] = _mm256_add_epi32(c[r][0], _mm256_mullo_epi32(wv, x0));
          c[r][1] = _mm256_add_epi32(c[r][1], _mm256_mullo_epi32(wv, x1));
        }
      }
      for (int r = 0; r < kRows; ++r) {
        int32_t* out = acc + (r0 + r) * columns + p0;
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), c[r][0]);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + 8), c[r][1]);
      }
    }
    // the columns past the last full block
    if (fullCols < columns) wideAccumulateTemplate(wr, start ? start + r0 : nullptr, kRows, depth, x + fullCols, columns - fullCols, columns, acc + r0 * columns + fullCols);
  }
  // the rows past the last full block, all columns
  if (fullRows < rows) wideAccumulateTemplate(w + fullRows * depth, start ? start + fullRows : nullptr, rows - fullRows, depth, x, columns, columns, acc + fullRows * columns);
}

}  // namespace bx::cpu
