// Hopper (sm_90a) int8 GEMM: warpgroup MMA (wgmma.mma_async m64n128k32, s8 weights x u8
// activations -> s32, wrapping). The same arithmetic as gemmTensorCoreKernel in
// kernels_linear.cu -- exact int32 dot products, the same epilogue -- on Hopper's faster matrix
// path. This file is compiled for sm_90a only (CMakeLists.txt); it runs only when
// BITEXACT_CUDA_GEMM=wgmma asks for it on a compute capability 9.0 device. It is exact (the H100
// tests pass on it) but not yet fast: 267 TOPS at 8192^3 against mma.sync's 437 and cuBLASLt's
// 1505 (bench/results/cuda-h100.md). Missing: TMA loads with 128-byte swizzle, a producer
// warpgroup, larger tiles.
//
// Block: 128 weight rows x 256 activation columns, two warpgroups of 64 rows, each issuing two
// n128 wgmmas per 32 bytes of depth. Tiles of 64 bytes of depth arrive by cp.async into four
// stages, fetched two tiles ahead, so one group of wgmmas can run while the next is issued; the
// layout is the no-swizzle K-major one wgmma reads: 8-row x 16-byte core matrices, the four along
// the depth 128 bytes apart (LBO), row groups 512 bytes apart (SBO).
#include <cstdint>

#include "kernels.h"
#include "kernels_gemm.h"

namespace bx::cuda {
namespace {

constexpr int kRows = 128, kCols = 256, kDepth = 64, kStages = 4, kAhead = 2, kThreads = 256;
constexpr int kStageA = kRows * kDepth, kStageB = kCols * kDepth;
constexpr int kSharedBytes = kStages * (kStageA + kStageB);

#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
__device__ __forceinline__ uint64_t descriptor(const uint8_t* tile) {
  const uint64_t address = uint64_t(__cvta_generic_to_shared(tile));
  uint64_t d = (address & 0x3FFFF) >> 4;     // start address
  d |= uint64_t(128 >> 4) << 16;             // leading (depth) byte offset between core matrices
  d |= uint64_t(512 >> 4) << 32;             // stride byte offset between 8-row groups
  return d;                                  // base offset 0, no swizzle
}

__device__ __forceinline__ void wgmma128(uint32_t* d, uint64_t descA, uint64_t descB, int accumulate) {
  asm volatile(
      "{\n"
      ".reg .pred p;\n"
      "setp.ne.b32 p, %66, 0;\n"
      "wgmma.mma_async.sync.aligned.m64n128k32.s32.s8.u8 "
      "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, %48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63}, %64, %65, p;\n"
      "}\n"
      : "+r"(d[0]), "+r"(d[1]), "+r"(d[2]), "+r"(d[3]), "+r"(d[4]), "+r"(d[5]), "+r"(d[6]), "+r"(d[7]), "+r"(d[8]), "+r"(d[9]), "+r"(d[10]), "+r"(d[11]), "+r"(d[12]), "+r"(d[13]), "+r"(d[14]), "+r"(d[15]), "+r"(d[16]), "+r"(d[17]), "+r"(d[18]), "+r"(d[19]), "+r"(d[20]), "+r"(d[21]), "+r"(d[22]), "+r"(d[23]), "+r"(d[24]), "+r"(d[25]), "+r"(d[26]), "+r"(d[27]), "+r"(d[28]), "+r"(d[29]), "+r"(d[30]), "+r"(d[31]), "+r"(d[32]), "+r"(d[33]), "+r"(d[34]), "+r"(d[35]), "+r"(d[36]), "+r"(d[37]), "+r"(d[38]), "+r"(d[39]), "+r"(d[40]), "+r"(d[41]), "+r"(d[42]), "+r"(d[43]), "+r"(d[44]), "+r"(d[45]), "+r"(d[46]), "+r"(d[47]), "+r"(d[48]), "+r"(d[49]), "+r"(d[50]), "+r"(d[51]), "+r"(d[52]), "+r"(d[53]), "+r"(d[54]), "+r"(d[55]), "+r"(d[56]), "+r"(d[57]), "+r"(d[58]), "+r"(d[59]), "+r"(d[60]), "+r"(d[61]), "+r"(d[62]), "+r"(d[63])
      : "l"(descA), "l"(descB), "r"(accumulate));
}

// Byte offset of (row, 16-byte chunk) in a tile laid out as core matrices.
__device__ __forceinline__ int tileOffset(int row, int chunk) { return (row >> 3) * 512 + chunk * 128 + (row & 7) * 16; }
#endif

__global__ void __launch_bounds__(kThreads, 1) gemmWgmmaKernel(GemmParams p) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
  extern __shared__ __align__(128) uint8_t shared[];
  uint8_t* sharedA = shared;
  uint8_t* sharedB = shared + kStages * kStageA;
  const int tid = threadIdx.x;
  const int warpgroup = tid >> 7;
  const int64_t blockRow = int64_t(blockIdx.y) * kRows, blockCol = int64_t(blockIdx.x) * kCols;
  const int64_t tiles = p.depthPadded / kDepth;
  const uint8_t* globalA = reinterpret_cast<const uint8_t*>(p.weights) + blockRow * p.depthPadded;
  const uint8_t* globalB = p.packed + blockCol * p.depthPadded;

  const auto loadStage = [&](int stage, int64_t tile) {
    const int64_t k0 = tile * kDepth;
#pragma unroll
    for (int i = 0; i < (kRows * 4) / kThreads; ++i) {
      // A warp copies 8 whole rows: coalesced reads, and each 8-lane phase fills one core matrix.
      const int chunk = tid + i * kThreads, row = (chunk >> 5) * 8 + (chunk & 7), part = (chunk >> 3) & 3;
      const uint32_t dst = uint32_t(__cvta_generic_to_shared(sharedA + stage * kStageA + tileOffset(row, part)));
      asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(dst), "l"(globalA + row * p.depthPadded + k0 + part * 16));
    }
#pragma unroll
    for (int i = 0; i < (kCols * 4) / kThreads; ++i) {
      const int chunk = tid + i * kThreads, row = (chunk >> 5) * 8 + (chunk & 7), part = (chunk >> 3) & 3;
      const uint32_t dst = uint32_t(__cvta_generic_to_shared(sharedB + stage * kStageB + tileOffset(row, part)));
      asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(dst), "l"(globalB + row * p.depthPadded + k0 + part * 16));
    }
  };

  uint32_t acc[2][64];
#pragma unroll
  for (int h = 0; h < 2; ++h)
#pragma unroll
    for (int i = 0; i < 64; ++i) acc[h][i] = 0;

#pragma unroll
  for (int s = 0; s < kAhead; ++s) {
    if (s < tiles) loadStage(s, s);
    asm volatile("cp.async.commit_group;\n" ::);
  }
  for (int64_t tile = 0; tile < tiles; ++tile) {
    // Tile `tile` has landed once at most kAhead - 1 younger copy groups are pending.
    asm volatile("cp.async.wait_group %0;\n" ::"n"(kAhead - 1));
    // The tensor cores read through the async proxy: order this thread's copies before them.
    asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
    __syncthreads();
    // Stage (tile + kAhead) % kStages was last read by the wgmmas of tile + kAhead - kStages,
    // which finished: at most one group (the previous tile's) is still running here.
    const int64_t next = tile + kAhead;
    if (next < tiles) loadStage(int(next % kStages), next);
    asm volatile("cp.async.commit_group;\n" ::);

    const int stage = int(tile % kStages);
    const uint8_t* tileA = sharedA + stage * kStageA + warpgroup * 64 / 8 * 512;
    const uint8_t* tileB = sharedB + stage * kStageB;
    asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
#pragma unroll
    for (int kk = 0; kk < 2; ++kk) {
      const uint64_t descA = descriptor(tileA + kk * 2 * 128);
#pragma unroll
      for (int h = 0; h < 2; ++h) {
        const uint64_t descB = descriptor(tileB + h * 128 / 8 * 512 + kk * 2 * 128);
        wgmma128(acc[h], descA, descB, 1);
      }
    }
    asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
    // Keep this tile's group running while the next one is issued; the one before must be done.
    asm volatile("wgmma.wait_group.sync.aligned 1;\n" ::: "memory");
  }
  asm volatile("wgmma.wait_group.sync.aligned 0;\n" ::: "memory");
  asm volatile("cp.async.wait_group 0;\n" ::);

  const int warp = (tid >> 5) & 3, lane = tid & 31, group = lane >> 2, quad = lane & 3;
#pragma unroll
  for (int h = 0; h < 2; ++h) {
#pragma unroll
    for (int j = 0; j < 16; ++j) {
      const int64_t row = blockRow + warpgroup * 64 + warp * 16 + group;
      const int64_t col = blockCol + h * 128 + j * 8 + quad * 2;
      storeResult(p, row, col, acc[h][j * 4 + 0]);
      storeResult(p, row, col + 1, acc[h][j * 4 + 1]);
      storeResult(p, row + 8, col, acc[h][j * 4 + 2]);
      storeResult(p, row + 8, col + 1, acc[h][j * 4 + 3]);
    }
  }
#else
  __trap();  // this file is built for sm_90a only
#endif
}

}  // namespace

void launchGemmWgmma(const GemmParams& p, int64_t colsPadded, int64_t rowsPadded, cudaStream_t stream) {
  static const cudaError_t configured = cudaFuncSetAttribute(gemmWgmmaKernel, cudaFuncAttributeMaxDynamicSharedMemorySize, kSharedBytes);
  (void)configured;
  const dim3 grid(unsigned(colsPadded / kCols), unsigned(rowsPadded / kRows));
  gemmWgmmaKernel<<<grid, kThreads, kSharedBytes, stream>>>(p);
}

}  // namespace bx::cuda
