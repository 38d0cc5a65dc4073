// Packs depthwise weights for the channel-blocked kernel (depthwise_block_avx2.cpp). Portable:
// layers pack at load time on every CPU, the kernel runs only where AVX2 is.
#include "depthwise.h"

namespace bx::cpu {

DepthwiseBlockWeights packDepthwiseBlock(int64_t kernelH, int64_t kernelW, const DepthwisePlane* planes, int count) {
  DepthwiseBlockWeights w;
  for (int64_t ky = 0; ky < kernelH; ++ky) {
    for (int64_t kx = 0; kx < kernelW; kx += 2) {
      std::array<int16_t, 2 * kDepthwiseBlock> pair{};
      for (int c = 0; c < count; ++c) {
        const int8_t* taps = planes[c].weights + ky * kernelW + kx;
        pair[size_t(2 * c)] = int16_t(int32_t(taps[0]) - planes[c].weightZeroPoint);
        if (kx + 1 < kernelW) pair[size_t(2 * c + 1)] = int16_t(int32_t(taps[1]) - planes[c].weightZeroPoint);
      }
      w.pairs.push_back(pair);
    }
  }
  for (int c = 0; c < count; ++c) w.bias[size_t(c)] = planes[c].bias;
  return w;
}

}  // namespace bx::cpu
