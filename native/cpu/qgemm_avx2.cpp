// AVX2 micro-kernel. vpmaddubsw would be faster but saturates int16 pair sums, so bytes are
// widened to int16 first and multiplied with vpmaddwd, which is exact for these ranges.
#include <immintrin.h>

#include "qgemm.h"

namespace bx::cpu {

void microKernelAvx2(const uint8_t* panel, const uint8_t* weights, int64_t quads, int32_t* acc) {
  constexpr int kRows = kRowsPerBlockAvx2;
  const int16_t* w = reinterpret_cast<const int16_t*>(weights);
  for (int half = 0; half < 2; ++half) {  // 8 columns at a time
    // Accumulators hold, per pair of lanes, the partial sums of quad positions (0,1) and (2,3).
    __m256i lo[kRows], hi[kRows];
    for (int r = 0; r < kRows; ++r) lo[r] = hi[r] = _mm256_setzero_si256();
    const uint8_t* column = panel + half * 32;
    for (int64_t q = 0; q < quads; ++q) {
      const __m256i bytes = _mm256_load_si256(reinterpret_cast<const __m256i*>(column + q * 64));
      const __m256i a0 = _mm256_cvtepu8_epi16(_mm256_castsi256_si128(bytes));       // columns 0-3
      const __m256i a1 = _mm256_cvtepu8_epi16(_mm256_extracti128_si256(bytes, 1));  // columns 4-7
      const int16_t* wq = w + q * kRows * 4;
      for (int r = 0; r < kRows; ++r) {
        long long quad;
        __builtin_memcpy(&quad, wq + r * 4, 8);
        const __m256i b = _mm256_set1_epi64x(quad);
        lo[r] = _mm256_add_epi32(lo[r], _mm256_madd_epi16(a0, b));
        hi[r] = _mm256_add_epi32(hi[r], _mm256_madd_epi16(a1, b));
      }
    }
    for (int r = 0; r < kRows; ++r) {
      // hadd gives columns [0,1,4,5,2,3,6,7]; the permute restores order.
      const __m256i sums = _mm256_permute4x64_epi64(_mm256_hadd_epi32(lo[r], hi[r]), 0xd8);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(acc + r * kPanelWidth + half * 8), sums);
    }
  }
}

}  // namespace bx::cpu
