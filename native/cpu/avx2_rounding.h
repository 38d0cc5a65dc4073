// The round-half-to-even shift of numerics.h on int64 lanes, for AVX2 translation units only
// (static inline: each -mavx2 file gets its own copy, none is shared with baseline code).
#pragma once

#include <immintrin.h>

#include <cstdint>

namespace bx::cpu {

// round_half_even(p / 2^s) of eight int64 products, four in `even` (for int32 lanes 0, 2, 4, 6)
// and four in `odd` (lanes 1, 3, 5, 7), narrowed to eight int32 lanes. Exact for |p| < 2^62 and
// quotients that fit in int32; 1 <= s <= 61.
//   round_half_even(p / 2^s) = floor((p + 2^(s-1) - 1 + bit_s(p)) / 2^s)
// (adding the quotient's parity turns ties to even and changes nothing else). AVX2 has no 64-bit
// arithmetic shift: p is offset by 2^62, a multiple of 2^(s+1) that keeps bit s, and shifted
// logically. The odd lanes shift by s - 32 (left by 32 - s when s < 32) so that the low 32 bits of
// their quotient land in the high half; the offset 2^(62-s) comes off after narrowing, in 32-bit
// wrap-around arithmetic.
struct NarrowingRoundShift {
  __m256i bias, one, offsetOut;
  __m128i shift, shiftOdd;
  bool oddLeft;  // s < 32: the odd lanes shift left
  explicit NarrowingRoundShift(int s)
      : bias(_mm256_set1_epi64x((int64_t(1) << 62) + (int64_t(1) << (s - 1)) - 1)),
        one(_mm256_set1_epi64x(1)),
        offsetOut(_mm256_set1_epi32(int32_t(uint32_t(uint64_t(1) << (62 - s))))),
        shift(_mm_cvtsi32_si128(s)),
        shiftOdd(_mm_cvtsi32_si128(s >= 32 ? s - 32 : 32 - s)),
        oddLeft(s < 32) {}

  __m256i operator()(__m256i even, __m256i odd) const {
    const __m256i te = _mm256_add_epi64(_mm256_add_epi64(even, bias), _mm256_and_si256(_mm256_srl_epi64(even, shift), one));
    const __m256i to = _mm256_add_epi64(_mm256_add_epi64(odd, bias), _mm256_and_si256(_mm256_srl_epi64(odd, shift), one));
    const __m256i high = oddLeft ? _mm256_sll_epi64(to, shiftOdd) : _mm256_srl_epi64(to, shiftOdd);
    return _mm256_sub_epi32(_mm256_blend_epi32(_mm256_srl_epi64(te, shift), high, 0xaa), offsetOut);
  }
};

}  // namespace bx::cpu
