// Depthwise convolution (one input channel per group, one output channel per group): a direct
// kernel, since a GEMM with a single row wastes almost all of its work.
#pragma once

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

// One geometry's depthwise kernel with its scratch: build it once per task, then run it on each
// of the task's planes. Everything that depends only on the geometry (tap positions, the padded
// layout) is computed in the constructor, not per plane: planes can be as small as 7 x 7.
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
  std::vector<int64_t> pairOffset_;                // this plane's non-zero taps, two per pair
  std::vector<int32_t> pairWeight_;                // two int16 weights per pair
  std::vector<int16_t> padded_;
  std::vector<int32_t> acc_;
  std::vector<uint8_t> stage_;
};

}  // namespace bx::cpu
