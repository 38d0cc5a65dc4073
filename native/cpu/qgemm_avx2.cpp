// AVX2 micro-kernel. vpmaddubsw would be faster but saturates int16 pair sums, so bytes are
// widened to int16 first and multiplied with vpmaddwd, which is exact for these ranges. The panel
// is packed already widened (packPanel's `wide`), once per chunk, not once per row block, in pairs
// of k (qgemm.h): each vpmaddwd lane is one column's whole sum over a pair, so the accumulators
// hold finished columns and are stored as they are.
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "avx2_rounding.h"
#include "qgemm.h"

namespace bx::cpu {
namespace {

// One weight pair (two int16) in every 32-bit lane: vbroadcastss from memory is a plain load.
inline __m256i broadcastPair(const int16_t* w) {
  return _mm256_castps_si256(_mm256_broadcast_ss(reinterpret_cast<const float*>(w)));
}

// The block's 4 rows against the panel's 16 columns (kBothHalves) or its first 8: accumulator
// lo<r> holds row r's columns 0-7, hi<r> its columns 8-15.
template <bool kBothHalves>
inline void pairKernel(const int16_t* panel, const int16_t* w, int64_t quads, int32_t* out, int64_t stride) {
  __m256i lo0 = _mm256_setzero_si256(), lo1 = lo0, lo2 = lo0, lo3 = lo0, hi0 = lo0, hi1 = lo0, hi2 = lo0, hi3 = lo0;
  for (int64_t q = 0; q < quads; ++q) {
    for (int pair = 0; pair < 2; ++pair) {
      const int16_t* values = panel + q * 64 + pair * 32;  // 16 columns x 2
      const int16_t* wp = w + q * 16 + pair * 8;           // 4 rows x 2
      const __m256i a0 = _mm256_load_si256(reinterpret_cast<const __m256i*>(values));
      const __m256i b0 = broadcastPair(wp), b1 = broadcastPair(wp + 2), b2 = broadcastPair(wp + 4), b3 = broadcastPair(wp + 6);
      lo0 = _mm256_add_epi32(lo0, _mm256_madd_epi16(a0, b0));
      lo1 = _mm256_add_epi32(lo1, _mm256_madd_epi16(a0, b1));
      lo2 = _mm256_add_epi32(lo2, _mm256_madd_epi16(a0, b2));
      lo3 = _mm256_add_epi32(lo3, _mm256_madd_epi16(a0, b3));
      if (kBothHalves) {
        const __m256i a1 = _mm256_load_si256(reinterpret_cast<const __m256i*>(values + 16));
        hi0 = _mm256_add_epi32(hi0, _mm256_madd_epi16(a1, b0));
        hi1 = _mm256_add_epi32(hi1, _mm256_madd_epi16(a1, b1));
        hi2 = _mm256_add_epi32(hi2, _mm256_madd_epi16(a1, b2));
        hi3 = _mm256_add_epi32(hi3, _mm256_madd_epi16(a1, b3));
      }
      // Without this GCC sums the two pairs' products before adding them in, which keeps more
      // registers live than there are and spills the accumulators (1.3x slower, measured).
      asm("" : "+x"(lo0), "+x"(lo1), "+x"(lo2), "+x"(lo3), "+x"(hi0), "+x"(hi1), "+x"(hi2), "+x"(hi3));
    }
  }
  const auto store = [](int32_t* dst, __m256i v) { _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst), v); };
  store(out, lo0);
  store(out + stride, lo1);
  store(out + 2 * stride, lo2);
  store(out + 3 * stride, lo3);
  if (kBothHalves) {
    store(out + 8, hi0);
    store(out + stride + 8, hi1);
    store(out + 2 * stride + 8, hi2);
    store(out + 3 * stride + 8, hi3);
  }
}

}  // namespace

static_assert(kRowsPerBlockAvx2 == 4, "the AVX2 kernel is written out for 4 rows");

void microKernelAvx2(const uint8_t* panel, const uint8_t* weights, int64_t quads, int32_t* acc, int64_t accStride) {
  pairKernel<true>(reinterpret_cast<const int16_t*>(panel), reinterpret_cast<const int16_t*>(weights), quads, acc, accStride);
}

void microKernelAvx2FirstHalf(const uint8_t* panel, const uint8_t* weights, int64_t quads, int32_t* acc, int64_t accStride) {
  pairKernel<false>(reinterpret_cast<const int16_t*>(panel), reinterpret_cast<const int16_t*>(weights), quads, acc, accStride);
}

namespace {

// Per row and column: sixteen weights widened to int16 against sixteen activations, vpmaddwd
// (exact: |a| <= 255, |b| <= 128), int32 lanes summed at the end. The depth's tail goes one by one.
template <int kColumns>
void narrowDots(const int8_t* weights, int64_t rows, int64_t depth, const int16_t* columns, int32_t* dots) {
  const int64_t full = depth & ~int64_t(15);
  for (int64_t r = 0; r < rows; ++r) {
    const int8_t* w = weights + r * depth;
    __m256i sums[kColumns];
    for (int c = 0; c < kColumns; ++c) sums[c] = _mm256_setzero_si256();
    for (int64_t k = 0; k < full; k += 16) {
      const __m256i b = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w + k)));
      for (int c = 0; c < kColumns; ++c) {
        const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(columns + c * depth + k));
        sums[c] = _mm256_add_epi32(sums[c], _mm256_madd_epi16(a, b));
      }
    }
    for (int c = 0; c < kColumns; ++c) {
      const __m128i half = _mm_add_epi32(_mm256_castsi256_si128(sums[c]), _mm256_extracti128_si256(sums[c], 1));
      const __m128i quad = _mm_add_epi32(half, _mm_shuffle_epi32(half, 0x4e));
      uint32_t dot = uint32_t(_mm_cvtsi128_si32(_mm_add_epi32(quad, _mm_shuffle_epi32(quad, 0xb1))));
      for (int64_t k = full; k < depth; ++k) dot += uint32_t(int32_t(w[k]) * int32_t(columns[c * depth + k]));
      dots[r * kColumns + c] = int32_t(dot);
    }
  }
}

}  // namespace

void narrowDotsAvx2(const int8_t* weights, int64_t rows, int64_t depth, const int16_t* columns, int64_t columnCount,
                    int32_t* dots) {
  static_assert(kNarrowColumns == 4, "one instantiation per column count");
  switch (columnCount) {
    case 1: narrowDots<1>(weights, rows, depth, columns, dots); break;
    case 2: narrowDots<2>(weights, rows, depth, columns, dots); break;
    case 3: narrowDots<3>(weights, rows, depth, columns, dots); break;
    default: narrowDots<4>(weights, rows, depth, columns, dots); break;
  }
}

namespace {

// rowEpilogueAvx2 over `runs` runs of `count` columns of one row: run r reads acc + r * accStride
// (and colSums + r * accStride) and writes columns p0 + r * outStride. The set-up (constants,
// branches on the epilogue's kind) is paid once for all the runs.
// Always inlined: rowEpilogueAvx2's copy (one run) then has no run loop left (5% of its time on
// 128-column calls, measured).
__attribute__((always_inline)) inline void epilogueRuns(const GemmEpilogue& e, int64_t row, int64_t p0, int64_t count,
                                                        const int32_t* acc, uint32_t rowConstant, uint32_t zb,
                                                        const int32_t* colSums, int64_t runs, int64_t accStride,
                                                        int64_t outStride) {
  const __m256i c = _mm256_set1_epi32(int32_t(rowConstant));
  const __m256i zbv = _mm256_set1_epi32(int32_t(zb));
  const auto corrected = [&](const int32_t* a, const int32_t* sums) {
    __m256i v = _mm256_add_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(a)), c);
    if (zb != 0) v = _mm256_sub_epi32(v, _mm256_mullo_epi32(zbv, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(sums))));
    return v;
  };
  // Fewer than 8 columns left: the same vector step on a zero-padded copy, then the valid part out.
  alignas(32) int32_t tailAcc[8] = {0}, tailSums[8] = {0};
  const int64_t full = count & ~int64_t(7), tail = count - full;
  const auto stageTail = [&](const int32_t* a, const int32_t* sums) {
    std::memcpy(tailAcc, a + full, size_t(tail) * sizeof(int32_t));
    if (zb != 0) std::memcpy(tailSums, sums + full, size_t(tail) * sizeof(int32_t));
  };
  if (!e.requantize) {
    for (int64_t r = 0; r < runs; ++r) {
      const int32_t* a = acc + r * accStride;
      const int32_t* sums = zb != 0 ? colSums + r * accStride : nullptr;
      int32_t* out = reinterpret_cast<int32_t*>(e.out) + row * e.rowStride + p0 + r * outStride;
      for (int64_t i = 0; i < full; i += 8) _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i), corrected(a + i, zb != 0 ? sums + i : nullptr));
      if (tail) {
        stageTail(a, sums);
        alignas(32) int32_t staged[8];
        _mm256_store_si256(reinterpret_cast<__m256i*>(staged), corrected(tailAcc, tailSums));
        std::memcpy(out + full, staged, size_t(tail) * sizeof(int32_t));
      }
    }
    return;
  }
  const Multiplier m = e.multipliers[row];
  if (e.wideOutput || m.mantissa == 0 || m.shift < 31 || m.shift > 61) {
    // 16-bit outputs, M >= 1 or M < 2^-30 (no model here has the last two): the portable form.
    for (int64_t r = 0; r < runs; ++r) {
      rowEpiloguePortable(e, row, p0 + r * outStride, count, acc + r * accStride, rowConstant, zb,
                          zb != 0 ? colSums + r * accStride : nullptr);
    }
    return;
  }
  // M < 1 (31 <= shift <= 61, the usual case): |acc * M| <= |acc| fits in int32, so the quotient
  // is narrowed to 32 bits before the clamp, which then uses 32-bit min/max.
  const __m256i mv = _mm256_set1_epi64x(m.mantissa);
  const NarrowingRoundShift rounded(m.shift);
  const __m256i lo32 = _mm256_set1_epi32(e.range.lo - e.outputZeroPoint);
  const __m256i hi32 = _mm256_set1_epi32(e.range.hi - e.outputZeroPoint);
  const __m256i zp = _mm256_set1_epi32(e.outputZeroPoint);
  // A local copy: read through `e` after each byte store, which may alias it, it was reloaded from
  // memory on every step.
  const bool signedOutput = e.signedOutput;
  const auto quotient = [&](__m256i v) {
    const __m256i pe = _mm256_mul_epi32(v, mv);
    const __m256i po = _mm256_mul_epi32(_mm256_srli_epi64(v, 32), mv);
    return rounded(pe, po);
  };
  const auto requantized = [&](__m256i v) {
    const __m256i q = _mm256_min_epi32(_mm256_max_epi32(quotient(v), lo32), hi32);
    const __m256i y = _mm256_add_epi32(q, zp);
    // y is inside the output range already, so the saturating packs only narrow.
    const __m128i words = _mm_packs_epi32(_mm256_castsi256_si128(y), _mm256_extracti128_si256(y, 1));
    return signedOutput ? _mm_packs_epi16(words, words) : _mm_packus_epi16(words, words);
  };
  // Outputs clamped to their whole type's range (no fused activation range) need no 32-bit
  // clamp: sixteen quotients are saturated to int16 by one pack, the zero point is added with
  // int16 saturation, and the second pack saturates to the byte range. Each saturation only moves
  // values that the clamp moves too, to the same bound: an int16-saturated quotient plus a zero
  // point of at most 255 in magnitude stays out of the byte range on the same side. (Every caller
  // passes its output type's range today; a narrower one would take the eight-wide step.)
  const bool fullRange = signedOutput ? (e.range.lo == kRangeS8.lo && e.range.hi == kRangeS8.hi)
                                      : (e.range.lo == kRangeU8.lo && e.range.hi == kRangeU8.hi);
  const __m256i zp16 = _mm256_set1_epi16(int16_t(e.outputZeroPoint));
  const __m256i columnOrder = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  const int64_t sixteens = fullRange ? count & ~int64_t(15) : 0;
  for (int64_t r = 0; r < runs; ++r) {
    const int32_t* a = acc + r * accStride;
    const int32_t* sums = zb != 0 ? colSums + r * accStride : nullptr;
    uint8_t* out = e.out + row * e.rowStride + p0 + r * outStride;
    for (int64_t i = 0; i < sixteens; i += 16) {
      const __m256i q0 = quotient(corrected(a + i, zb != 0 ? sums + i : nullptr));
      const __m256i q1 = quotient(corrected(a + i + 8, zb != 0 ? sums + i + 8 : nullptr));
      // The packs work within 128-bit lanes: the bytes' dwords 0, 4, 1, 5 are columns 0-3, 4-7,
      // 8-11, 12-15.
      const __m256i words = _mm256_adds_epi16(_mm256_packs_epi32(q0, q1), zp16);
      const __m256i bytes = signedOutput ? _mm256_packs_epi16(words, words) : _mm256_packus_epi16(words, words);
      _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i), _mm256_castsi256_si128(_mm256_permutevar8x32_epi32(bytes, columnOrder)));
    }
    for (int64_t i = sixteens; i < full; i += 8) _mm_storel_epi64(reinterpret_cast<__m128i*>(out + i), requantized(corrected(a + i, zb != 0 ? sums + i : nullptr)));
    if (tail) {
      stageTail(a, sums);
      alignas(16) uint8_t staged[16];
      _mm_store_si128(reinterpret_cast<__m128i*>(staged), requantized(corrected(tailAcc, tailSums)));
      std::memcpy(out + full, staged, size_t(tail));
    }
  }
}

}  // namespace

void rowEpilogueAvx2(const GemmEpilogue& e, int64_t row, int64_t p0, int64_t count, const int32_t* acc,
                     uint32_t rowConstant, uint32_t zb, const int32_t* colSums) {
  epilogueRuns(e, row, p0, count, acc, rowConstant, zb, colSums, 1, 0, 0);
}

void rowRunsEpilogueAvx2(const GemmEpilogue& e, int64_t row, int64_t p0, int64_t count, const int32_t* acc, int64_t runs,
                         int64_t accStride, int64_t outStride) {
  epilogueRuns(e, row, p0, count, acc, 0, 0, nullptr, runs, accStride, outStride);
}

}  // namespace bx::cpu
