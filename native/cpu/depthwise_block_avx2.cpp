// The channel-blocked depthwise kernel: AVX2 intrinsics (this file is built with -mavx2), eight
// channels of one image per vector. Only used on CPUs with AVX2; the scalar ISA uses the reference.
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <type_traits>

#include "depthwise.h"

namespace bx::cpu {
namespace {

// Eight rows of eight bytes (the low halves of rows[i]) to eight columns: out[j / 2] holds column
// j in its low half for even j, in its high half for odd j.
inline void transpose8x8Bytes(const __m128i rows[8], __m128i out[4]) {
  const __m128i t0 = _mm_unpacklo_epi8(rows[0], rows[1]), t1 = _mm_unpacklo_epi8(rows[2], rows[3]);
  const __m128i t2 = _mm_unpacklo_epi8(rows[4], rows[5]), t3 = _mm_unpacklo_epi8(rows[6], rows[7]);
  const __m128i u0 = _mm_unpacklo_epi16(t0, t1), u1 = _mm_unpackhi_epi16(t0, t1);  // columns 0-3, 4-7 of rows 0-3
  const __m128i u2 = _mm_unpacklo_epi16(t2, t3), u3 = _mm_unpackhi_epi16(t2, t3);  // the same of rows 4-7
  out[0] = _mm_unpacklo_epi32(u0, u2);
  out[1] = _mm_unpackhi_epi32(u0, u2);
  out[2] = _mm_unpacklo_epi32(u1, u3);
  out[3] = _mm_unpackhi_epi32(u1, u3);
}

// acc[(ox + j) * 8 ...] for j < N: bias plus every tap pair, read at stride `step` positions.
template <int N>
inline void accumulatePositions(const int16_t* base, int64_t step, const int64_t* offsets,
                                const std::array<int16_t, 2 * kDepthwiseBlock>* weights, size_t pairs, __m256i bias,
                                int32_t* acc) {
  __m256i sums[N];
  for (int j = 0; j < N; ++j) sums[j] = bias;
  for (size_t t = 0; t < pairs; ++t) {
    const __m256i w = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(weights[t].data()));
    const int16_t* at = base + offsets[t] * 16;
    for (int j = 0; j < N; ++j) {
      const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(at + j * step * 16));
      sums[j] = _mm256_add_epi32(sums[j], _mm256_madd_epi16(x, w));
    }
  }
  for (int j = 0; j < N; ++j) _mm256_storeu_si256(reinterpret_cast<__m256i*>(acc + j * 8), sums[j]);
}

}  // namespace

// Layout. block_ holds the padded input of the eight channels position by position, each
// position eight int16 values x - zx (padding is a real 0, so it adds nothing). pairs_ puts next
// to every value the one dilationW columns to its right: position (r, c) holds, per channel,
// [x(r, c), x(r, c + dilationW)], so one vpmaddwd multiplies two horizontally adjacent taps by
// their two weights and adds them into the channel's int32 lane (|x|, |w| <= 255: no
// saturation). A kernel row of odd width pairs its last tap with a weight of 0.
DepthwiseBlockRunner::DepthwiseBlockRunner(const Conv2dGeometry& g) : g_(g) {
  rows_ = (g.outH - 1) * g.strideH + (g.kernelH - 1) * g.dilationH + 1;
  columns_ = (g.outW - 1) * g.strideW + (g.kernelW - 1) * g.dilationW + 1;
  blockColumns_ = columns_ + g.dilationW;
  for (int64_t ky = 0; ky < g.kernelH; ++ky) {
    for (int64_t kx = 0; kx < g.kernelW; kx += 2) pairOffset_.push_back(ky * g.dilationH * columns_ + kx * g.dilationW);
  }
  // Where each input position goes in block_: inside the padding, or (for input no tap reads)
  // one spare position past the end.
  const int64_t spare = rows_ * blockColumns_;
  for (int64_t iy = 0; iy < g.inH; ++iy) {
    for (int64_t ix = 0; ix < g.inW; ++ix) {
      const int64_t r = iy + g.padTop, c = ix + g.padLeft;
      inputSlot_.push_back(r < rows_ && c < blockColumns_ ? r * blockColumns_ + c : spare);
    }
  }
  block_.assign(size_t((spare + 1) * kDepthwiseBlock), 0);
  pairs_.assign(size_t(rows_ * columns_ * 2 * kDepthwiseBlock), 0);
  acc_.resize(size_t(g.outH * g.outW * kDepthwiseBlock));
}

// Rewrites the positions that hold input; the padding stays 0 from the constructor.
template <typename T>
void DepthwiseBlockRunner::fill(const DepthwiseBlockInput& in) {
  const Conv2dGeometry& g = g_;
  const T* lanes[kDepthwiseBlock];
  for (int c = 0; c < kDepthwiseBlock; ++c) lanes[c] = reinterpret_cast<const T*>(in.images[std::min(c, in.count - 1)]);  // spare lanes repeat a plane (weights 0)
  const int32_t zx = in.inputZeroPoint;
  const int64_t planeSize = g.inH * g.inW;
  int16_t* block = block_.data();
  const int64_t* slot = inputSlot_.data();
  if (planeSize >= 8) {
    // Eight input positions of the eight channels per step, taken along the flattened plane
    // whatever the row width: an 8 x 8 byte transpose, widened to int16, each position's
    // sixteen bytes to its slot. The last partial step is redone as the plane's last eight.
    const __m256i zero = _mm256_set1_epi16(int16_t(zx));
    const auto step = [&](int64_t p) {
      __m128i bytes[8], positions[4];
      for (int c = 0; c < 8; ++c) bytes[c] = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(lanes[c] + p));
      transpose8x8Bytes(bytes, positions);
      for (int j = 0; j < 4; ++j) {
        const __m256i wide = _mm256_sub_epi16(std::is_signed<T>::value ? _mm256_cvtepi8_epi16(positions[j]) : _mm256_cvtepu8_epi16(positions[j]), zero);
        _mm_storeu_si128(reinterpret_cast<__m128i*>(block + slot[p + 2 * j] * kDepthwiseBlock), _mm256_castsi256_si128(wide));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(block + slot[p + 2 * j + 1] * kDepthwiseBlock), _mm256_extracti128_si256(wide, 1));
      }
    };
    int64_t p = 0;
    for (; p + 8 <= planeSize; p += 8) step(p);
    if (p < planeSize) step(planeSize - 8);
  } else {
    for (int64_t p = 0; p < planeSize; ++p) {
      for (int c = 0; c < kDepthwiseBlock; ++c) block[slot[p] * kDepthwiseBlock + c] = int16_t(int32_t(lanes[c][p]) - zx);
    }
  }
  const int64_t inputColumns = std::min(g.inW, blockColumns_ - g.padLeft);  // input columns any tap reads
  const int64_t inputRows = std::min(g.inH, rows_ - g.padTop);
  if (inputColumns <= 0 || inputRows <= 0) return;
  // The pairs of every column that has an input value on either side.
  const int64_t dw = g.dilationW;
  const int64_t cBegin = std::max<int64_t>(0, g.padLeft - dw), cEnd = std::min(columns_, g.padLeft + inputColumns);
  for (int64_t r = g.padTop; r < g.padTop + inputRows; ++r) {
    const int16_t* from = block_.data() + r * blockColumns_ * kDepthwiseBlock;
    int16_t* to = pairs_.data() + r * columns_ * 2 * kDepthwiseBlock;
    for (int64_t c = cBegin; c < cEnd; ++c) {
      const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(from + c * kDepthwiseBlock));
      const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(from + (c + dw) * kDepthwiseBlock));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(to + c * 16), _mm_unpacklo_epi16(a, b));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(to + c * 16 + 8), _mm_unpackhi_epi16(a, b));
    }
  }
}

void DepthwiseBlockRunner::run(const DepthwiseBlockInput& in, const DepthwiseBlockWeights& w, const GemmEpilogue* epilogues) {
  const Conv2dGeometry& g = g_;
  if (in.signedInput) fill<int8_t>(in);
  else fill<uint8_t>(in);

  const __m256i biasVector = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w.bias.data()));
  const int64_t step = g.strideW;
  for (int64_t oy = 0; oy < g.outH; ++oy) {
    const int16_t* row = pairs_.data() + oy * g.strideH * columns_ * 16;
    int32_t* acc = acc_.data() + oy * g.outW * kDepthwiseBlock;
    const auto four = [&](int64_t ox) {
      accumulatePositions<4>(row + ox * step * 16, step, pairOffset_.data(), w.pairs.data(), pairOffset_.size(), biasVector,
                             acc + ox * kDepthwiseBlock);
    };
    if (g.outW >= 4) {
      int64_t ox = 0;
      for (; ox + 4 <= g.outW; ox += 4) four(ox);
      if (ox < g.outW) four(g.outW - 4);  // the last columns again, overlapping: same values
    } else {
      for (int64_t ox = 0; ox < g.outW; ++ox) {
        accumulatePositions<1>(row + ox * step * 16, step, pairOffset_.data(), w.pairs.data(), pairOffset_.size(), biasVector,
                               acc + ox * kDepthwiseBlock);
      }
    }
  }
  finish(epilogues, in.count);
}

// acc_ [position][channel] to each channel's output plane.
void DepthwiseBlockRunner::finish(const GemmEpilogue* epilogues, int count) {
  const int64_t positions = g_.outH * g_.outW;
  const int32_t* acc = acc_.data();
  const GemmEpilogue& first = epilogues[0];
  bool vectorRequantize = first.requantize && !first.wideOutput;
  for (int c = 0; c < count && vectorRequantize; ++c) {
    const Multiplier m = epilogues[c].multipliers[0];
    vectorRequantize = m.mantissa != 0 && m.shift >= 31 && m.shift <= 61;
  }
  if (!vectorRequantize) {
    // int32 outputs (ConvInteger) and multipliers outside the vector path's range: one at a time.
    for (int c = 0; c < count; ++c) {
      for (int64_t p = 0; p < positions; ++p) storeAccumulator(epilogues[c], 0, p, acc[p * kDepthwiseBlock + c]);
    }
    return;
  }
  // Requantisation with each lane's own multiplier: the parity form of round-half-even of
  // NarrowingRoundShift (avx2_rounding.h), with per-lane shifts. Even lanes (channels 0, 2, 4, 6) and
  // odd lanes each take four 64-bit products; the odd quotients are moved into the high halves.
  alignas(32) int64_t mantissaEven[4], mantissaOdd[4], shiftEven[4], shiftOdd[4], biasEven[4], biasOdd[4];
  alignas(32) int32_t offsetOut[kDepthwiseBlock];
  for (int c = 0; c < kDepthwiseBlock; ++c) {
    const Multiplier m = epilogues[std::min(c, count - 1)].multipliers[0];
    const int64_t bias = (int64_t(1) << 62) + (int64_t(1) << (m.shift - 1)) - 1;
    (c % 2 ? mantissaOdd : mantissaEven)[c / 2] = m.mantissa;
    (c % 2 ? shiftOdd : shiftEven)[c / 2] = m.shift;
    (c % 2 ? biasOdd : biasEven)[c / 2] = bias;
    offsetOut[c] = int32_t(uint32_t(uint64_t(1) << (62 - m.shift)));
  }
  const auto load = [](const void* p) { return _mm256_load_si256(reinterpret_cast<const __m256i*>(p)); };
  const __m256i mvE = load(mantissaEven), mvO = load(mantissaOdd), sE = load(shiftEven), sO = load(shiftOdd);
  const __m256i bE = load(biasEven), bO = load(biasOdd), offset = load(offsetOut);
  const __m256i one = _mm256_set1_epi64x(1);
  const __m256i lo32 = _mm256_set1_epi32(first.range.lo - first.outputZeroPoint);
  const __m256i hi32 = _mm256_set1_epi32(first.range.hi - first.outputZeroPoint);
  const __m256i zp = _mm256_set1_epi32(first.outputZeroPoint);
  const bool signedOutput = first.signedOutput;
  // One position's eight channels to eight bytes (the low half).
  const auto requantized = [&](const int32_t* a) {
    const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a));
    const __m256i pe = _mm256_mul_epi32(v, mvE);
    const __m256i po = _mm256_mul_epi32(_mm256_srli_epi64(v, 32), mvO);
    const __m256i te = _mm256_add_epi64(_mm256_add_epi64(pe, bE), _mm256_and_si256(_mm256_srlv_epi64(pe, sE), one));
    const __m256i to = _mm256_add_epi64(_mm256_add_epi64(po, bO), _mm256_and_si256(_mm256_srlv_epi64(po, sO), one));
    __m256i q = _mm256_blend_epi32(_mm256_srlv_epi64(te, sE), _mm256_slli_epi64(_mm256_srlv_epi64(to, sO), 32), 0xaa);
    q = _mm256_sub_epi32(q, offset);
    q = _mm256_min_epi32(_mm256_max_epi32(q, lo32), hi32);
    const __m256i y = _mm256_add_epi32(q, zp);
    // y is inside the output range already, so the saturating packs only narrow.
    const __m128i words = _mm_packs_epi32(_mm256_castsi256_si128(y), _mm256_extracti128_si256(y, 1));
    return signedOutput ? _mm_packs_epi16(words, words) : _mm_packus_epi16(words, words);
  };
  // Eight positions per step, transposed to eight bytes per channel; the last partial step is
  // redone as the eight positions ending at the plane's end. Planes under eight positions go
  // through a zero-padded copy.
  const auto group = [&](const int32_t* from, int64_t p0, int64_t valid) {
    __m128i rows[8], channels[4];
    for (int i = 0; i < 8; ++i) rows[i] = requantized(from + i * kDepthwiseBlock);
    transpose8x8Bytes(rows, channels);
    if (valid == 8) {
      for (int c = 0; c < count; ++c) {
        uint8_t* to = epilogues[c].out + p0;
        if (c % 2) _mm_storeh_pd(reinterpret_cast<double*>(to), _mm_castsi128_pd(channels[c / 2]));
        else _mm_storel_epi64(reinterpret_cast<__m128i*>(to), channels[c / 2]);
      }
      return;
    }
    for (int c = 0; c < count; ++c) {
      alignas(16) uint8_t bytes[16];
      _mm_store_si128(reinterpret_cast<__m128i*>(bytes), channels[c / 2]);
      std::memcpy(epilogues[c].out + p0, bytes + (c % 2) * 8, size_t(valid));
    }
  };
  if (positions >= 8) {
    int64_t p = 0;
    for (; p + 8 <= positions; p += 8) group(acc + p * kDepthwiseBlock, p, 8);
    if (p < positions) group(acc + (positions - 8) * kDepthwiseBlock, positions - 8, 8);
  } else {
    alignas(32) int32_t padded[8 * kDepthwiseBlock] = {0};
    std::memcpy(padded, acc, size_t(positions * kDepthwiseBlock) * sizeof(int32_t));
    group(padded, 0, positions);
  }
}

}  // namespace bx::cpu
