// AVX-512 VNNI: vpdpbusd multiplies 64 u8 x s8 pairs and adds them into 16 int32 lanes, 128 ops
// per instruction; twelve independent chains cover its latency on current cores.
#ifdef BX_AVX512_VIA_SIMDE
#define SIMDE_ENABLE_NATIVE_ALIASES
#include <simde/x86/avx512.h>
#else
#include <immintrin.h>
#endif

#include "peak.h"

namespace bx::cpu {

uint64_t int8PeakLoopAvx512Vnni(uint64_t blocks) {
  constexpr int kChains = 12;
  __m512i a = _mm512_set1_epi8(3);
  __m512i acc[kChains], b[kChains];
  for (int c = 0; c < kChains; ++c) {
    acc[c] = _mm512_setzero_si512();
    b[c] = _mm512_set1_epi8(char(c + 1));
  }
  for (uint64_t i = 0; i < blocks; ++i) {
#ifndef BX_AVX512_VIA_SIMDE
    asm volatile("" : "+v"(a));  // opaque each round: nothing can be hoisted out of the loop
#endif
    for (int c = 0; c < kChains; ++c) acc[c] = _mm512_dpbusd_epi32(acc[c], a, b[c]);
  }
  __m512i sum = acc[0];
  for (int c = 1; c < kChains; ++c) sum = _mm512_add_epi32(sum, acc[c]);
  alignas(64) int32_t lanes[16];
  _mm512_store_si512(lanes, sum);
  volatile int32_t sink = lanes[0];  // keeps the chains live
  (void)sink;
  return blocks * kChains * 128;
}

}  // namespace bx::cpu
