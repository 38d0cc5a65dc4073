// Depthwise convolution (one input channel per group, one output channel per group): a direct
// kernel, since a GEMM with a single row wastes almost all of its work.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "isa.h"
#include "qgemm.h"

namespace bx::cpu {

struct DepthwisePlane {
  const uint8_t* image = nullptr;  // one input plane, inH x inW, raw u8 or s8
  bool signedInput = false;
  int32_t inputZeroPoint = 0;
  const int8_t* weights = nullptr;  // kernelH x kernelW, s8 domain (b)
  int32_t weightZeroPoint = 0;      // zb, in the same domain
  int32_t bias = 0;
};

// One geometry's depthwise kernel with its scratch, plane by plane (the layers use it for maps
// of 16 columns and more; DepthwiseBlockRunner below takes the narrower ones): build it once per
// task, then run it on each of the task's planes. Everything that depends only on the geometry
// (tap positions, the padded layout) is computed in the constructor, not per plane.
class DepthwiseRunner {
 public:
  explicit DepthwiseRunner(const Conv2dGeometry& g);  // g.channels = 1
  // acc[oy*outW + ox] = bias + sum (x - zx)(b - zb), exact int32 (bounds proven at load time),
  // then the epilogue into e.out[oy*outW + ox] (row 0 of e; colStride 1; 8-bit or int32 outputs).
  // Needs AVX2 (built with -mavx2).
  void run(const DepthwisePlane& p, const GemmEpilogue& e);

 private:
  template <typename T> void fill(const DepthwisePlane& p);

  Conv2dGeometry g_;
  int64_t rows_, phaseRows_, phaseWidth_, phaseSize_, span_, steps_;
  std::vector<int64_t> tapOffset_;                 // per kernel tap, into the phased buffer
  std::vector<int64_t> columnBegin_, columnEnd_;   // per column phase: the phase columns inside the input
  int64_t splitColumns_ = 0;  // stride 2 over 32+ columns: the input columns a row split writes; else 0
  std::vector<int64_t> pairOffset_;                // this plane's non-zero taps, two per pair
  std::vector<int32_t> pairWeight_;                // two int16 weights per pair
  std::vector<int16_t> padded_;
  std::vector<int32_t> acc_;
  std::vector<uint8_t> stage_;
};

// Depthwise convolution of kDepthwiseBlock channels of one image at a time, one channel per
// vector lane. Small planes (7 x 7, 14 x 14) run badly one plane at a time: per-plane set-up,
// rows too short for vectors and padding columns cost more than the few dozen outputs. Here the
// vectors run along channels, so every output position is one full vector step whatever the
// plane's width, and the set-up is shared by eight planes.
constexpr int kDepthwiseBlock = 8;

// One block's weights in the kernel's layout, packed once per layer: per pair of horizontally
// adjacent taps (kx, kx + 1) and channel c, [w(kx) - zb, w(kx + 1) - zb] at 2c, 2c + 1; a
// kernel row of odd width pairs its last tap with 0, and so do spare lanes.
struct DepthwiseBlockWeights {
  std::vector<std::array<int16_t, 2 * kDepthwiseBlock>> pairs;
  std::array<int32_t, kDepthwiseBlock> bias{};
};
// From planes[c].weights / weightZeroPoint / bias for c < count <= kDepthwiseBlock (portable).
DepthwiseBlockWeights packDepthwiseBlock(int64_t kernelH, int64_t kernelW, const DepthwisePlane* planes, int count);

// The block's input: one plane per channel (inH x inW), all of one type and zero point.
struct DepthwiseBlockInput {
  const uint8_t* images[kDepthwiseBlock] = {};
  int count = 0;  // channels in this block, 1..kDepthwiseBlock
  bool signedInput = false;
  int32_t inputZeroPoint = 0;
};

class DepthwiseBlockRunner {
 public:
  explicit DepthwiseBlockRunner(const Conv2dGeometry& g);  // g.channels = 1
  // epilogues[c] for c < in.count (row 0, colStride 1), sharing the output's type, zero point and
  // range: the same bytes as DepthwiseRunner::run on each plane. Needs AVX2 (built with -mavx2).
  void run(const DepthwiseBlockInput& in, const DepthwiseBlockWeights& w, const GemmEpilogue* epilogues);

 private:
  template <typename T> void fill(const DepthwiseBlockInput& in);
  void finish(const GemmEpilogue* epilogues, int count);

  Conv2dGeometry g_;
  int64_t rows_, columns_;               // padded rows and columns that taps read
  int64_t blockColumns_;                 // columns of block_: columns_ plus one dilation of zeros
  std::vector<int64_t> pairOffset_;      // per pair of horizontally adjacent taps, in positions
  std::vector<int64_t> inputSlot_;       // per input position, its position in block_
  std::vector<int16_t> block_;           // [rows_][blockColumns_][8 channels] x - zx, padding 0; one spare
  std::vector<int16_t> pairs_;           // [rows_][columns_][8 channels][x(c), x(c + dilationW)]
  std::vector<int32_t> acc_;             // [outH * outW][8 channels]
};

}  // namespace bx::cpu
