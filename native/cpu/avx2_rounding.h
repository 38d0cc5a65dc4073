// The round-half-to-even shift of numerics.h on four int64 lanes, for AVX2 translation units only
// (static inline: each -mavx2 file gets its own copy, none is shared with baseline code).
#pragma once

#include <immintrin.h>

namespace bx::cpu {

// RHE(p, s) for |p| < 2^62. AVX2 has no 64-bit arithmetic shift, so p is offset by 2^62 (a
// multiple of 2^s) to make it non-negative, shifted logically, and the offset removed.
// bias = 2^(s-1) + 2^62, offsetOut = 2^(62-s), mask = 2^s - 1, all per lane.
static inline __m256i roundShift(__m256i p, __m256i bias, __m128i shift, __m256i offsetOut, __m256i mask) {
  const __m256i t = _mm256_add_epi64(p, bias);
  const __m256i q = _mm256_sub_epi64(_mm256_srl_epi64(t, shift), offsetOut);  // floor((p + half) / 2^s)
  const __m256i tie = _mm256_cmpeq_epi64(_mm256_and_si256(t, mask), _mm256_setzero_si256());
  return _mm256_sub_epi64(q, _mm256_and_si256(tie, _mm256_and_si256(q, _mm256_set1_epi64x(1))));  // ties to even
}

// roundShift, then clamped to [lo, hi] as int64.
static inline __m256i roundShiftClamp(__m256i p, __m256i bias, __m128i shift, __m256i offsetOut, __m256i mask, __m256i lo,
                                      __m256i hi) {
  __m256i q = roundShift(p, bias, shift, offsetOut, mask);
  q = _mm256_blendv_epi8(q, lo, _mm256_cmpgt_epi64(lo, q));
  return _mm256_blendv_epi8(q, hi, _mm256_cmpgt_epi64(q, hi));
}

// The per-shift constants of roundShift.
struct RoundShiftConstants {
  __m256i bias, offsetOut, mask;
  __m128i shift;
  explicit RoundShiftConstants(int s)
      : bias(_mm256_set1_epi64x((int64_t(1) << (s - 1)) + (int64_t(1) << 62))),
        offsetOut(_mm256_set1_epi64x(int64_t(1) << (62 - s))),
        mask(_mm256_set1_epi64x((int64_t(1) << s) - 1)),
        shift(_mm_cvtsi32_si128(s)) {}
};

}  // namespace bx::cpu
