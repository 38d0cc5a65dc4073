// Built with -mavx2. vdivps is the correctly rounded binary32 division and vroundps with an
// explicit round-to-nearest-even mode ignores MXCSR, so each lane computes what the scalar rule
// computes. Adding the zero point in binary32 is exact below 2^24; above, the value is far outside
// the byte range and clamps to the same bound either way.
#include "quantize_avx2.h"

#include <immintrin.h>

#include <cmath>

namespace bx::cpu {

void quantizeBytesAvx2(const float* x, uint8_t* y, int64_t n, float scale, int32_t zeroPoint, QRange range) {
  const __m256 s = _mm256_set1_ps(scale);
  const __m256 zp = _mm256_set1_ps(float(zeroPoint));
  const __m256 lo = _mm256_set1_ps(float(range.lo)), hi = _mm256_set1_ps(float(range.hi));
  const bool isSigned = range.lo < 0;
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 q = _mm256_div_ps(_mm256_loadu_ps(x + i), s);
    __m256 r = _mm256_add_ps(_mm256_round_ps(q, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC), zp);
    r = _mm256_min_ps(_mm256_max_ps(r, lo), hi);
    const __m256i v = _mm256_cvttps_epi32(r);
    const __m128i words = _mm_packs_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    const __m128i bytes = isSigned ? _mm_packs_epi16(words, words) : _mm_packus_epi16(words, words);
    _mm_storel_epi64(reinterpret_cast<__m128i*>(y + i), bytes);
  }
  for (; i < n; ++i) y[i] = uint8_t(quantizeFloat(x[i], scale, zeroPoint, range));
}

bool allFiniteAvx2(const float* x, int64_t n) {
  const __m256i exponent = _mm256_set1_epi32(0x7f800000);
  __m256i any = _mm256_setzero_si256();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256i bits = _mm256_and_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + i)), exponent);
    any = _mm256_or_si256(any, _mm256_cmpeq_epi32(bits, exponent));
  }
  if (!_mm256_testz_si256(any, any)) return false;
  for (; i < n; ++i) {
    if (!std::isfinite(x[i])) return false;
  }
  return true;
}

}  // namespace bx::cpu
