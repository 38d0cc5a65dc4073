// The depthwise kernel, built with -mavx2 so the compiler vectorises its int32 loops. Only used
// on CPUs with AVX2 (every vector ISA path here implies it); the scalar ISA uses the reference.
#include "depthwise.h"

#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <type_traits>
#include <vector>

namespace bx::cpu {
namespace {

// dst[j] = src[first + j*stride] - zx for j in [j, end): sixteen at a time for strides 1 and 2
// (never reading past src[last]), the rest one by one.
template <typename T>
void centreColumns(const T* src, int16_t* dst, int64_t j, int64_t end, int64_t first, int64_t stride, int64_t last, int32_t zx) {
  const __m256i zero = _mm256_set1_epi16(int16_t(zx));
  constexpr bool isSigned = std::is_signed<T>::value;
  if (stride == 1) {
    for (; j + 16 <= end && first + j + 15 <= last; j += 16) {
      const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + first + j));
      const __m256i wide = isSigned ? _mm256_cvtepi8_epi16(bytes) : _mm256_cvtepu8_epi16(bytes);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + j), _mm256_sub_epi16(wide, zero));
    }
  } else if (stride == 2) {
    // 32 bytes hold 16 wanted ones at even offsets: the low byte of each 16-bit lane.
    for (; j + 16 <= end && first + 2 * j + 31 <= last; j += 16) {
      const __m256i pairs = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + first + 2 * j));
      const __m256i wide = isSigned ? _mm256_srai_epi16(_mm256_slli_epi16(pairs, 8), 8) : _mm256_and_si256(pairs, _mm256_set1_epi16(0xff));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + j), _mm256_sub_epi16(wide, zero));
    }
  }
  for (; j < end; ++j) dst[j] = int16_t(int32_t(src[first + j * stride]) - zx);
}

// Padding positions hold the input zero point, a real 0, so they contribute nothing.
// The plane is first copied into a zero-padded buffer of centred int16 values (x - zx; padding
// is a real 0), split into strideH x strideW phases: phase (py, px) holds the padded rows py,
// py + strideH, ... and, of each, the columns px, px + strideW, ... In that layout output (oy, ox)
// of every tap sits at tapOffset + oy * phaseWidth + ox, so each tap is one contiguous run over
// the whole plane for any stride. Columns past outW are computed from neighbouring rows and
// dropped, which keeps the loop vectorised even for planes a few columns wide.
template <typename T>
void accumulateTyped(const DepthwisePlane& p, int32_t* acc) {
  const Conv2dGeometry& g = p.g;
  const T* x = reinterpret_cast<const T*>(p.image);
  const int64_t sh = g.strideH, sw = g.strideW;
  const int64_t rows = (g.outH - 1) * sh + (g.kernelH - 1) * g.dilationH + 1;      // padded rows used
  const int64_t columns = (g.outW - 1) * sw + (g.kernelW - 1) * g.dilationW + 1;   // padded columns used
  const int64_t phaseRows = (rows + sh - 1) / sh;
  const int64_t phaseWidth = (columns + sw - 1) / sw;
  const int64_t phaseSize = phaseRows * phaseWidth;

  // Taps with a non-zero weight, in pairs (see below); an odd count pairs the last with weight 0.
  thread_local std::vector<int64_t> tapOffset;
  thread_local std::vector<int32_t> tapWeight;
  tapOffset.clear();
  tapWeight.clear();
  int64_t maxOffset = 0;
  for (int64_t ky = 0; ky < g.kernelH; ++ky) {
    for (int64_t kx = 0; kx < g.kernelW; ++kx) {
      const int32_t w = int32_t(p.weights[ky * g.kernelW + kx]) - p.weightZeroPoint;
      if (w == 0) continue;
      const int64_t y = ky * g.dilationH, c = kx * g.dilationW;
      tapOffset.push_back(((y % sh) * sw + c % sw) * phaseSize + (y / sh) * phaseWidth + c / sw);
      tapWeight.push_back(w);
      maxOffset = std::max(maxOffset, tapOffset.back());
    }
  }
  if (tapOffset.size() % 2) {
    tapOffset.push_back(0);
    tapWeight.push_back(0);
  }

  // Sixteen outputs per step, the last step reading past the plane into zeroed slack.
  const int64_t span = g.outH * phaseWidth;
  const int64_t steps = (span + 15) / 16;
  thread_local std::vector<int16_t> buffer;
  const int64_t filled = sh * sw * phaseSize;
  const size_t needed = size_t(std::max(filled, maxOffset + steps * 16));
  if (buffer.size() < needed) buffer.resize(needed);
  std::fill(buffer.begin() + filled, buffer.begin() + needed, int16_t(0));
  int16_t* padded = buffer.data();
  for (int64_t py = 0; py < sh; ++py) {
    for (int64_t px = 0; px < sw; ++px) {
      for (int64_t pr = 0; pr < phaseRows; ++pr) {
        int16_t* dst = padded + (py * sw + px) * phaseSize + pr * phaseWidth;
        const int64_t iy = pr * sh + py - g.padTop;
        if (pr * sh + py >= rows || iy < 0 || iy >= g.inH) {
          for (int64_t j = 0; j < phaseWidth; ++j) dst[j] = 0;
          continue;
        }
        const T* src = x + iy * g.inW;
        // Padded column c = j*sw + px reads input column c - padLeft when it is inside.
        const int64_t firstIx = px - g.padLeft;
        int64_t j = 0;
        for (; j < phaseWidth && firstIx + j * sw < 0; ++j) dst[j] = 0;
        const int64_t jEnd = std::min<int64_t>(phaseWidth, firstIx >= g.inW ? 0 : (g.inW - 1 - firstIx) / sw + 1);
        centreColumns(src, dst, j, jEnd, firstIx, sw, g.inW - 1, p.inputZeroPoint);
        j = std::max(j, jEnd);
        for (; j < phaseWidth; ++j) dst[j] = 0;
      }
    }
  }

  thread_local std::vector<int32_t> wide;
  if (wide.size() < size_t(steps * 16)) wide.resize(size_t(steps * 16));
  int32_t* out = wide.data();
  // Taps in pairs: vpmaddwd multiplies two taps' int16 inputs by their int16 weights and adds
  // the pair into int32 (|x|, |w| <= 255: no saturation), half the multiplies of one tap at a time.
  const size_t taps = tapOffset.size();
  for (int64_t i = 0; i < steps * 16; i += 16) {
    // Interleaving works within 128-bit lanes: `low` collects outputs i..i+3 and i+8..i+11,
    // `high` outputs i+4..i+7 and i+12..i+15.
    __m256i low = _mm256_set1_epi32(p.bias), high = low;
    for (size_t t = 0; t < taps; t += 2) {
      const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(padded + tapOffset[t] + i));
      const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(padded + tapOffset[t + 1] + i));
      const __m256i w = _mm256_set1_epi32(int32_t((uint32_t(uint16_t(tapWeight[t + 1])) << 16) | uint16_t(tapWeight[t])));
      low = _mm256_add_epi32(low, _mm256_madd_epi16(_mm256_unpacklo_epi16(a, b), w));
      high = _mm256_add_epi32(high, _mm256_madd_epi16(_mm256_unpackhi_epi16(a, b), w));
    }
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i), _mm256_permute2x128_si256(low, high, 0x20));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i + 8), _mm256_permute2x128_si256(low, high, 0x31));
  }
  if (phaseWidth == g.outW) {
    std::memcpy(acc, out, size_t(g.outH * g.outW) * sizeof(int32_t));
    return;
  }
  for (int64_t oy = 0; oy < g.outH; ++oy) std::memcpy(acc + oy * g.outW, out + oy * phaseWidth, size_t(g.outW) * sizeof(int32_t));
}

}  // namespace

void depthwiseAccumulateAvx2(const DepthwisePlane& p, int32_t* acc) {
  if (p.signedInput) accumulateTyped<int8_t>(p, acc);
  else accumulateTyped<uint8_t>(p, acc);
}

}  // namespace bx::cpu
