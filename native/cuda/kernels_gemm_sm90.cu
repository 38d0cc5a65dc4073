// Hopper (sm_90a) int8 GEMM: warpgroup MMA (wgmma.mma_async m64n256k32, s8 weights x u8
// activations -> s32, wrapping) fed by the tensor memory accelerator. The same arithmetic as
// gemmTensorCoreKernel in kernels_linear.cu -- exact int32 dot products, the same epilogue -- on
// Hopper's faster matrix path. This file is compiled for sm_90a only (CMakeLists.txt) and runs on
// compute capability 9.0 devices.
//
// Block: 128 weight rows x 256 activation columns, three warpgroups. One thread of the producer
// warpgroup issues the bulk tensor copies (TMA) of 128-byte-deep tiles into kStages stages; the
// copy engine writes them with the 128-byte swizzle wgmma reads without bank conflicts, and
// signals a "full" barrier with the bytes that landed. The two consumer warpgroups (64 rows each)
// wait on it, issue four m64n256k32 wgmmas per stage, keep one group in flight and release the
// stage before it on an "empty" barrier, so copies, tensor cores and the release overlap with no
// block-wide barrier in the loop. Depth beyond the padded weights reads as zeros (TMA's
// out-of-bounds fill), which adds nothing to a dot product.
#include <cuda.h>  // CUtensorMap (the encoder is fetched from the driver at run time)

#include <cstdint>

#include "kernels.h"
#include "kernels_gemm.h"

namespace bx::cuda {
namespace {

constexpr int kRows = 128, kCols = 256, kDepth = 128, kStages = 4, kConsumers = 2;
constexpr int kThreads = (kConsumers + 1) * 128;
constexpr int kStageA = kRows * kDepth, kStageB = kCols * kDepth;
// The accumulator tile staged column by column for the epilogue; 132 words apart, the four
// columns one warp stores at once fall in different banks.
constexpr int kStagedStride = kRows + 4;
static_assert(kCols * kStagedStride * 4 <= kStages * (kStageA + kStageB), "the staged tile must fit the stages");
// stages, room to align them to the swizzle's 1024-byte period, the barriers
constexpr int kSharedBytes = kStages * (kStageA + kStageB) + 1024 + 2 * kStages * 8;

#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
__device__ __forceinline__ uint32_t sharedAddress(const void* p) { return uint32_t(__cvta_generic_to_shared(p)); }

__device__ __forceinline__ void barrierInit(uint64_t* bar, uint32_t count) {
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(sharedAddress(bar)), "r"(count));
}
__device__ __forceinline__ void barrierExpectBytes(uint64_t* bar, uint32_t bytes) {
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(sharedAddress(bar)), "r"(bytes) : "memory");
}
__device__ __forceinline__ void barrierArrive(uint64_t* bar) {
  asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];\n" ::"r"(sharedAddress(bar)) : "memory");
}
// Returns once the barrier's phase of the given parity has completed (a fresh barrier counts its
// phase "before 0", parity 1, as completed).
__device__ __forceinline__ void barrierWait(uint64_t* bar, uint32_t parity) {
  uint32_t done = 0;
  do {
    asm volatile(
        "{\n.reg .pred p;\nmbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\nselp.u32 %0, 1, 0, p;\n}\n"
        : "=r"(done)
        : "r"(sharedAddress(bar)), "r"(parity)
        : "memory");
  } while (!done);
}

// One box (kDepth bytes x rows) of a [rows][depth] byte matrix at (k, row), completing on `bar`.
__device__ __forceinline__ void tmaLoad(uint8_t* dst, const CUtensorMap* map, int32_t k, int32_t row, uint64_t* bar) {
  asm volatile(
      "cp.async.bulk.tensor.2d.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1, {%2, %3}], [%4];\n" ::"r"(
          sharedAddress(dst)),
      "l"(reinterpret_cast<uint64_t>(map)), "r"(k), "r"(row), "r"(sharedAddress(bar))
      : "memory");
}

// A K-major tile of 128-byte rows with the 128-byte swizzle (1024-byte aligned): rows in groups
// of 8, 1024 bytes apart; the leading offset is unused in this layout.
__device__ __forceinline__ uint64_t descriptor(const uint8_t* tile) {
  uint64_t d = (sharedAddress(tile) & 0x3FFFF) >> 4;
  d |= uint64_t(1) << 16;
  d |= uint64_t(1024 >> 4) << 32;
  d |= uint64_t(1) << 62;
  return d;
}

__device__ __forceinline__ void wgmma256(uint32_t* d, uint64_t descA, uint64_t descB) {
  asm volatile(
      "{\n.reg .pred accumulate;\nsetp.ne.b32 accumulate, 1, 0;\n"
      "wgmma.mma_async.sync.aligned.m64n256k32.s32.s8.u8 "
      "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, %48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63, %64, %65, %66, %67, %68, %69, %70, %71, %72, %73, %74, %75, %76, %77, %78, %79, %80, %81, %82, %83, %84, %85, %86, %87, %88, %89, %90, %91, %92, %93, %94, %95, %96, %97, %98, %99, %100, %101, %102, %103, %104, %105, %106, %107, %108, %109, %110, %111, %112, %113, %114, %115, %116, %117, %118, %119, %120, %121, %122, %123, %124, %125, %126, %127}, %128, %129, accumulate;\n}\n"
      : "+r"(d[0]), "+r"(d[1]), "+r"(d[2]), "+r"(d[3]), "+r"(d[4]), "+r"(d[5]), "+r"(d[6]), "+r"(d[7]), "+r"(d[8]), "+r"(d[9]), "+r"(d[10]), "+r"(d[11]), "+r"(d[12]), "+r"(d[13]), "+r"(d[14]), "+r"(d[15]), "+r"(d[16]), "+r"(d[17]), "+r"(d[18]), "+r"(d[19]), "+r"(d[20]), "+r"(d[21]), "+r"(d[22]), "+r"(d[23]), "+r"(d[24]), "+r"(d[25]), "+r"(d[26]), "+r"(d[27]), "+r"(d[28]), "+r"(d[29]), "+r"(d[30]), "+r"(d[31]), "+r"(d[32]), "+r"(d[33]), "+r"(d[34]), "+r"(d[35]), "+r"(d[36]), "+r"(d[37]), "+r"(d[38]), "+r"(d[39]), "+r"(d[40]), "+r"(d[41]), "+r"(d[42]), "+r"(d[43]), "+r"(d[44]), "+r"(d[45]), "+r"(d[46]), "+r"(d[47]), "+r"(d[48]), "+r"(d[49]), "+r"(d[50]), "+r"(d[51]), "+r"(d[52]), "+r"(d[53]), "+r"(d[54]), "+r"(d[55]), "+r"(d[56]), "+r"(d[57]), "+r"(d[58]), "+r"(d[59]), "+r"(d[60]), "+r"(d[61]), "+r"(d[62]), "+r"(d[63]), "+r"(d[64]), "+r"(d[65]), "+r"(d[66]), "+r"(d[67]), "+r"(d[68]), "+r"(d[69]), "+r"(d[70]), "+r"(d[71]), "+r"(d[72]), "+r"(d[73]), "+r"(d[74]), "+r"(d[75]), "+r"(d[76]), "+r"(d[77]), "+r"(d[78]), "+r"(d[79]), "+r"(d[80]), "+r"(d[81]), "+r"(d[82]), "+r"(d[83]), "+r"(d[84]), "+r"(d[85]), "+r"(d[86]), "+r"(d[87]), "+r"(d[88]), "+r"(d[89]), "+r"(d[90]), "+r"(d[91]), "+r"(d[92]), "+r"(d[93]), "+r"(d[94]), "+r"(d[95]), "+r"(d[96]), "+r"(d[97]), "+r"(d[98]), "+r"(d[99]), "+r"(d[100]), "+r"(d[101]), "+r"(d[102]), "+r"(d[103]), "+r"(d[104]), "+r"(d[105]), "+r"(d[106]), "+r"(d[107]), "+r"(d[108]), "+r"(d[109]), "+r"(d[110]), "+r"(d[111]), "+r"(d[112]), "+r"(d[113]), "+r"(d[114]), "+r"(d[115]), "+r"(d[116]), "+r"(d[117]), "+r"(d[118]), "+r"(d[119]), "+r"(d[120]), "+r"(d[121]), "+r"(d[122]), "+r"(d[123]), "+r"(d[124]), "+r"(d[125]), "+r"(d[126]), "+r"(d[127])
      : "l"(descA), "l"(descB));
}
#endif

__global__ void __launch_bounds__(kThreads, 1)
    gemmWgmmaKernel(const __grid_constant__ CUtensorMap mapA, const __grid_constant__ CUtensorMap mapB, GemmParams p) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
  extern __shared__ uint8_t sharedRaw[];
  uint8_t* shared = sharedRaw + ((1024 - (sharedAddress(sharedRaw) & 1023)) & 1023);
  uint8_t* tilesA = shared;
  uint8_t* tilesB = shared + kStages * kStageA;
  uint64_t* full = reinterpret_cast<uint64_t*>(tilesB + kStages * kStageB);
  uint64_t* empty = full + kStages;
  const int warpgroup = threadIdx.x / 128;
  const int tiles = int((p.depthPadded + kDepth - 1) / kDepth);
  const int32_t blockRow = int32_t(blockIdx.y) * kRows, blockCol = int32_t(blockIdx.x) * kCols;
  if (threadIdx.x == 0) {
    for (int s = 0; s < kStages; ++s) {
      barrierInit(&full[s], 1);
      barrierInit(&empty[s], kConsumers);
    }
    asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
  }
  __syncthreads();

  if (warpgroup == kConsumers) {
    if (threadIdx.x == kConsumers * 128) {
      for (int t = 0; t < tiles; ++t) {
        const int s = t % kStages;
        barrierWait(&empty[s], ((t / kStages) & 1) ^ 1);
        barrierExpectBytes(&full[s], kStageA + kStageB);
        tmaLoad(tilesA + s * kStageA, &mapA, t * kDepth, blockRow, &full[s]);
        tmaLoad(tilesB + s * kStageB, &mapB, t * kDepth, blockCol, &full[s]);
      }
    }
    return;
  }

  uint32_t acc[128];
#pragma unroll
  for (int i = 0; i < 128; ++i) acc[i] = 0;
  for (int t = 0; t < tiles; ++t) {
    const int s = t % kStages;
    barrierWait(&full[s], (t / kStages) & 1);
    const uint64_t descA = descriptor(tilesA + s * kStageA + warpgroup * 64 * kDepth);
    const uint64_t descB = descriptor(tilesB + s * kStageB);
    asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
#pragma unroll
    for (int kk = 0; kk < kDepth / 32; ++kk) wgmma256(acc, descA + 2 * kk, descB + 2 * kk);  // +32 bytes of depth
    asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
    // The previous stage's group has finished once at most this one is pending: release it.
    asm volatile("wgmma.wait_group.sync.aligned 1;\n" ::: "memory");
    if (t > 0 && threadIdx.x % 128 == 0) barrierArrive(&empty[(t - 1) % kStages]);
  }
  asm volatile("wgmma.wait_group.sync.aligned 0;\n" ::: "memory");

  // Epilogue through shared memory (the stages are free once both consumer warpgroups are past
  // their last wgmma): one compact loop instead of 128 unrolled copies of the epilogue, whose
  // code would not fit the instruction cache, and neighbouring threads take neighbouring rows.
  asm volatile("bar.sync 1, %0;\n" ::"n"(kConsumers * 128) : "memory");
  uint32_t* staged = reinterpret_cast<uint32_t*>(shared);
  const int warp = (threadIdx.x >> 5) & 3, lane = threadIdx.x & 31, group = lane >> 2, quad = lane & 3;
  const int tileRow = warpgroup * 64 + warp * 16 + group;
#pragma unroll
  for (int j = 0; j < 32; ++j) {
    const int tileCol = j * 8 + quad * 2;
    staged[tileCol * kStagedStride + tileRow] = acc[j * 4 + 0];
    staged[(tileCol + 1) * kStagedStride + tileRow] = acc[j * 4 + 1];
    staged[tileCol * kStagedStride + tileRow + 8] = acc[j * 4 + 2];
    staged[(tileCol + 1) * kStagedStride + tileRow + 8] = acc[j * 4 + 3];
  }
  asm volatile("bar.sync 1, %0;\n" ::"n"(kConsumers * 128) : "memory");
  constexpr int kStep = kConsumers * 128 / kRows;  // each thread: one row, every kStep-th column
  const int r = threadIdx.x % kRows, c = threadIdx.x / kRows;
  storeRowSegment(p, int64_t(blockRow) + r, int64_t(blockCol) + c, int64_t(blockCol) + kCols, kStep, staged + c * kStagedStride + r,
                  kStep * kStagedStride);
#else
  __trap();  // this file is built for sm_90a only
#endif
}

using EncodeTiled = CUresult (*)(CUtensorMap*, CUtensorMapDataType, cuuint32_t, void*, const cuuint64_t*, const cuuint64_t*,
                                 const cuuint32_t*, const cuuint32_t*, CUtensorMapInterleave, CUtensorMapSwizzle,
                                 CUtensorMapL2promotion, CUtensorMapFloatOOBfill);

// cuTensorMapEncodeTiled from the driver (the runtime is linked statically, libcuda is not).
EncodeTiled encoder() {
  static const EncodeTiled fn = [] {
    void* f = nullptr;
    cudaDriverEntryPointQueryResult found;
    if (cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &f, 12000, cudaEnableDefault, &found) != cudaSuccess ||
        found != cudaDriverEntryPointSuccess) {
      cudaGetLastError();
      return EncodeTiled(nullptr);
    }
    return reinterpret_cast<EncodeTiled>(f);
  }();
  return fn;
}

// A [rows][depth] byte matrix read in boxes of kDepth x boxRows with the 128-byte swizzle.
bool tileMap(CUtensorMap* map, const void* base, int64_t rows, int64_t depth, uint32_t boxRows) {
  const cuuint64_t dims[2] = {cuuint64_t(depth), cuuint64_t(rows)};
  const cuuint64_t strides[1] = {cuuint64_t(depth)};
  const cuuint32_t box[2] = {cuuint32_t(kDepth), boxRows};
  const cuuint32_t elementStrides[2] = {1, 1};
  return encoder()(map, CU_TENSOR_MAP_DATA_TYPE_UINT8, 2, const_cast<void*>(base), dims, strides, box, elementStrides,
                   CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_128B, CU_TENSOR_MAP_L2_PROMOTION_L2_256B,
                   CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE) == CUDA_SUCCESS;
}

}  // namespace

bool launchGemmWgmma(const GemmParams& p, int64_t colsPadded, int64_t rowsPadded, cudaStream_t stream) {
  CUtensorMap mapA, mapB;
  if (!encoder() || !tileMap(&mapA, p.weights, rowsPadded, p.depthPadded, kRows) ||
      !tileMap(&mapB, p.packed, colsPadded, p.depthPadded, kCols)) {
    return false;
  }
  static const cudaError_t configured = cudaFuncSetAttribute(gemmWgmmaKernel, cudaFuncAttributeMaxDynamicSharedMemorySize, kSharedBytes);
  (void)configured;
  const dim3 grid(unsigned(colsPadded / kCols), unsigned(rowsPadded / kRows));
  gemmWgmmaKernel<<<grid, kThreads, kSharedBytes, stream>>>(mapA, mapB, p);
  return true;
}

}  // namespace bx::cuda
