// AVX-512 VNNI micro-kernel: vpdpbusd multiplies u8 activations by s8 weights and adds four
// products into each int32 lane without saturation (the `s` variant would saturate; not used).
//
// BX_AVX512_VIA_SIMDE (CMake option BITEXACT_EMULATE_AVX512, test builds only) compiles this file
// against SIMDe's portable implementations of the same intrinsics, so the AVX-512 path -- packing,
// blocking and epilogue included -- can be checked end to end on a CPU without AVX-512.
#ifdef BX_AVX512_VIA_SIMDE
#define SIMDE_ENABLE_NATIVE_ALIASES
#include <simde/x86/avx512.h>
#else
#include <immintrin.h>
#endif

#include "qgemm.h"

namespace bx::cpu {

void microKernelAvx512Vnni(const uint8_t* panel, const uint8_t* weights, int64_t quads, int32_t* acc, int64_t accStride) {
  constexpr int kRows = kRowsPerBlockAvx512;
  __m512i sums[kRows];
  for (int r = 0; r < kRows; ++r) sums[r] = _mm512_setzero_si512();
  for (int64_t q = 0; q < quads; ++q) {
    const __m512i a = _mm512_load_si512(reinterpret_cast<const void*>(panel + q * 64));
    const uint8_t* wq = weights + q * kRows * 4;
    for (int r = 0; r < kRows; ++r) {
      int32_t quad;
      __builtin_memcpy(&quad, wq + r * 4, 4);
      sums[r] = _mm512_dpbusd_epi32(sums[r], a, _mm512_set1_epi32(quad));
    }
  }
  for (int r = 0; r < kRows; ++r) _mm512_storeu_si512(reinterpret_cast<void*>(acc + r * accStride), sums[r]);
}

}  // namespace bx::cpu
