#include "qgemm.h"

#include <algorithm>
#include <cstring>
#include <emmintrin.h>

#include "../core/errors.h"

namespace bx::cpu {

PackedWeights packWeights(Isa isa, const uint8_t* weights, bool signedWeights, int64_t rows, int64_t depth,
                          const std::vector<int32_t>& weightZeroPoints) {
  PackedWeights p;
  p.isa = isa;
  p.rows = rows;
  p.depth = depth;
  p.plain.resize(size_t(rows * depth));
  p.zeroPoints.resize(size_t(rows));
  p.rowSums.resize(size_t(rows));
  const int32_t offset = signedWeights ? 0 : 128;  // uint8 weights move into the s8 domain
  for (int64_t r = 0; r < rows; ++r) {
    int32_t sum = 0;
    for (int64_t k = 0; k < depth; ++k) {
      const int32_t raw = signedWeights ? int32_t(int8_t(weights[r * depth + k])) : int32_t(weights[r * depth + k]);
      const int8_t b = int8_t(raw - offset);
      p.plain[size_t(r * depth + k)] = b;
      sum += b;
    }
    p.rowSums[size_t(r)] = sum;
    p.zeroPoints[size_t(r)] = weightZeroPoints[size_t(r)] - offset;
    if (p.zeroPoints[size_t(r)] != 0) p.anyZeroPoint = true;
  }
  if (isa == Isa::Scalar) return p;

  const int mr = isa == Isa::Avx2 ? kRowsPerBlockAvx2 : kRowsPerBlockAvx512;
  const bool wide = isa == Isa::Avx2;  // AVX2 keeps weights widened to int16, in pairs (qgemm.h)
  p.rowsPerBlock = mr;
  const int64_t blocks = (rows + mr - 1) / mr;
  const int64_t quads = quadCount(depth);
  p.data.assign(size_t(blocks * quads * mr * 4) * (wide ? 2 : 1), 0);
  for (int64_t block = 0; block < blocks; ++block) {
    for (int64_t q = 0; q < quads; ++q) {
      for (int r = 0; r < mr; ++r) {
        const int64_t row = block * mr + r;
        for (int j = 0; j < 4; ++j) {
          const int64_t k = q * 4 + j;
          const int8_t b = (row < rows && k < depth) ? p.plain[size_t(row * depth + k)] : int8_t(0);
          const size_t quadStart = size_t((block * quads + q) * mr * 4);
          if (wide) {
            const int16_t value = b;
            const size_t slot = quadStart + size_t(((j >> 1) * mr + r) * 2 + (j & 1));
            std::memcpy(&p.data[slot * 2], &value, 2);
          } else {
            p.data[quadStart + size_t(r * 4 + j)] = uint8_t(b);
          }
        }
      }
    }
  }
  return p;
}

namespace {

// Stores sixteen bytes widened to uint16 at byte `offset` of a wide panel. SSE2 only, like
// everything in this file: part of the baseline build.
inline void storeWidened(__m128i v, uint8_t* panel, int64_t offset) {
  const __m128i zero = _mm_setzero_si128();
  _mm_storeu_si128(reinterpret_cast<__m128i*>(panel + offset), _mm_unpacklo_epi8(v, zero));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(panel + offset + 16), _mm_unpackhi_epi8(v, zero));
}

// Interleaves four 16-byte rows (k, k+1, k+2, k+3 for 16 columns) into panel quad q. Byte panels:
// column i's four bytes end up adjacent. Wide panels (AVX2, qgemm.h): pair 0 (rows k, k+1) of the
// sixteen columns, then pair 1, each byte widened to a uint16; packing straight into that layout
// saves a second pass over every panel, and pairs need one interleave step fewer than quads.
inline void interleaveRows(__m128i r0, __m128i r1, __m128i r2, __m128i r3, uint8_t* panel, int64_t q, bool wide) {
  const __m128i lo01 = _mm_unpacklo_epi8(r0, r1), hi01 = _mm_unpackhi_epi8(r0, r1);
  const __m128i lo23 = _mm_unpacklo_epi8(r2, r3), hi23 = _mm_unpackhi_epi8(r2, r3);
  if (wide) {
    uint8_t* quad = panel + q * kPanelWidth * 4 * 2;
    storeWidened(lo01, quad, 0);
    storeWidened(hi01, quad, 32);
    storeWidened(lo23, quad, 64);
    storeWidened(hi23, quad, 96);
    return;
  }
  uint8_t* quad = panel + q * kPanelWidth * 4;
  _mm_storeu_si128(reinterpret_cast<__m128i*>(quad), _mm_unpacklo_epi16(lo01, lo23));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(quad + 16), _mm_unpackhi_epi16(lo01, lo23));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(quad + 32), _mm_unpacklo_epi16(hi01, hi23));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(quad + 48), _mm_unpackhi_epi16(hi01, hi23));
}

inline void interleaveQuad(const uint8_t* rows, int64_t rowStride, uint8_t* panel, int64_t q, bool wide) {
  interleaveRows(_mm_loadu_si128(reinterpret_cast<const __m128i*>(rows)),
                 _mm_loadu_si128(reinterpret_cast<const __m128i*>(rows + rowStride)),
                 _mm_loadu_si128(reinterpret_cast<const __m128i*>(rows + 2 * rowStride)),
                 _mm_loadu_si128(reinterpret_cast<const __m128i*>(rows + 3 * rowStride)), panel, q, wide);
}

// Turns the first `quads` quads of a byte panel into the wide layout in place, last quad first:
// a quad's 64 bytes are all loaded before its 128 bytes are stored, and those overlap only quads
// already done. Each 16 bytes hold four columns' quads; their 16-bit words (one pair each) are
// split into the four columns' pair 0 and pair 1.
void widenInPlace(uint8_t* panel, int64_t quads) {
  for (int64_t q = quads - 1; q >= 0; --q) {
    __m128i groups[4];
    for (int g = 0; g < 4; ++g) {
      const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(panel + q * 64 + 16 * g));
      // words 0-7 = (column, pair) 00 01 10 11 20 21 30 31 -> 00 10 20 30 | 01 11 21 31
      groups[g] = _mm_shuffle_epi32(_mm_shufflehi_epi16(_mm_shufflelo_epi16(v, 0xd8), 0xd8), 0xd8);
    }
    uint8_t* quad = panel + q * 128;
    const __m128i zero = _mm_setzero_si128();
    for (int g = 0; g < 4; ++g) {
      _mm_storeu_si128(reinterpret_cast<__m128i*>(quad + 16 * g), _mm_unpacklo_epi8(groups[g], zero));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(quad + 64 + 16 * g), _mm_unpackhi_epi8(groups[g], zero));
    }
  }
}

// A panel from its k-rows: loadRow(k) gives the sixteen bytes of row k (u8 domain), four rows
// are interleaved into a quad; rows past the depth are zero (and so are their weights). Column
// sums go through 16-bit lanes, flushed to int32 every 256 rows (256 * 255 < 2^16).
template <typename LoadRow>
void packRows(LoadRow loadRow, int64_t depth, uint8_t* panel, int32_t* colSums, bool wide) {
  const __m128i zero = _mm_setzero_si128();
  __m128i sumLo = zero, sumHi = zero;  // columns 0-7 and 8-15, uint16
  __m128i total[4] = {zero, zero, zero, zero};
  const auto flush = [&] {
    total[0] = _mm_add_epi32(total[0], _mm_unpacklo_epi16(sumLo, zero));
    total[1] = _mm_add_epi32(total[1], _mm_unpackhi_epi16(sumLo, zero));
    total[2] = _mm_add_epi32(total[2], _mm_unpacklo_epi16(sumHi, zero));
    total[3] = _mm_add_epi32(total[3], _mm_unpackhi_epi16(sumHi, zero));
    sumLo = sumHi = zero;
  };
  const auto row = [&](int64_t k) {
    if (k >= depth) return zero;
    const __m128i v = loadRow(k);
    if (colSums) {
      sumLo = _mm_add_epi16(sumLo, _mm_unpacklo_epi8(v, zero));
      sumHi = _mm_add_epi16(sumHi, _mm_unpackhi_epi8(v, zero));
    }
    return v;
  };
  for (int64_t k = 0; k < depth; k += 4) {
    const __m128i r0 = row(k), r1 = row(k + 1), r2 = row(k + 2), r3 = row(k + 3);
    interleaveRows(r0, r1, r2, r3, panel, k >> 2, wide);
    if (colSums && ((k + 4) & 255) == 0) flush();
  }
  if (!colSums) return;
  flush();
  for (int j = 0; j < 4; ++j) _mm_storeu_si128(reinterpret_cast<__m128i*>(colSums + 4 * j), total[j]);
}

// Sixteen contiguous columns of a row-major [K][columns] matrix (an NCHW pointwise convolution):
// each k-row is one 16-byte load, offset to u8 by `mask`.
void packContiguousPanel(const uint8_t* base, int64_t strideK, int64_t depth, uint8_t mask, uint8_t* panel, int32_t* colSums,
                         bool wide) {
  const __m128i flip = _mm_set1_epi8(char(mask));
  packRows([&](int64_t k) { return _mm_xor_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(base + k * strideK)), flip); },
           depth, panel, colSums, wide);
}

}  // namespace

void MatrixSource::packPanel(int64_t p0, int64_t count, uint8_t* panel, int32_t* colSums, bool wide) const {
  if (strideP_ == 1 && count == kPanelWidth && strideK_ >= kPanelWidth) {
    packContiguousPanel(base_ + p0, strideK_, depth_, xorMask_, panel, colSums, wide);
    return;
  }
  int32_t sums[kPanelWidth] = {0};
  const bool interleaved = strideP_ < strideK_;  // packed through interleaveQuad, already wide when asked
  if (interleaved) {
    // Columns adjacent in memory (NCHW pointwise convolution): copy each row of K, interleave
    // four rows into a quad.
    alignas(16) uint8_t rows[4][kPanelWidth];
    std::memset(rows, 0, sizeof(rows));
    for (int64_t k = 0; k < depth_; ++k) {
      const uint8_t* src = base_ + k * strideK_ + p0 * strideP_;
      uint8_t* row = rows[k & 3];
      for (int64_t i = 0; i < count; ++i) row[i] = uint8_t(src[i * strideP_] ^ xorMask_);
      if (colSums) for (int64_t i = 0; i < count; ++i) sums[i] += row[i];
      if ((k & 3) == 3) interleaveQuad(&rows[0][0], kPanelWidth, panel, k >> 2, wide);
    }
    if (depth_ & 3) {
      for (int64_t r = depth_ & 3; r < 4; ++r) std::memset(rows[r], 0, kPanelWidth);
      interleaveQuad(&rows[0][0], kPanelWidth, panel, depth_ >> 2, wide);
    }
  } else if (strideK_ == 1) {
    // Each column is a contiguous row of K bytes (MatMul activations [M, K]): a quad of a column
    // is 4 adjacent bytes, so 16 bytes of K fill 4 quads; psadbw sums them.
    const int64_t quads = quadCount(depth_);
    if (count < kPanelWidth || (depth_ & 3)) std::memset(panel, 0, size_t(quads * kPanelWidth * 4));
    const __m128i mask = _mm_set1_epi8(char(xorMask_));
    for (int64_t i = 0; i < count; ++i) {
      const uint8_t* column = base_ + (p0 + i) * strideP_;
      __m128i total = _mm_setzero_si128();
      int64_t k = 0;
      for (; k + 16 <= depth_; k += 16) {
        const __m128i v = _mm_xor_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(column + k)), mask);
        total = _mm_add_epi64(total, _mm_sad_epu8(v, _mm_setzero_si128()));
        uint8_t* dst = panel + ((k >> 2) * kPanelWidth + i) * 4;
        const int32_t w0 = _mm_cvtsi128_si32(v), w1 = _mm_cvtsi128_si32(_mm_srli_si128(v, 4));
        const int32_t w2 = _mm_cvtsi128_si32(_mm_srli_si128(v, 8)), w3 = _mm_cvtsi128_si32(_mm_srli_si128(v, 12));
        std::memcpy(dst, &w0, 4);
        std::memcpy(dst + kPanelWidth * 4, &w1, 4);
        std::memcpy(dst + kPanelWidth * 8, &w2, 4);
        std::memcpy(dst + kPanelWidth * 12, &w3, 4);
      }
      int32_t sum = _mm_cvtsi128_si32(total) + _mm_cvtsi128_si32(_mm_srli_si128(total, 8));  // the two 64-bit lanes
      for (; k < depth_; ++k) {
        const uint8_t a = uint8_t(column[k] ^ xorMask_);
        panel[((k >> 2) * kPanelWidth + i) * 4 + (k & 3)] = a;
        sum += a;
      }
      sums[i] = sum;
    }
  } else {
    // Rows adjacent in memory with a stride: walk each column's K once.
    std::memset(panel, 0, size_t(quadCount(depth_) * kPanelWidth * 4));
    for (int64_t i = 0; i < count; ++i) {
      const uint8_t* column = base_ + (p0 + i) * strideP_;
      for (int64_t k = 0; k < depth_; ++k) {
        const uint8_t a = uint8_t(column[k * strideK_] ^ xorMask_);
        panel[((k >> 2) * kPanelWidth + i) * 4 + (k & 3)] = a;
        sums[i] += a;
      }
    }
  }
  // The two other paths write bytes one column at a time: widened afterwards.
  if (wide && !interleaved) widenInPlace(panel, quadCount(depth_));
  if (colSums) for (int64_t i = 0; i < count; ++i) colSums[i] = sums[i];
}

Im2colSource::Im2colSource(const uint8_t* image, bool signedInput, const Conv2dGeometry& g, uint8_t padValue) : g_(g) {
  const uint8_t mask = signedInput ? 0x80 : 0;
  // Rows and columns any window reaches, with the input placed at (padTop, padLeft).
  const int64_t rows = std::max(g.padTop + g.inH, (g.outH - 1) * g.strideH + (g.kernelH - 1) * g.dilationH + 1);
  const int64_t columns = std::max(g.padLeft + g.inW, (g.outW - 1) * g.strideW + (g.kernelW - 1) * g.dilationW + 1);
  padded_.assign(size_t(g.channels * rows * columns + 64), uint8_t(padValue ^ mask));
  // Locals: byte stores may alias anything, so fields read in the loop would be reloaded per byte.
  const int64_t channels = g.channels, inH = g.inH, inW = g.inW, padTop = g.padTop, padLeft = g.padLeft;
  uint8_t* const base = padded_.data();
  for (int64_t c = 0; c < channels; ++c) {
    for (int64_t y = 0; y < inH; ++y) {
      const uint8_t* __restrict src = image + (c * inH + y) * inW;
      uint8_t* __restrict dst = base + (c * rows + padTop + y) * columns + padLeft;
      if (mask == 0) std::memcpy(dst, src, size_t(inW));
      else for (int64_t x = 0; x < inW; ++x) dst[x] = uint8_t(src[x] ^ 0x80);
    }
  }
  g_.inH = rows;
  g_.inW = columns;
  g_.padTop = 0;
  g_.padLeft = 0;
  for (int64_t c = 0; c < channels; ++c) {
    for (int64_t ky = 0; ky < g.kernelH; ++ky) {
      for (int64_t kx = 0; kx < g.kernelW; ++kx) kOffset_.push_back((c * rows + ky * g.dilationH) * columns + kx * g.dilationW);
    }
  }
}

void Im2colSource::packPanel(int64_t p0, int64_t count, uint8_t* panel, int32_t* colSums, bool wide) const {
  // The panel's columns split into runs that share an output row; within a run the input
  // columns advance by strideW. Each k's 16 bytes are gathered into a row buffer, four rows are
  // interleaved into a quad. The padded image makes every read in bounds.
  struct Run { int64_t first, length, offset; };
  Run runs[kPanelWidth];
  int64_t runCount = 0;
  for (int64_t i = 0; i < count;) {
    const int64_t p = p0 + i;
    const int64_t oy = p / g_.outW, ox = p % g_.outW;
    const int64_t length = std::min(count - i, g_.outW - ox);
    runs[runCount++] = Run{i, length, oy * g_.strideH * g_.inW + ox * g_.strideW};
    i += length;
  }
  // The usual shapes read each k-row straight into a register, as two halves of eight columns:
  // one run (the sixteen columns lie in one output row; its second half starts eight outputs on)
  // or two runs of eight (8-wide maps), at stride 1 or 2. Reads may run past the columns into the
  // next row or the buffer's slack: those lanes are past `count`, computed and never read.
  const int64_t depth = g_.channels * g_.kernelH * g_.kernelW;
  const int64_t* kOffset = kOffset_.data();
  const uint8_t* const image = padded_.data();
  const __m128i lowBytes = _mm_set1_epi16(0x00ff);  // stride 2: the low byte of each 16-bit pair
  const bool halves = runCount == 1 || (runCount == 2 && runs[0].length == 8 && runs[1].length == 8);
  if (halves && g_.strideW <= 2) {
    const uint8_t* first = image + runs[0].offset;
    const uint8_t* second = runCount == 1 ? first + 8 * g_.strideW : image + runs[1].offset;
    if (g_.strideW == 1 && runCount == 1) {
      // Sixteen adjacent outputs of one row: one load.
      packRows([&](int64_t k) { return _mm_loadu_si128(reinterpret_cast<const __m128i*>(first + kOffset[k])); }, depth, panel,
               colSums, wide);
    } else if (g_.strideW == 1) {
      packRows([&](int64_t k) {
        return _mm_unpacklo_epi64(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(first + kOffset[k])),
                                  _mm_loadl_epi64(reinterpret_cast<const __m128i*>(second + kOffset[k])));
      }, depth, panel, colSums, wide);
    } else {
      packRows([&](int64_t k) {
        const __m128i a = _mm_and_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(first + kOffset[k])), lowBytes);
        const __m128i b = _mm_and_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(second + kOffset[k])), lowBytes);
        return _mm_packus_epi16(a, b);
      }, depth, panel, colSums, wide);
    }
    return;
  }
  // Otherwise each k's sixteen bytes are gathered run by run into a row buffer. A run's 16-byte
  // store may spill past its columns into the next run's (written after it) or into the second
  // half of the 32-byte row.
  alignas(16) uint8_t rows[4][2 * kPanelWidth];
  std::memset(rows, 0, sizeof(rows));
  int32_t sums[kPanelWidth] = {0};
  const int64_t strideW = g_.strideW;
  int64_t k = 0;
  for (int64_t c = 0; c < g_.channels; ++c) {
    for (int64_t ky = 0; ky < g_.kernelH; ++ky) {
      for (int64_t kx = 0; kx < g_.kernelW; ++kx, ++k) {
        uint8_t* row = rows[k & 3];
        const uint8_t* tap = image + kOffset[k];
        for (int64_t r = 0; r < runCount; ++r) {
          const uint8_t* src = tap + runs[r].offset;
          uint8_t* dst = row + runs[r].first;
          if (strideW == 1) {
            _mm_storeu_si128(reinterpret_cast<__m128i*>(dst), _mm_loadu_si128(reinterpret_cast<const __m128i*>(src)));
          } else if (strideW == 2) {
            // Every other byte of 32: keep the low byte of each 16-bit pair.
            const __m128i a = _mm_and_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src)), lowBytes);
            const __m128i b = _mm_and_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + 16)), lowBytes);
            _mm_storeu_si128(reinterpret_cast<__m128i*>(dst), _mm_packus_epi16(a, b));
          } else {
            for (int64_t j = 0; j < runs[r].length; ++j) dst[j] = src[j * strideW];
          }
        }
        if (colSums) for (int64_t i = 0; i < count; ++i) sums[i] += row[i];
        if ((k & 3) == 3) interleaveQuad(&rows[0][0], 2 * kPanelWidth, panel, k >> 2, wide);
      }
    }
  }
  if (depth & 3) {
    // The last, partial quad: rows past the depth are zero (and so are their weights).
    for (int64_t r = depth & 3; r < 4; ++r) std::memset(rows[r], 0, 2 * kPanelWidth);
    interleaveQuad(&rows[0][0], 2 * kPanelWidth, panel, depth >> 2, wide);
  }
  if (colSums) for (int64_t i = 0; i < count; ++i) colSums[i] = sums[i];
}

std::vector<int32_t> makeRowConstants(const PackedWeights& w, int32_t activationZeroPoint,
                                      const std::vector<int32_t>& bias) {
  std::vector<int32_t> out(size_t(w.rows));
  const uint32_t za = uint32_t(activationZeroPoint);
  for (int64_t r = 0; r < w.rows; ++r) {
    // uint32 arithmetic: wrap-around is defined and exact modulo 2^32 (see qgemm.h).
    const uint32_t zb = uint32_t(w.zeroPoints[size_t(r)]);
    const uint32_t c = uint32_t(bias.empty() ? 0 : bias[size_t(r)]) - za * uint32_t(w.rowSums[size_t(r)]) +
                       uint32_t(w.depth) * za * zb;
    out[size_t(r)] = int32_t(c);
  }
  return out;
}

void rowEpiloguePortable(const GemmEpilogue& e, int64_t row, int64_t p0, int64_t count, const int32_t* acc,
                         uint32_t rowConstant, uint32_t zb, const int32_t* colSums) {
  for (int64_t i = 0; i < count; ++i) {
    const uint32_t correction = zb == 0 ? 0u : zb * uint32_t(colSums[i]);
    storeAccumulator(e, row, p0 + i, int32_t(uint32_t(acc[i]) + rowConstant - correction));
  }
}

bool packedGemmSelfTest(Isa isa) {
  constexpr int64_t kRows = 13, kDepth = 77, kColumns = 37;
  uint32_t seed = 12345;
  const auto next = [&seed] {
    seed = seed * 1103515245u + 12345u;
    return uint8_t(seed >> 16);
  };
  std::vector<uint8_t> weights(kRows * kDepth), activations(kColumns * kDepth);
  for (auto& b : weights) b = next();
  for (auto& b : activations) b = next();
  weights[0] = 0x80;  // -128 and 255 at least once
  activations[0] = 255;
  std::vector<int32_t> weightZeroPoints(kRows), bias(kRows);
  for (int64_t r = 0; r < kRows; ++r) {
    weightZeroPoints[size_t(r)] = r % 3 == 0 ? int32_t(int8_t(next())) : 0;
    bias[size_t(r)] = int32_t(next()) * 1000 - 128000;
  }
  const int32_t activationZeroPoint = 201;
  const PackedWeights w = packWeights(isa, weights.data(), true, kRows, kDepth, weightZeroPoints);
  const std::vector<int32_t> constants = makeRowConstants(w, activationZeroPoint, bias);
  std::vector<int32_t> out(kRows * kColumns, 0);
  GemmEpilogue e;
  e.rowConstant = constants.data();
  e.requantize = false;
  e.out = reinterpret_cast<uint8_t*>(out.data());
  e.rowStride = kColumns;
  e.colStride = 1;
  ThreadPool single(1);
  MatrixSource src(activations.data(), false, kDepth, 1, kDepth);
  runPackedGemm(single, w, src, kColumns, e);
  for (int64_t r = 0; r < kRows; ++r) {
    for (int64_t c = 0; c < kColumns; ++c) {
      int64_t acc = bias[size_t(r)];
      for (int64_t k = 0; k < kDepth; ++k) {
        acc += (int64_t(activations[size_t(c * kDepth + k)]) - activationZeroPoint) *
               (int64_t(int8_t(weights[size_t(r * kDepth + k)])) - weightZeroPoints[size_t(r)]);
      }
      if (out[size_t(r * kColumns + c)] != int32_t(acc)) return false;
    }
  }
  return true;
}

namespace {

// tile[r][c] (r < rows, a multiple of 4; c < columns) to out[c * colStride + r], four rows at a
// time, for the columns in whole steps; returns how many columns it wrote.
int64_t transposeInt32Groups(const int32_t* tile, int64_t columns, int64_t rows, int32_t* out, int64_t colStride) {
  const int64_t whole = columns & ~int64_t(3);
  for (int64_t r = 0; r < rows; r += 4) {
    for (int64_t c = 0; c < whole; c += 4) {
      const auto load = [&](int64_t row) { return _mm_loadu_si128(reinterpret_cast<const __m128i*>(tile + (r + row) * columns + c)); };
      const __m128i a = load(0), b = load(1), cc = load(2), d = load(3);
      const __m128i ab0 = _mm_unpacklo_epi32(a, b), cd0 = _mm_unpacklo_epi32(cc, d);
      const __m128i ab1 = _mm_unpackhi_epi32(a, b), cd1 = _mm_unpackhi_epi32(cc, d);
      int32_t* dst = out + c * colStride + r;
      _mm_storeu_si128(reinterpret_cast<__m128i*>(dst), _mm_unpacklo_epi64(ab0, cd0));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + colStride), _mm_unpackhi_epi64(ab0, cd0));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + 2 * colStride), _mm_unpacklo_epi64(ab1, cd1));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + 3 * colStride), _mm_unpackhi_epi64(ab1, cd1));
    }
  }
  return whole;
}

// The same for byte elements, sixteen columns per step: each column's four bytes are one store.
int64_t transposeByteGroups(const uint8_t* tile, int64_t columns, int64_t rows, uint8_t* out, int64_t colStride) {
  const int64_t whole = columns & ~int64_t(15);
  for (int64_t r = 0; r < rows; r += 4) {
    for (int64_t c = 0; c < whole; c += 16) {
      const auto load = [&](int64_t row) { return _mm_loadu_si128(reinterpret_cast<const __m128i*>(tile + (r + row) * columns + c)); };
      const __m128i a = load(0), b = load(1), cc = load(2), d = load(3);
      const __m128i ab0 = _mm_unpacklo_epi8(a, b), cd0 = _mm_unpacklo_epi8(cc, d);
      const __m128i ab1 = _mm_unpackhi_epi8(a, b), cd1 = _mm_unpackhi_epi8(cc, d);
      const __m128i quads[4] = {_mm_unpacklo_epi16(ab0, cd0), _mm_unpackhi_epi16(ab0, cd0), _mm_unpacklo_epi16(ab1, cd1),
                                _mm_unpackhi_epi16(ab1, cd1)};  // columns 0-3, 4-7, 8-11, 12-15
      uint8_t* dst = out + c * colStride + r;
      for (int q = 0; q < 4; ++q) {
        alignas(16) uint32_t words[4];
        _mm_store_si128(reinterpret_cast<__m128i*>(words), quads[q]);
        for (int j = 0; j < 4; ++j) std::memcpy(dst + (4 * q + j) * colStride, &words[j], 4);
      }
    }
  }
  return whole;
}

// The narrow path (columns <= kNarrowColumns): the columns come out of one packed panel, widened
// to int16 rows of K; each task takes a range of weight rows and finishes its outputs through the
// exact scalar epilogue (a few thousand outputs at most per column).
void runNarrowGemm(ThreadPool& pool, const PackedWeights& w, const ActivationSource& src, int64_t columns,
                   const GemmEpilogue& e) {
  const int64_t depth = w.depth, quads = quadCount(depth);
  std::vector<uint8_t> panel(size_t(quads * kPanelWidth * 4) + 64);
  int32_t colSums[kPanelWidth] = {0};
  src.packPanel(0, columns, panel.data(), w.anyZeroPoint ? colSums : nullptr, false);
  std::vector<int16_t> widened(size_t(columns * depth));
  for (int64_t c = 0; c < columns; ++c) {
    for (int64_t k = 0; k < depth; ++k) widened[size_t(c * depth + k)] = panel[size_t(((k >> 2) * kPanelWidth + c) * 4 + (k & 3))];
  }
  constexpr int64_t kRowsPerTask = 64;
  const int64_t tasks = (w.rows + kRowsPerTask - 1) / kRowsPerTask;
  const auto runRows = [&](int64_t task) {
    const int64_t row0 = task * kRowsPerTask, rows = std::min(kRowsPerTask, w.rows - row0);
    int32_t dots[kRowsPerTask * kNarrowColumns];
    narrowDotsAvx2(w.plain.data() + row0 * depth, rows, depth, widened.data(), columns, dots);
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t row = row0 + r;
      const uint32_t zb = uint32_t(w.zeroPoints[size_t(row)]);
      for (int64_t c = 0; c < columns; ++c) {
        const uint32_t correction = zb == 0 ? 0u : zb * uint32_t(colSums[c]);
        storeAccumulator(e, row, c, int32_t(uint32_t(dots[r * columns + c]) + uint32_t(e.rowConstant[row]) - correction));
      }
    }
  };
  // Below 2^17 multiply-adds the pool's wake-up costs more than it saves.
  if (w.rows * depth * columns < (int64_t(1) << 17) || tasks == 1) {
    for (int64_t t = 0; t < tasks; ++t) runRows(t);
  } else {
    pool.parallelFor(tasks, runRows);
  }
}

}  // namespace

void runPackedGemm(ThreadPool& pool, const PackedWeights& w, const ActivationSource& src, int64_t columns,
                   const GemmEpilogue& e) {
  if (w.isa == Isa::Scalar) fail(ErrorCode::Internal, "packed GEMM called for the scalar reference");
  // Every CPU with AVX-512 VNNI has AVX2, which the narrow kernel needs.
  if (columns <= kNarrowColumns && !e.wideOutput) {
    runNarrowGemm(pool, w, src, columns, e);
    return;
  }
  const int mr = w.rowsPerBlock;
  const int64_t quads = quadCount(w.depth);
  const int64_t panels = (columns + kPanelWidth - 1) / kPanelWidth;
  const int64_t rowBlocks = (w.rows + mr - 1) / mr;
  // Tiny products (a classifier row, a 1x1 conv on a 7x7 map) finish faster on the calling thread
  // than it takes to wake the pool.
  constexpr int64_t kInlineMacs = int64_t(1) << 20;
  const bool tiny = w.rows * columns * w.depth < kInlineMacs;
  // One thread (a per-image task, a one-thread model) wants one chunk: splitting its rows would
  // only pack the same panels again for every split.
  const int64_t wantedChunks = tiny || pool.threads() == 1 ? 1 : int64_t(pool.threads()) * 4;
  // The AVX2 kernel reads its panels widened to int16, which the packers write directly.
  const bool widePanels = w.isa == Isa::Avx2;
  const size_t kernelPanelBytes = size_t(quads * kPanelWidth * 4) * (widePanels ? 2 : 1);
  // Blocking: a chunk packs up to maxPanels panels and sweeps every row block of its share over
  // them, so one row block's weights stay in L1 across the panels. That is kDeepPanelsPerChunk
  // panels, or where panels are shallow (small K) as many as fit in kPanelBudgetBytes, up to
  // kMaxPanelsPerChunk (the capacity of the chunk's accumulator buffers below). With more panels
  // each output row is written in longer contiguous runs, which its stores' cache misses
  // need (MobileNetV2's 16 -> 96 @112 writes 96 rows 12544 bytes apart), and the epilogue's
  // per-call setup is shared by more columns. A larger budget (96 KB) slowed ResNet-8's K = 144
  // convolutions (measured).
  constexpr int64_t kDeepPanelsPerChunk = 8;
  constexpr int64_t kMaxPanelsPerChunk = 32;
  constexpr size_t kPanelBudgetBytes = 32 * 1024;
  const int64_t maxPanels =
      std::clamp<int64_t>(int64_t(kPanelBudgetBytes / kernelPanelBytes), kDeepPanelsPerChunk, kMaxPanelsPerChunk);
  // At least kMinPanelsPerChunk panels where there are that many: the epilogue's per-row setup and
  // each row block's weights are then shared by 64 columns; threads split rows instead (below).
  constexpr int64_t kMinPanelsPerChunk = 4;
  const int64_t panelsPerChunk = std::max(std::min(kMinPanelsPerChunk, panels), std::min(maxPanels, panels / wantedChunks));
  const int64_t columnChunks = (panels + panelsPerChunk - 1) / panelsPerChunk;
  // Few columns (a MatMul with one row of activations) leave threads idle: split rows instead.
  int64_t rowSplits = 1;
  if (columnChunks < wantedChunks) rowSplits = std::min<int64_t>(rowBlocks, (wantedChunks + columnChunks - 1) / columnChunks);
  const int64_t blocksPerSplit = (rowBlocks + rowSplits - 1) / rowSplits;
  const size_t weightBlockBytes = size_t(quads * mr * 4) * (widePanels ? 2 : 1);  // AVX2 weights are widened too
  const auto kernel = w.isa == Isa::Avx2 ? microKernelAvx2 : microKernelAvx512Vnni;
  // Every CPU with AVX-512 VNNI has AVX2: its vector epilogue serves both. It writes contiguous
  // output columns; MatMul and Gemm outputs are transposed (GEMM rows are output columns, the
  // column stride is N), so their results go through a staging tile and out MR at a time.
  const RowEpilogue epilogue = rowEpilogueAvx2;
  const bool transposed = e.colStride != 1;
  const size_t outBytes = e.requantize ? 1 : 4;

  // Panels [firstPanel, firstPanel + count) into dst (kernelPanelBytes apart) and their column sums.
  const auto packPanels = [&](int64_t firstPanel, int64_t count, uint8_t* dst, int32_t* sums) {
    for (int64_t j = 0; j < count; ++j) {
      const int64_t p0 = (firstPanel + j) * kPanelWidth;
      src.packPanel(p0, std::min(kPanelWidth, columns - p0), dst + size_t(j) * kernelPanelBytes,
                    w.anyZeroPoint ? sums + j * kPanelWidth : nullptr, widePanels);
    }
  };
  // A buffer of `panelCount` packed panels (64-byte aligned) and their column sums, reused across
  // calls on this thread: no allocation on the hot path.
  struct PanelBuffer {
    std::vector<uint8_t> bytes;
    std::vector<int32_t> sums;
    uint8_t* panels(size_t size) {
      if (bytes.size() < size + 64) bytes.resize(size + 64);
      return bytes.data() + ((64 - (reinterpret_cast<uintptr_t>(bytes.data()) & 63)) & 63);
    }
    int32_t* columnSums(size_t count) {
      if (sums.size() < count) sums.resize(count);
      return sums.data();
    }
  };
  // Row splits of one column chunk share its panels: with rowSplits > 1 they are all packed once,
  // up front, instead of once per split (a 7 x 7 map split 8 ways packed its 4 panels 8 times).
  uint8_t* sharedPanels = nullptr;
  int32_t* sharedSums = nullptr;
  if (rowSplits > 1) {
    thread_local PanelBuffer shared;
    sharedPanels = shared.panels(kernelPanelBytes * size_t(panels));
    sharedSums = shared.columnSums(size_t(panels * kPanelWidth));
    const auto packOne = [&](int64_t p) { packPanels(p, 1, sharedPanels + size_t(p) * kernelPanelBytes, sharedSums + p * kPanelWidth); };
    if (tiny) {
      for (int64_t p = 0; p < panels; ++p) packOne(p);
    } else {
      pool.parallelFor(panels, packOne);
    }
  }

  const auto runChunk = [&](int64_t chunk) {
    const int64_t firstPanel = (chunk / rowSplits) * panelsPerChunk;
    const int64_t split = chunk % rowSplits;
    const int64_t panelCount = std::min(panelsPerChunk, panels - firstPanel);
    const uint8_t* kernelPanels;
    const int32_t* colSums;
    if (sharedPanels) {
      kernelPanels = sharedPanels + size_t(firstPanel) * kernelPanelBytes;
      colSums = sharedSums + firstPanel * kPanelWidth;
    } else {
      thread_local PanelBuffer own;
      uint8_t* packed = own.panels(kernelPanelBytes * size_t(panelCount));
      int32_t* sums = own.columnSums(size_t(panelCount * kPanelWidth));
      packPanels(firstPanel, panelCount, packed, sums);
      kernelPanels = packed;
      colSums = sums;
    }
    // Accumulators of one row block across all the chunk's panels, so the epilogue runs once per
    // row over up to kMaxPanelsPerChunk * 16 contiguous columns (its setup is per call).
    constexpr int64_t kBlockColumns = kMaxPanelsPerChunk * kPanelWidth;
    alignas(64) int32_t acc[kRowsPerBlockAvx512 * kBlockColumns];
    const int64_t chunkColumn0 = firstPanel * kPanelWidth;
    const int64_t chunkColumns = std::min(panelCount * kPanelWidth, columns - chunkColumn0);
    const int64_t blockEnd = std::min(rowBlocks, (split + 1) * blocksPerSplit);
    alignas(64) uint8_t stage[kRowsPerBlockAvx512 * kBlockColumns * 4];
    for (int64_t block = split * blocksPerSplit; block < blockEnd; ++block) {
      const uint8_t* blockWeights = w.data.data() + size_t(block) * weightBlockBytes;
      const int64_t row0 = block * mr;
      const int64_t rowEnd = std::min<int64_t>(w.rows, row0 + mr);
      for (int64_t j = 0; j < panelCount; ++j) {
        // The chunk's last panel may hold 8 valid columns or fewer: the epilogue reads no others.
        const bool firstHalfOnly = w.isa == Isa::Avx2 && chunkColumns - j * kPanelWidth <= kPanelWidth / 2;
        (firstHalfOnly ? microKernelAvx2FirstHalf : kernel)(kernelPanels + size_t(j) * kernelPanelBytes, blockWeights, quads,
                                                            acc + j * kPanelWidth, kBlockColumns);
      }
      if (!transposed) {
        for (int64_t row = row0; row < rowEnd; ++row) {
          epilogue(e, row, chunkColumn0, chunkColumns, acc + (row - row0) * kBlockColumns, uint32_t(e.rowConstant[row]),
                   uint32_t(w.zeroPoints[size_t(row)]), colSums);
        }
        continue;
      }
      // Rows of the block into stage[row][column], then each column's rows out as one run.
      GemmEpilogue staged = e;
      staged.multipliers = e.requantize ? e.multipliers + row0 : nullptr;
      staged.out = stage;
      staged.rowStride = chunkColumns;
      staged.colStride = 1;
      for (int64_t row = row0; row < rowEnd; ++row) {
        epilogue(staged, row - row0, 0, chunkColumns, acc + (row - row0) * kBlockColumns, uint32_t(e.rowConstant[row]),
                 uint32_t(w.zeroPoints[size_t(row)]), colSums);
      }
      const int64_t rows = rowEnd - row0;
      const auto transpose = [&](auto* out, const auto* tile, int64_t c) {
        for (; c < chunkColumns; ++c) {
          auto* dst = out + (chunkColumn0 + c) * e.colStride + row0 * e.rowStride;
          for (int64_t r = 0; r < rows; ++r) dst[r * e.rowStride] = tile[r * chunkColumns + c];
        }
      };
      // Whole groups of four rows landing contiguously (MatMul: rowStride 1) move four columns (int32)
      // or sixteen columns (bytes) per step through 4 x 4 SSE2 transposes.
      const bool groupsOfFour = e.rowStride == 1 && rows % 4 == 0;
      if (outBytes == 4) {
        int32_t* out = reinterpret_cast<int32_t*>(e.out);
        const int32_t* tile = reinterpret_cast<const int32_t*>(stage);
        const int64_t done = groupsOfFour ? transposeInt32Groups(tile, chunkColumns, rows, out + chunkColumn0 * e.colStride + row0, e.colStride) : 0;
        transpose(out, tile, done);
      } else {
        const int64_t done = groupsOfFour ? transposeByteGroups(stage, chunkColumns, rows, e.out + chunkColumn0 * e.colStride + row0, e.colStride) : 0;
        transpose(e.out, stage, done);
      }
    }
  };
  if (tiny) {
    for (int64_t chunk = 0; chunk < columnChunks * rowSplits; ++chunk) runChunk(chunk);
  } else {
    pool.parallelFor(columnChunks * rowSplits, runChunk);
  }
}

}  // namespace bx::cpu
