// Packed int8 GEMM shared by QLinearConv, QLinearMatMul, QGemm, ConvInteger and MatMulInteger.
//
// Every product is computed as a raw dot of an unsigned activation byte a (u8; int8 inputs are
// offset by +128) and a signed weight byte b (s8; uint8 weights are offset by -128):
//   D[row][p] = sum_k b[row][k] * a[k][p]
// and the zero points are applied afterwards with exact wrap-around int32 arithmetic:
//   acc = sum_k (a - za)(b - zb[row]) = D - zb[row]*Sa[p] - za*Sb[row] + K*za*zb[row]
// where Sa[p] = sum_k a[k][p] and Sb[row] = sum_k b[row][k]. Intermediate terms may wrap, but the
// load-time bound proves the final acc fits in int32, and int32 wrap-around is exact modulo 2^32.
// That is why the AVX-512 VNNI (vpdpbusd, u8 x s8) and the AVX2 (vpmaddwd on widened bytes) paths
// and the scalar reference produce the same bytes.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "../core/numerics.h"
#include "isa.h"
#include "thread_pool.h"

namespace bx::cpu {

constexpr int64_t kPanelWidth = 16;  // activation columns (pixels) per packed panel

inline int64_t quadCount(int64_t k) { return (k + 3) / 4; }

// Constant weights in the layout of one ISA's micro-kernel, packed once at load time.
struct PackedWeights {
  Isa isa = Isa::Scalar;
  int64_t rows = 0;
  int64_t depth = 0;                 // K
  int rowsPerBlock = 1;              // the micro-kernel's MR
  std::vector<uint8_t> data;         // bytes [rowBlock][quad][MR][4]; AVX2: int16 [rowBlock][quad][pair][MR][2]
  std::vector<int8_t> plain;         // [rows][K] s8, kept for the scalar reference
  std::vector<int32_t> zeroPoints;   // zb per row, in the offset (s8) domain
  std::vector<int32_t> rowSums;      // Sb per row
  bool anyZeroPoint = false;
};

// weights: row-major [rows][depth] in the original dtype; signedWeights tells int8 vs uint8.
// weightZeroPoints: one per row (per-tensor callers repeat it).
PackedWeights packWeights(Isa isa, const uint8_t* weights, bool signedWeights, int64_t rows, int64_t depth,
                          const std::vector<int32_t>& weightZeroPoints);

// Fills a panel: kPanelWidth columns starting at column p0 (count <= kPanelWidth valid ones), all
// quads, already offset to u8; also the per-column sums Sa when colSums is not null. Layout
// [quad][column][4 bytes], or with `wide` (the AVX2 kernel's) [quad][pair][column][2] with each
// byte stored as a uint16: twice the bytes, and a pair (k, k+1) of a column is one 32-bit lane.
class ActivationSource {
 public:
  virtual ~ActivationSource() = default;
  virtual void packPanel(int64_t p0, int64_t count, uint8_t* panel, int32_t* colSums, bool wide) const = 0;
};

// Column p, row k at base[k*strideK + p*strideP]; the element type is u8 or s8.
class MatrixSource : public ActivationSource {
 public:
  MatrixSource(const uint8_t* base, bool signedInput, int64_t depth, int64_t strideK, int64_t strideP)
      : base_(base), xorMask_(signedInput ? 0x80 : 0), depth_(depth), strideK_(strideK), strideP_(strideP) {}
  void packPanel(int64_t p0, int64_t count, uint8_t* panel, int32_t* colSums, bool wide) const override;

 private:
  const uint8_t* base_;
  uint8_t xorMask_;
  int64_t depth_, strideK_, strideP_;
};

// 2-D convolution geometry for im2col over one image and one group (NCHW).
struct Conv2dGeometry {
  int64_t channels = 0;  // input channels of this group
  int64_t inH = 0, inW = 0, outH = 0, outW = 0;
  int64_t kernelH = 1, kernelW = 1, strideH = 1, strideW = 1, dilationH = 1, dilationW = 1;
  int64_t padTop = 0, padLeft = 0;
};

class Im2colSource : public ActivationSource {
 public:
  // image points at this group's first channel; padValue is the input zero point (raw byte). The
  // constructor copies the image into a buffer already padded (and offset to u8) so that packing
  // never checks bounds and reads whole 16-byte rows.
  Im2colSource(const uint8_t* image, bool signedInput, const Conv2dGeometry& g, uint8_t padValue);
  void packPanel(int64_t p0, int64_t count, uint8_t* panel, int32_t* colSums, bool wide) const override;

 private:
  std::vector<uint8_t> padded_;  // channels x rows x columns, plus slack for 32-byte reads
  Conv2dGeometry g_;             // the geometry over padded_: no padding left
  std::vector<int64_t> kOffset_; // per k (channel, ky, kx): its tap's offset into padded_
};

// What happens to each exact int32 accumulator.
struct GemmEpilogue {
  // acc = D + rowConstant[row] - zb[row]*Sa[p]; rowConstant folds bias - za*Sb + K*za*zb.
  const int32_t* rowConstant = nullptr;
  bool requantize = true;                 // false: store int32 acc (ConvInteger, MatMulInteger)
  const Multiplier* multipliers = nullptr;  // per row
  int32_t outputZeroPoint = 0;
  QRange range = kRangeU8;
  bool signedOutput = false;            // int8 vs uint8 output elements
  bool wideOutput = false;              // int16 / uint16 elements (the scalar path only)
  uint8_t* out = nullptr;
  int64_t rowStride = 0, colStride = 0;  // in elements
};

// Row constants for given activation zero point za (in the u8 domain) and int32 bias per row.
std::vector<int32_t> makeRowConstants(const PackedWeights& w, int32_t activationZeroPoint,
                                      const std::vector<int32_t>& bias);

// out[row][p] for row < w.rows, p < columns.
void runPackedGemm(ThreadPool& pool, const PackedWeights& w, const ActivationSource& src, int64_t columns,
                   const GemmEpilogue& epilogue);

// Known-answer test of one vector path: a packed GEMM with awkward sizes and zero points against
// the direct int64 dot products. Run once per ISA before the ISA is offered (isa.cpp).
bool packedGemmSelfTest(Isa isa);

// Micro-kernels, one per ISA translation unit: acc[r * accStride + i] (r < MR, i < 16) = dots of
// one weight row block and one panel.
// The AVX2 kernel reads its panel widened to int16 in pairs (packPanel's `wide`; 32-byte aligned)
// and its weights in the same pairs (PackedWeights::data).
void microKernelAvx2(const uint8_t* panel, const uint8_t* weights, int64_t quads, int32_t* acc, int64_t accStride);
// The same for a panel whose valid columns all lie in its first half (a map's last, partial
// panel: 49 outputs of a 7 x 7 map leave one): only acc columns 0-7 are written.
void microKernelAvx2FirstHalf(const uint8_t* panel, const uint8_t* weights, int64_t quads, int32_t* acc, int64_t accStride);
void microKernelAvx512Vnni(const uint8_t* panel, const uint8_t* weights, int64_t quads, int32_t* acc, int64_t accStride);
constexpr int kRowsPerBlockAvx2 = 4;
constexpr int kRowsPerBlockAvx512 = 8;

// Products with at most kNarrowColumns activation columns (a classifier at batch 1, a 1 x 1 map)
// skip the 16-column panels, which would be mostly padding: dots[r * columnCount + c] =
// sum_k weights[r][k] * columns[c][k] with the plain s8 weights and the activations widened to
// int16 (u8 domain), wrap-around int32 like every other path.
constexpr int64_t kNarrowColumns = 4;
void narrowDotsAvx2(const int8_t* weights, int64_t rows, int64_t depth, const int16_t* columns, int64_t columnCount,
                    int32_t* dots);

// Finishes `count` consecutive columns of one row: acc + rowConstant - zb*colSums (wrap-around
// int32), then the epilogue (requantise or store int32) into out[row*rowStride + (p0+i)*colStride].
// The AVX2 version is byte-identical to the portable one (tests compare them).
using RowEpilogue = void (*)(const GemmEpilogue& e, int64_t row, int64_t p0, int64_t count, const int32_t* acc,
                             uint32_t rowConstant, uint32_t zb, const int32_t* colSums);
void rowEpiloguePortable(const GemmEpilogue& e, int64_t row, int64_t p0, int64_t count, const int32_t* acc,
                         uint32_t rowConstant, uint32_t zb, const int32_t* colSums);
void rowEpilogueAvx2(const GemmEpilogue& e, int64_t row, int64_t p0, int64_t count, const int32_t* acc,
                     uint32_t rowConstant, uint32_t zb, const int32_t* colSums);
// rowEpilogueAvx2 (rowConstant and zb 0) on `runs` runs of `count` columns of one row, run r from
// acc + r * accStride to columns p0 + r * outStride: the rows of a plane whose accumulators are
// spaced wider than its output rows (depthwise), with the set-up paid once.
void rowRunsEpilogueAvx2(const GemmEpilogue& e, int64_t row, int64_t p0, int64_t count, const int32_t* acc, int64_t runs,
                         int64_t accStride, int64_t outStride);

// Stores one accumulator through the epilogue (shared by the packed driver and the reference).
inline void storeAccumulator(const GemmEpilogue& e, int64_t row, int64_t col, int32_t acc) {
  const int64_t index = row * e.rowStride + col * e.colStride;
  if (!e.requantize) {
    reinterpret_cast<int32_t*>(e.out)[index] = acc;
    return;
  }
  const int32_t v = requantize(acc, e.multipliers[row], e.outputZeroPoint, e.range.lo, e.range.hi);
  if (e.wideOutput) reinterpret_cast<uint16_t*>(e.out)[index] = uint16_t(v);  // the low 16 bits encode both types
  else if (e.signedOutput) reinterpret_cast<int8_t*>(e.out)[index] = int8_t(v);
  else e.out[index] = uint8_t(v);
}

}  // namespace bx::cpu
