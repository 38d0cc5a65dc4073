// The AVX2 int8 dot-product idiom: vpmaddubsw (32 u8 x s8 products, pairs summed to s16), then
// vpmaddwd by ones (to s32) and vpaddd: 64 ops per chain step, eight independent chains.
#include <immintrin.h>

#include "peak.h"

namespace bx::cpu {

uint64_t int8PeakLoopAvx2(uint64_t blocks) {
  constexpr int kChains = 6;  // 6 accumulators + 6 operands + 2 fit the 16 ymm registers (no spills)
  __m256i a = _mm256_set1_epi8(3);
  const __m256i ones = _mm256_set1_epi16(1);
  __m256i acc[kChains], b[kChains];
  for (int c = 0; c < kChains; ++c) {
    acc[c] = _mm256_setzero_si256();
    b[c] = _mm256_set1_epi8(char(c + 1));
  }
  for (uint64_t i = 0; i < blocks; ++i) {
    asm volatile("" : "+x"(a));  // opaque each round: nothing can be hoisted out of the loop
    for (int c = 0; c < kChains; ++c) acc[c] = _mm256_add_epi32(acc[c], _mm256_madd_epi16(_mm256_maddubs_epi16(a, b[c]), ones));
  }
  __m256i sum = acc[0];
  for (int c = 1; c < kChains; ++c) sum = _mm256_add_epi32(sum, acc[c]);
  volatile int32_t sink = _mm256_extract_epi32(sum, 0);  // keeps the chains live
  (void)sink;
  return blocks * kChains * 64;
}

}  // namespace bx::cpu
