// Built with -mavx2; only called on CPUs with AVX2.
#include "elementwise_avx2.h"

#include <immintrin.h>

#include "avx2_rounding.h"
#include "qgemm.h"

namespace bx::cpu {
namespace {

inline __m256i widen(const uint8_t* p, bool isSigned) {
  const __m128i bytes = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p));
  return isSigned ? _mm256_cvtepi8_epi32(bytes) : _mm256_cvtepu8_epi32(bytes);
}

}  // namespace

void qlinearAddBytesAvx2(const uint8_t* a, bool signedA, int32_t za, const uint8_t* b, bool signedB, int32_t zb,
                         const MultiplierPair& m, int32_t zy, QRange range, uint8_t* y, int64_t n) {
  // |p| = |(a - za) * ma + (b - zb) * mb| < 255 * 2^32 < 2^40, so the quotient fits in int32 from a
  // shift of 10 on (every real pair: the larger multiplier is scaled to [2^30, 2^31), shift 10 means
  // a real multiplier near 2^21) and is clamped after narrowing, with 32-bit min/max.
  int64_t i = 0;
  if (m.shift >= 10) {
    const NarrowingRoundShift rounded(m.shift);
    const __m256i ma = _mm256_set1_epi64x(m.a), mb = _mm256_set1_epi64x(m.b);
    const __m256i zaV = _mm256_set1_epi32(za), zbV = _mm256_set1_epi32(zb);
    const __m256i lo = _mm256_set1_epi32(range.lo - zy), hi = _mm256_set1_epi32(range.hi - zy);
    const __m256i zyV = _mm256_set1_epi32(zy);
    const bool signedOut = range.lo < 0;
    for (; i + 8 <= n; i += 8) {
      const __m256i ca = _mm256_sub_epi32(widen(a + i, signedA), zaV);
      const __m256i cb = _mm256_sub_epi32(widen(b + i, signedB), zbV);
      // int32 x int32 -> int64 on the even lanes, then on the odd lanes moved down.
      const __m256i even = _mm256_add_epi64(_mm256_mul_epi32(ca, ma), _mm256_mul_epi32(cb, mb));
      const __m256i odd = _mm256_add_epi64(_mm256_mul_epi32(_mm256_srli_epi64(ca, 32), ma), _mm256_mul_epi32(_mm256_srli_epi64(cb, 32), mb));
      const __m256i v = _mm256_add_epi32(_mm256_min_epi32(_mm256_max_epi32(rounded(even, odd), lo), hi), zyV);
      // v is inside the output range already, so the saturating packs only narrow.
      const __m128i words = _mm_packs_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
      const __m128i bytes = signedOut ? _mm_packs_epi16(words, words) : _mm_packus_epi16(words, words);
      _mm_storel_epi64(reinterpret_cast<__m128i*>(y + i), bytes);
    }
  }
  for (; i < n; ++i) {
    const int32_t va = (signedA ? int32_t(int8_t(a[i])) : int32_t(a[i])) - za;
    const int32_t vb = (signedB ? int32_t(int8_t(b[i])) : int32_t(b[i])) - zb;
    y[i] = uint8_t(saturate(applyMultiplierPair(va, vb, m) + zy, range.lo, range.hi));
  }
}

void qlinearMulProductsAvx2(const uint8_t* a, int64_t strideA, bool signedA, int32_t za, const uint8_t* b, int64_t strideB,
                            bool signedB, int32_t zb, int32_t* products, int64_t n) {
  const auto centred = [](const uint8_t* p, int64_t stride, bool isSigned, int32_t zero, int64_t at) {
    if (stride == 0) return _mm256_set1_epi32((isSigned ? int32_t(int8_t(p[0])) : int32_t(p[0])) - zero);
    return _mm256_sub_epi32(widen(p + at, isSigned), _mm256_set1_epi32(zero));
  };
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256i product = _mm256_mullo_epi32(centred(a, strideA, signedA, za, i), centred(b, strideB, signedB, zb, i));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(products + i), product);
  }
  for (; i < n; ++i) {
    const int32_t ca = (signedA ? int32_t(int8_t(a[i * strideA])) : int32_t(a[i * strideA])) - za;
    const int32_t cb = (signedB ? int32_t(int8_t(b[i * strideB])) : int32_t(b[i * strideB])) - zb;
    products[i] = ca * cb;  // |.| <= 255 * 255
  }
}

void qlinearMulRequantizeAvx2(const int32_t* products, int64_t n, Multiplier m, int32_t zy, QRange range, uint8_t* y) {
  // The GEMM's requantising epilogue applies exactly this rule to int32 accumulators.
  GemmEpilogue e;
  e.multipliers = &m;
  e.outputZeroPoint = zy;
  e.range = range;
  e.signedOutput = range.lo < 0;
  e.colStride = 1;
  e.out = y;
  rowEpilogueAvx2(e, 0, 0, n, products, 0, 0, nullptr);
}

// The table as sixteen 16-entry rows, each answered by one vpshufb. Row t must answer exactly the
// bytes whose high nibble is t: v - 16t (wrapping) lies in [0, 15] for those and in [16, 255] for
// all others, and adding 0x70 with unsigned saturation keeps the low nibble of the first and sets
// bit 7 of the second, which makes vpshufb write 0. Exactly one row answers each byte; OR-ing the
// sixteen lookups gives table[v]. Tails shorter than a vector go through the table one by one.
void lookupBytesAvx2(const uint8_t* table, uint8_t flip, const uint8_t* x, uint8_t* y, int64_t n) {
  __m256i rows[16];
  for (int t = 0; t < 16; ++t) rows[t] = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(table + 16 * t)));
  const __m256i flipV = _mm256_set1_epi8(char(flip)), sixteen = _mm256_set1_epi8(16), bias = _mm256_set1_epi8(0x70);
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    __m256i v = _mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + i)), flipV);
    __m256i r = _mm256_shuffle_epi8(rows[0], _mm256_adds_epu8(v, bias));
    for (int t = 1; t < 16; ++t) {
      v = _mm256_sub_epi8(v, sixteen);
      r = _mm256_or_si256(r, _mm256_shuffle_epi8(rows[t], _mm256_adds_epu8(v, bias)));
    }
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(y + i), r);
  }
  for (; i < n; ++i) y[i] = table[uint8_t(x[i] ^ flip)];
}

}  // namespace bx::cpu
