// The integer GEMM behind every convolution and matrix product with constant weights.
//
// The work is split as the CPU splits it (cpu/qgemm.h): activations are packed, offset to u8,
// into a [columns][depth] matrix with their column sums Sa; the GEMM computes
// D = sum_k w(s8) * a(u8) exactly in int32 and the epilogue applies
// acc = D + rowConstant - zb * Sa (wrap-around uint32, exact modulo 2^32) and numerics.h's
// requantize. Every step is integer arithmetic whose result does not depend on the order of the
// sum, so the tensor-core kernel, the plain kernel and the CPU give the same bytes.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "kernels.h"
#include "kernels_gemm.h"

namespace bx::cuda {
namespace {

// One warp per column: gather (im2col or strided matrix), offset, zero-pad, and sum.
__global__ void packActivationsKernel(LinearDeviceArgs a, int64_t depthPadded, int64_t colsPadded, uint8_t* packed,
                                      int32_t* colSums) {
  const int64_t col = int64_t(blockIdx.x) * (blockDim.x / 32) + threadIdx.x / 32;
  const int lane = threadIdx.x & 31;
  if (col >= colsPadded) return;
  const uint8_t mask = a.inputSigned ? 0x80 : 0;
  const bool real = col < a.columns;
  const cpu::Conv2dGeometry& g = a.conv;
  int64_t image = 0, oy = 0, ox = 0;
  if (a.im2col && real) {
    const int64_t plane = g.outH * g.outW;
    image = col / plane;
    const int64_t p = col - image * plane;
    oy = p / g.outW;
    ox = p - oy * g.outW;
  }
  const int64_t window = g.kernelH * g.kernelW;
  int32_t sum = 0;
  uint8_t* dst = packed + col * depthPadded;
  for (int64_t k = lane; k < depthPadded; k += 32) {
    uint8_t v = 0;
    if (real && k < a.depth) {
      if (a.im2col) {
        const int64_t c = k / window, r = k - c * window;
        const int64_t ky = r / g.kernelW, kx = r - ky * g.kernelW;
        const int64_t iy = oy * g.strideH - g.padTop + ky * g.dilationH;
        const int64_t ix = ox * g.strideW - g.padLeft + kx * g.dilationW;
        const bool inside = iy >= 0 && iy < g.inH && ix >= 0 && ix < g.inW;
        // Padding is the zero point, i.e. a real 0.
        v = uint8_t((inside ? a.input[image * a.imageStride + (c * g.inH + iy) * g.inW + ix] : a.padByte) ^ mask);
      } else {
        v = uint8_t(a.input[k * a.strideK + col * a.strideCol] ^ mask);
      }
      sum += v;
    }
    dst[k] = v;
  }
  for (int offset = 16; offset > 0; offset >>= 1) sum += __shfl_down_sync(0xffffffffu, sum, offset);
  if (lane == 0) colSums[col] = sum;
}

// sm_75 and the reference for the tensor-core kernel: one thread per output.
__global__ void gemmPlainKernel(GemmParams p) {
  const int64_t col = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  const int64_t row = int64_t(blockIdx.y) * blockDim.y + threadIdx.y;
  if (row >= p.rows || col >= p.columns) return;
  const int8_t* w = p.weights + row * p.depthPadded;
  const uint8_t* x = p.packed + col * p.depthPadded;
  uint32_t d = 0;
  for (int64_t k = 0; k < p.depthPadded; ++k) d += uint32_t(int32_t(w[k]) * int32_t(x[k]));
  storeResult(p, row, col, d);
}

constexpr int kStages = 3;
constexpr int kThreads = 256;
constexpr int kMmaRows = 128, kMmaCols = 128;  // this kernel's tile (columns are padded to kTileCols, a multiple)
// The accumulator tile is staged column by column for the epilogue, 132 words apart: the four
// columns a warp stores at once fall in different banks.
constexpr int kStagedStride = kMmaRows + 4;
constexpr int kStageBytes = kStages * (kMmaRows + kMmaCols) * int(kTileDepth);
constexpr int kSharedBytes = kStageBytes > kMmaCols * kStagedStride * 4 ? kStageBytes : kMmaCols * kStagedStride * 4;

// Tensor cores: mma.sync m16n8k32, s8 weights x u8 activations -> s32, wrapping (no .satfinite).
// 8 warps as 2 (rows) x 4 (columns), each 64 x 32 outputs = 4 x 4 mma tiles. Tiles of 64 bytes of
// depth move global -> shared with cp.async, three stages deep.
//
// Each lane loads 16 consecutive depth bytes of a row (rows are 64 bytes, so a quarter-warp reads
// 128 contiguous bytes: no bank conflicts) and feeds them to two mma steps. That assigns physical
// depth positions to the mma's logical k slots in a permuted order; A and B use the same
// permutation, so each mma pair sums exactly the 64 products of the tile.
__global__ void __launch_bounds__(kThreads) gemmTensorCoreKernel(GemmParams p) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  extern __shared__ __align__(16) uint8_t shared[];
  uint8_t* sharedA = shared;                                        // [stage][kMmaRows][kTileDepth]
  uint8_t* sharedB = shared + kStages * kMmaRows * kTileDepth;      // [stage][kMmaCols][kTileDepth]
  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
  const int group = lane >> 2, quad = lane & 3;
  const int warpRow = warp >> 2, warpCol = warp & 3;
  const int64_t blockRow = int64_t(blockIdx.y) * kMmaRows, blockCol = int64_t(blockIdx.x) * kMmaCols;
  const int64_t tiles = p.depthPadded / kTileDepth;
  const uint8_t* globalA = reinterpret_cast<const uint8_t*>(p.weights) + blockRow * p.depthPadded;
  const uint8_t* globalB = p.packed + blockCol * p.depthPadded;

  const auto loadStage = [&](int stage, int64_t tile) {
#pragma unroll
    for (int i = 0; i < 2; ++i) {
      const int chunk = tid + i * kThreads;  // 512 chunks of 16 bytes per operand
      const int row = chunk >> 2, part = chunk & 3;
      const uint8_t* srcA = globalA + row * p.depthPadded + tile * kTileDepth + part * 16;
      const uint8_t* srcB = globalB + row * p.depthPadded + tile * kTileDepth + part * 16;
      const uint32_t dstA = uint32_t(__cvta_generic_to_shared(sharedA + (stage * kMmaRows + row) * kTileDepth + part * 16));
      const uint32_t dstB = uint32_t(__cvta_generic_to_shared(sharedB + (stage * kMmaCols + row) * kTileDepth + part * 16));
      asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(dstA), "l"(srcA));
      asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(dstB), "l"(srcB));
    }
  };

  uint32_t acc[4][4][4];
#pragma unroll
  for (int i = 0; i < 4; ++i)
#pragma unroll
    for (int j = 0; j < 4; ++j)
#pragma unroll
      for (int k = 0; k < 4; ++k) acc[i][j][k] = 0;

#pragma unroll
  for (int s = 0; s < kStages - 1; ++s) {
    if (s < tiles) loadStage(s, s);
    asm volatile("cp.async.commit_group;\n" ::);
  }
  for (int64_t tile = 0; tile < tiles; ++tile) {
    asm volatile("cp.async.wait_group %0;\n" ::"n"(kStages - 2));
    __syncthreads();
    const int64_t next = tile + kStages - 1;
    if (next < tiles) loadStage(int(next % kStages), next);
    asm volatile("cp.async.commit_group;\n" ::);

    const int stage = int(tile % kStages);
    const uint8_t* tileA = sharedA + stage * kMmaRows * kTileDepth;
    const uint8_t* tileB = sharedB + stage * kMmaCols * kTileDepth;
    uint4 fragA[4][2], fragB[4];
#pragma unroll
    for (int mt = 0; mt < 4; ++mt) {
      const int row = warpRow * 64 + mt * 16 + group;
      fragA[mt][0] = *reinterpret_cast<const uint4*>(tileA + row * kTileDepth + quad * 16);
      fragA[mt][1] = *reinterpret_cast<const uint4*>(tileA + (row + 8) * kTileDepth + quad * 16);
    }
#pragma unroll
    for (int nt = 0; nt < 4; ++nt) {
      fragB[nt] = *reinterpret_cast<const uint4*>(tileB + (warpCol * 32 + nt * 8 + group) * kTileDepth + quad * 16);
    }
#pragma unroll
    for (int mt = 0; mt < 4; ++mt) {
#pragma unroll
      for (int nt = 0; nt < 4; ++nt) {
        uint32_t* c = acc[mt][nt];
        asm volatile(
            "mma.sync.aligned.m16n8k32.row.col.s32.s8.u8.s32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
            : "+r"(c[0]), "+r"(c[1]), "+r"(c[2]), "+r"(c[3])
            : "r"(fragA[mt][0].x), "r"(fragA[mt][1].x), "r"(fragA[mt][0].y), "r"(fragA[mt][1].y), "r"(fragB[nt].x),
              "r"(fragB[nt].y));
        asm volatile(
            "mma.sync.aligned.m16n8k32.row.col.s32.s8.u8.s32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
            : "+r"(c[0]), "+r"(c[1]), "+r"(c[2]), "+r"(c[3])
            : "r"(fragA[mt][0].z), "r"(fragA[mt][1].z), "r"(fragA[mt][0].w), "r"(fragA[mt][1].w), "r"(fragB[nt].z),
              "r"(fragB[nt].w));
      }
    }
  }
  asm volatile("cp.async.wait_group 0;\n" ::);

  // Epilogue through shared memory: one compact loop instead of 64 unrolled copies of the
  // epilogue (code the instruction cache cannot hold), neighbouring threads on neighbouring rows.
  __syncthreads();
  uint32_t* staged = reinterpret_cast<uint32_t*>(shared);
#pragma unroll
  for (int mt = 0; mt < 4; ++mt) {
#pragma unroll
    for (int nt = 0; nt < 4; ++nt) {
      const int row = warpRow * 64 + mt * 16 + group, col = warpCol * 32 + nt * 8 + quad * 2;
      staged[col * kStagedStride + row] = acc[mt][nt][0];
      staged[(col + 1) * kStagedStride + row] = acc[mt][nt][1];
      staged[col * kStagedStride + row + 8] = acc[mt][nt][2];
      staged[(col + 1) * kStagedStride + row + 8] = acc[mt][nt][3];
    }
  }
  __syncthreads();
  constexpr int kStep = kThreads / kMmaRows;  // each thread: one row, every kStep-th column
  const int r = tid % kMmaRows, c = tid / kMmaRows;
  storeRowSegment(p, blockRow + r, blockCol + c, blockCol + kMmaCols, kStep, staged + c * kStagedStride + r, kStep * kStagedStride);
#else
  __trap();  // launched only on sm_80 and newer
#endif
}

// A 16-bit layer (matrix or im2col view): one thread per output, rows fastest (neighbouring
// threads write neighbouring MatMul outputs). The sum is exact in int32: the load-time bound
// covers bias + sum |x||w|.
__global__ void wideLinearKernel(LinearDeviceArgs a, const int8_t* weights, const int32_t* zeroPoints, const int32_t* bias,
                                 const Multiplier* multipliers) {
  const int64_t colsPerImage = a.colsPerImage > 0 ? a.colsPerImage : a.columns;
  for (int64_t o = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; o < a.rows * a.columns; o += int64_t(gridDim.x) * blockDim.x) {
    const int64_t col = o / a.rows, row = o - col * a.rows;
    const int8_t* w = weights + row * a.depth;
    const int32_t zw = zeroPoints[row];
    int32_t acc = bias ? bias[row] : 0;
    if (a.im2col) {
      // the scalar reference's order (c, ky, kx); padding is the zero point, a centred 0
      const cpu::Conv2dGeometry& g = a.conv;
      const int64_t plane = g.outH * g.outW, image = col / plane, p = col - image * plane;
      const int64_t oy = p / g.outW, ox = p - oy * g.outW;
      int64_t k = 0;
      for (int64_t c = 0; c < g.channels; ++c) {
        for (int64_t ky = 0; ky < g.kernelH; ++ky) {
          const int64_t iy = oy * g.strideH - g.padTop + ky * g.dilationH;
          for (int64_t kx = 0; kx < g.kernelW; ++kx, ++k) {
            const int64_t ix = ox * g.strideW - g.padLeft + kx * g.dilationW;
            if (iy < 0 || iy >= g.inH || ix < 0 || ix >= g.inW) continue;
            const int32_t x = loadQuantizedElement(a.input, a.inputType, image * a.imageStride + (c * g.inH + iy) * g.inW + ix) - a.inputZeroPoint;
            acc += x * (int32_t(w[k]) - zw);
          }
        }
      }
    } else {
      for (int64_t k = 0; k < a.depth; ++k) {
        const int32_t x = loadQuantizedElement(a.input, a.inputType, k * a.strideK + col * a.strideCol) - a.inputZeroPoint;
        acc += x * (int32_t(w[k]) - zw);
      }
    }
    const int64_t image = col / colsPerImage, p = col - image * colsPerImage;
    const int64_t index = image * a.imageOutStride + row * a.rowStride + p * a.colStride;
    if (!multipliers) reinterpret_cast<int32_t*>(a.output)[index] = acc;
    else storeQuantizedElement(a.output, a.wideOutput, index, requantize(acc, multipliers[row], a.outputZeroPoint, a.range.lo, a.range.hi));
  }
}

}  // namespace

const char* gemmPathName(GemmPath path) {
  switch (path) {
    case GemmPath::Plain: return "plain";
    case GemmPath::Mma: return "mma.sync";
    case GemmPath::Wgmma: return "wgmma";
    default: return "wgmma (large) / mma.sync";
  }
}

GemmPath chooseGemmPath(int major, int minor) {
  // On Hopper the TMA-fed warpgroup kernel is the faster one for large GEMMs (H200, 8192^3: 1195
  // TOPS against mma.sync's 494; bench/results/cuda-h200.md); its 128 x 256 tiles leave small ones
  // to mma.sync's 128 x 128.
  const bool hopper = major == 9 && minor == 0;  // sm_90a code runs on 9.0 only
  const GemmPath best = hopper ? GemmPath::Hopper : (major >= 8 ? GemmPath::Mma : GemmPath::Plain);
  const char* asked = std::getenv("BITEXACT_CUDA_GEMM");
  if (!asked) return best;
  const std::string f(asked);
  if (f == "plain") return GemmPath::Plain;
  if (f == "mma" && major >= 8) return GemmPath::Mma;
  if (f == "wgmma" && hopper) return GemmPath::Wgmma;
  return best;
}

void launchPackActivations(const LinearDeviceArgs& a, int64_t depthPadded, int64_t colsPadded, uint8_t* packed,
                           int32_t* colSums, cudaStream_t stream) {
  constexpr int warpsPerBlock = 8;
  const int64_t blocks = (colsPadded + warpsPerBlock - 1) / warpsPerBlock;
  packActivationsKernel<<<unsigned(blocks), warpsPerBlock * 32, 0, stream>>>(a, depthPadded, colsPadded, packed, colSums);
}

void launchGemm(const LinearDeviceArgs& a, const LinearConstants& w, const uint8_t* packed, const int32_t* colSums,
                int64_t colsPadded, GemmPath path, cudaStream_t stream) {
  GemmParams p;
  p.weights = w.weights;
  p.packed = packed;
  p.depthPadded = w.depthPadded;
  p.zeroPoints = w.zeroPoints;
  p.rowConstants = w.rowConstants;
  p.multipliers = w.multipliers;
  p.colSums = colSums;
  p.anyZeroPoint = a.anyWeightZeroPoint;
  p.rows = a.rows;
  p.columns = a.columns;
  p.requantize = a.requantize;
  p.zeroY = a.outputZeroPoint;
  p.lo = a.range.lo;
  p.hi = a.range.hi;
  p.out = a.output;
  p.colsPerImage = a.colsPerImage > 0 ? a.colsPerImage : a.columns;
  p.imageOutStride = a.imageOutStride;
  p.rowStride = a.rowStride;
  p.colStride = a.colStride;
  const bool large = (colsPadded / kTileCols) * (w.rowsPadded / kTileRows) >= kWgmmaMinTiles;
  if ((path == GemmPath::Wgmma || (path == GemmPath::Hopper && large)) && launchGemmWgmma(p, colsPadded, w.rowsPadded, stream)) return;
  if (path != GemmPath::Plain) {
    static const cudaError_t configured =
        cudaFuncSetAttribute(gemmTensorCoreKernel, cudaFuncAttributeMaxDynamicSharedMemorySize, kSharedBytes);
    (void)configured;
    const dim3 grid(unsigned(colsPadded / kMmaCols), unsigned(w.rowsPadded / kMmaRows));
    gemmTensorCoreKernel<<<grid, kThreads, kSharedBytes, stream>>>(p);
  } else {
    const dim3 block(32, 8);
    const dim3 grid(unsigned((a.columns + 31) / 32), unsigned((a.rows + 7) / 8));
    gemmPlainKernel<<<grid, block, 0, stream>>>(p);
  }
}

void launchWideLinear(const LinearDeviceArgs& a, const int8_t* weights, const int32_t* zeroPoints, const int32_t* bias,
                      const Multiplier* multipliers, cudaStream_t stream) {
  wideLinearKernel<<<gridFor(a.rows * a.columns), kBlock, 0, stream>>>(a, weights, zeroPoints, bias, multipliers);
}

}  // namespace bx::cuda
