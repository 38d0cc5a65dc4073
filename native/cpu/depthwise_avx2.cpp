// The depthwise kernel: AVX2 intrinsics (this file is built with -mavx2). Only used on CPUs with
// AVX2 (every vector ISA path here implies it); the scalar ISA uses the reference.
#include "depthwise.h"

#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <type_traits>
#include <vector>

namespace bx::cpu {
namespace {

// dst[j] = src[first + j*stride] - zx for j in [j, end), sixteen at a time for strides 1 and 2,
// never reading past src[last]. A row's last partial group is redone as the sixteen elements
// ending at end - 1 (rewriting some with the same values); rows under sixteen go one by one.
template <typename T>
void centreColumns(const T* src, int16_t* dst, int64_t j, int64_t end, int64_t first, int64_t stride, int64_t last, int32_t zx) {
  const __m256i zero = _mm256_set1_epi16(int16_t(zx));
  constexpr bool isSigned = std::is_signed<T>::value;
  const auto group = [&](int64_t at) {
    const T* bytes = src + first + at * stride;
    __m256i wide;
    if (stride == 1) {
      const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(bytes));
      wide = isSigned ? _mm256_cvtepi8_epi16(v) : _mm256_cvtepu8_epi16(v);
    } else {
      // 32 bytes hold 16 wanted ones at even offsets: the low byte of each 16-bit lane.
      const __m256i pairs = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bytes));
      wide = isSigned ? _mm256_srai_epi16(_mm256_slli_epi16(pairs, 8), 8) : _mm256_and_si256(pairs, _mm256_set1_epi16(0xff));
    }
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + at), _mm256_sub_epi16(wide, zero));
  };
  if (stride == 1 || stride == 2) {
    const int64_t begin = j;
    const auto fits = [&](int64_t at) { return first + at * stride + 16 * stride - 1 <= last; };  // the bytes one group reads
    for (; j + 16 <= end && fits(j); j += 16) group(j);
    if (j < end && end - 16 >= begin && fits(end - 16)) {
      group(end - 16);
      j = end;
    }
  }
  for (; j < end; ++j) dst[j] = int16_t(int32_t(src[first + j * stride]) - zx);
}

// One input row into the two column phases of a stride-2 layout: input column ix is padded column
// c = ix + padLeft, phase c % 2, phase column c / 2; only columns ix < usable are written (those
// whose phase column lies inside the phase rows). Thirty-two input bytes per step give sixteen
// values of each phase (the even and odd bytes of the 16-bit lanes); the last partial step is
// redone as an even-aligned step ending at most one column short, that column one by one.
template <typename T>
void splitStride2Row(const T* src, int16_t* phase0, int16_t* phase1, int64_t padLeft, int64_t usable, int32_t zx) {
  constexpr bool isSigned = std::is_signed<T>::value;
  const __m256i zero = _mm256_set1_epi16(int16_t(zx));
  // Even input columns land in phase padLeft % 2, odd ones in the other.
  int16_t* evenTo = (padLeft % 2 ? phase1 : phase0) + padLeft / 2;
  int16_t* oddTo = (padLeft % 2 ? phase0 : phase1) + (padLeft + 1) / 2;
  const auto step = [&](int64_t ix) {  // ix even
    const __m256i bytes = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + ix));
    const __m256i even = isSigned ? _mm256_srai_epi16(_mm256_slli_epi16(bytes, 8), 8) : _mm256_and_si256(bytes, _mm256_set1_epi16(0xff));
    const __m256i odd = isSigned ? _mm256_srai_epi16(bytes, 8) : _mm256_srli_epi16(bytes, 8);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(evenTo + ix / 2), _mm256_sub_epi16(even, zero));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(oddTo + ix / 2), _mm256_sub_epi16(odd, zero));
  };
  int64_t ix = 0;
  for (; ix + 32 <= usable; ix += 32) step(ix);
  if (ix < usable) {
    ix = (usable - 32) & ~int64_t(1);
    step(ix);
    ix += 32;
  }
  for (; ix < usable; ++ix) (ix % 2 ? oddTo : evenTo)[ix / 2] = int16_t(int32_t(src[ix]) - zx);
}

// rows x width bytes from src (row stride srcStride) to dst (rows back to back), for short rows:
// eight-byte moves, the last one of each row overlapping; rows under eight bytes are moved as eight
// bytes whose excess the next row overwrites, except the last row, which goes byte by byte.
inline void copyRows(const uint8_t* src, int64_t srcStride, uint8_t* dst, int64_t width, int64_t rows) {
  for (int64_t r = 0; r < rows; ++r) {
    const uint8_t* from = src + r * srcStride;
    uint8_t* to = dst + r * width;
    if (width >= 8) {
      for (int64_t i = 0; i + 8 < width; i += 8) std::memcpy(to + i, from + i, 8);
      std::memcpy(to + width - 8, from + width - 8, 8);
    } else if (r + 1 < rows) {
      std::memcpy(to, from, 8);  // the staging buffer holds whole vector steps: the read stays inside
    } else {
      for (int64_t i = 0; i < width; ++i) to[i] = from[i];
    }
  }
}

}  // namespace

// Padding positions hold the input zero point, a real 0, so they contribute nothing.
// The plane is first copied into a zero-padded buffer of centred int16 values (x - zx; padding
// is a real 0), split into strideH x strideW phases: phase (py, px) holds the padded rows py,
// py + strideH, ... and, of each, the columns px, px + strideW, ... In that layout output (oy, ox)
// of every tap sits at tapOffset + oy * phaseWidth + ox, so each tap is one contiguous run over
// the whole plane for any stride. Columns past outW are computed from neighbouring rows and
// dropped, which keeps the loop vectorised even for planes a few columns wide.
DepthwiseRunner::DepthwiseRunner(const Conv2dGeometry& g) : g_(g) {
  const int64_t sh = g.strideH, sw = g.strideW;
  rows_ = (g.outH - 1) * sh + (g.kernelH - 1) * g.dilationH + 1;                    // padded rows used
  const int64_t columns = (g.outW - 1) * sw + (g.kernelW - 1) * g.dilationW + 1;   // padded columns used
  phaseRows_ = (rows_ + sh - 1) / sh;
  phaseWidth_ = (columns + sw - 1) / sw;
  phaseSize_ = phaseRows_ * phaseWidth_;
  int64_t maxOffset = 0;
  for (int64_t ky = 0; ky < g.kernelH; ++ky) {
    for (int64_t kx = 0; kx < g.kernelW; ++kx) {
      const int64_t y = ky * g.dilationH, c = kx * g.dilationW;
      tapOffset_.push_back(((y % sh) * sw + c % sw) * phaseSize_ + (y / sh) * phaseWidth_ + c / sw);
      maxOffset = std::max(maxOffset, tapOffset_.back());
    }
  }
  for (int64_t px = 0; px < sw; ++px) {
    // Phase column j is padded column j*sw + px, input column j*sw + px - padLeft.
    const int64_t firstIx = px - g.padLeft;
    columnBegin_.push_back(std::min(phaseWidth_, firstIx >= 0 ? 0 : (-firstIx + sw - 1) / sw));
    columnEnd_.push_back(std::min<int64_t>(phaseWidth_, firstIx >= g.inW ? 0 : (g.inW - 1 - firstIx) / sw + 1));
  }
  // Stride 2 across rows of 32 columns or more: fill reads each input row once for both column
  // phases, the input columns inside the phase rows.
  const int64_t usable = std::min(g.inW, 2 * phaseWidth_ - g.padLeft);
  if (sw == 2 && usable >= 32) splitColumns_ = usable;
  // Sixteen outputs per step, the last step reading past the plane into zeroed slack.
  span_ = g.outH * phaseWidth_;
  steps_ = (span_ + 15) / 16;
  const int64_t filled = sh * sw * phaseSize_;
  padded_.assign(size_t(std::max(filled, maxOffset + steps_ * 16)), 0);  // the slack stays 0
  acc_.resize(size_t(steps_ * 16));
  if (phaseWidth_ != g.outW && g.outW < 32) stage_.resize(size_t(steps_ * 16) * 4);
  pairOffset_.reserve(tapOffset_.size() + 1);
  pairWeight_.reserve(tapOffset_.size() / 2 + 1);
}

// Writes the inside of the plane only: the padding positions are the same for every plane and
// stay 0 from the constructor.
template <typename T>
void DepthwiseRunner::fill(const DepthwisePlane& p) {
  const Conv2dGeometry& g = g_;
  const T* x = reinterpret_cast<const T*>(p.image);
  const int64_t sh = g.strideH, sw = g.strideW;
  int16_t* padded = padded_.data();
  if (splitColumns_ > 0) {
    for (int64_t iy = 0; iy < g.inH; ++iy) {
      const int64_t r = iy + g.padTop;
      if (r >= rows_) break;
      int16_t* row = padded + (r % sh) * sw * phaseSize_ + (r / sh) * phaseWidth_;
      splitStride2Row(x + iy * g.inW, row, row + phaseSize_, g.padLeft, splitColumns_, p.inputZeroPoint);
    }
    return;
  }
  for (int64_t py = 0; py < sh; ++py) {
    for (int64_t px = 0; px < sw; ++px) {
      const int64_t jBegin = columnBegin_[size_t(px)], jEnd = columnEnd_[size_t(px)];
      if (jBegin >= jEnd) continue;
      for (int64_t pr = 0; pr < phaseRows_; ++pr) {
        const int64_t iy = pr * sh + py - g.padTop;
        if (pr * sh + py >= rows_ || iy < 0 || iy >= g.inH) continue;
        int16_t* dst = padded + (py * sw + px) * phaseSize_ + pr * phaseWidth_;
        centreColumns(x + iy * g.inW, dst, jBegin, jEnd, px - g.padLeft, sw, g.inW - 1, p.inputZeroPoint);
      }
    }
  }
}

void DepthwiseRunner::run(const DepthwisePlane& p, const GemmEpilogue& e) {
  const Conv2dGeometry& g = g_;
  // This plane's taps with a non-zero weight, in pairs; an odd count pairs the last with weight 0.
  pairOffset_.clear();
  pairWeight_.clear();
  for (size_t t = 0; t < tapOffset_.size(); ++t) {
    const int32_t w = int32_t(p.weights[t]) - p.weightZeroPoint;
    if (w == 0) continue;
    if (pairOffset_.size() % 2) pairWeight_.back() |= int32_t(uint32_t(uint16_t(w)) << 16);
    else pairWeight_.push_back(int32_t(uint16_t(w)));
    pairOffset_.push_back(tapOffset_[t]);
  }
  if (pairOffset_.size() % 2) pairOffset_.push_back(0);
  if (p.signedInput) fill<int8_t>(p);
  else fill<uint8_t>(p);

  // Taps in pairs: vpmaddwd multiplies two taps' int16 inputs by their int16 weights and adds
  // the pair into int32 (|x|, |w| <= 255: no saturation), half the multiplies of one tap at a time.
  const int16_t* padded = padded_.data();
  int32_t* out = acc_.data();
  const size_t pairs = pairWeight_.size();
  const int64_t* offsets = pairOffset_.data();
  const int32_t* weights = pairWeight_.data();
  // Two steps of sixteen outputs at a time share each pair's weight and offsets.
  const auto accumulate = [&](auto stepCount, int64_t i) {
    constexpr int kSteps = decltype(stepCount)::value;
    // Interleaving works within 128-bit lanes: `low` collects outputs i..i+3 and i+8..i+11,
    // `high` outputs i+4..i+7 and i+12..i+15 (per step of sixteen).
    __m256i low[kSteps], high[kSteps];
    for (int n = 0; n < kSteps; ++n) low[n] = high[n] = _mm256_set1_epi32(p.bias);
    for (size_t t = 0; t < pairs; ++t) {
      const __m256i w = _mm256_set1_epi32(weights[t]);
      const int16_t* first = padded + offsets[2 * t] + i;
      const int16_t* second = padded + offsets[2 * t + 1] + i;
      for (int n = 0; n < kSteps; ++n) {
        const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(first + 16 * n));
        const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(second + 16 * n));
        low[n] = _mm256_add_epi32(low[n], _mm256_madd_epi16(_mm256_unpacklo_epi16(a, b), w));
        high[n] = _mm256_add_epi32(high[n], _mm256_madd_epi16(_mm256_unpackhi_epi16(a, b), w));
      }
    }
    for (int n = 0; n < kSteps; ++n) {
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i + 16 * n), _mm256_permute2x128_si256(low[n], high[n], 0x20));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i + 16 * n + 8), _mm256_permute2x128_si256(low[n], high[n], 0x31));
    }
  };
  int64_t i = 0;
  for (; i + 32 <= steps_ * 16; i += 32) accumulate(std::integral_constant<int, 2>{}, i);
  if (i < steps_ * 16) accumulate(std::integral_constant<int, 1>{}, i);

  // The epilogue: straight from the accumulators when output rows are contiguous or long; over
  // the whole span (dropped columns included) into a staging buffer when rows are short, so
  // that each call covers many outputs.
  if (phaseWidth_ == g.outW) {
    rowEpilogueAvx2(e, 0, 0, g.outH * g.outW, out, 0, 0, nullptr);
  } else if (g.outW >= 32) {
    rowRunsEpilogueAvx2(e, 0, 0, g.outW, out, g.outH, phaseWidth_, g.outW);
  } else {
    GemmEpilogue staged = e;
    staged.out = stage_.data();
    staged.rowStride = 0;
    // A whole number of vector steps (the accumulators past the span are computed, and dropped).
    rowEpilogueAvx2(staged, 0, 0, (span_ + 7) & ~int64_t(7), out, 0, 0, nullptr);
    if (!e.requantize) {
      for (int64_t oy = 0; oy < g.outH; ++oy) {
        std::memcpy(e.out + size_t(oy * g.outW) * 4, stage_.data() + size_t(oy * phaseWidth_) * 4, size_t(g.outW) * 4);
      }
    } else {
      copyRows(stage_.data(), phaseWidth_, e.out, g.outW, g.outH);
    }
  }
}

}  // namespace bx::cpu
