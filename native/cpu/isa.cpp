#include "isa.h"

#include <cstdlib>

#include "../core/errors.h"
#include "qgemm.h"

#if defined(__x86_64__) || defined(_M_X64)
#include <cpuid.h>
#define BX_X86 1
#endif

namespace bx::cpu {
namespace {

struct CpuFeatures {
  bool avx2 = false;
  bool avx512 = false;  // F + BW + VL + VNNI, and the OS saves ZMM state
};

#ifdef BX_X86
uint64_t readXcr0() {
  uint32_t eax, edx;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return (uint64_t(edx) << 32) | eax;
}
#endif

CpuFeatures detect() {
  CpuFeatures f;
#ifdef BX_X86
  unsigned eax, ebx, ecx, edx;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return f;
  const bool osxsave = ecx & (1u << 27);
  const bool avx = ecx & (1u << 28);
  if (!osxsave || !avx) return f;
  const uint64_t xcr0 = readXcr0();
  const bool ymmSaved = (xcr0 & 0x6) == 0x6;
  const bool zmmSaved = (xcr0 & 0xe6) == 0xe6;
  if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return f;
  f.avx2 = ymmSaved && (ebx & (1u << 5));
  const bool avx512f = ebx & (1u << 16);
  const bool avx512bw = ebx & (1u << 30);
  const bool avx512vl = ebx & (1u << 31);
  const bool avx512vnni = ecx & (1u << 11);
  f.avx512 = f.avx2 && zmmSaved && avx512f && avx512bw && avx512vl && avx512vnni;
#ifdef BX_AVX512_VIA_SIMDE
  f.avx512 = f.avx2;  // test build: the AVX-512 kernel is emulated in portable code (see qgemm_avx512vnni.cpp)
#endif
#endif
  return f;
}

const CpuFeatures& features() {
  static const CpuFeatures f = detect();
  return f;
}

}  // namespace

const char* isaName(Isa isa) {
  switch (isa) {
    case Isa::Scalar: return "scalar";
    case Isa::Avx2: return "avx2";
    case Isa::Avx512Vnni: return "avx512vnni";
  }
  return "scalar";
}

bool parseIsaName(const std::string& name, Isa* out) {
  for (Isa isa : {Isa::Scalar, Isa::Avx2, Isa::Avx512Vnni}) {
    if (name == isaName(isa)) { *out = isa; return true; }
  }
  return false;
}

bool cpuHasIsa(Isa isa) {
  switch (isa) {
    case Isa::Scalar: return true;
    case Isa::Avx2: return features().avx2;
    case Isa::Avx512Vnni: return features().avx512;
  }
  return false;
}

bool isaPassedSelfTest(Isa isa) {
  static const bool avx2 = cpuHasIsa(Isa::Avx2) && packedGemmSelfTest(Isa::Avx2);
  static const bool avx512 = cpuHasIsa(Isa::Avx512Vnni) && packedGemmSelfTest(Isa::Avx512Vnni);
  switch (isa) {
    case Isa::Scalar: return true;
    case Isa::Avx2: return avx2;
    case Isa::Avx512Vnni: return avx512;
  }
  return false;
}

bool isaSupported(Isa isa) { return cpuHasIsa(isa) && isaPassedSelfTest(isa); }

std::vector<Isa> failedSelfTestIsas() {
  std::vector<Isa> out;
  for (Isa isa : {Isa::Avx2, Isa::Avx512Vnni}) if (cpuHasIsa(isa) && !isaPassedSelfTest(isa)) out.push_back(isa);
  return out;
}

std::vector<Isa> supportedIsas() {
  std::vector<Isa> out;
  for (Isa isa : {Isa::Scalar, Isa::Avx2, Isa::Avx512Vnni}) if (isaSupported(isa)) out.push_back(isa);
  return out;
}

Isa bestIsa() { return supportedIsas().back(); }

Isa resolveIsa(const std::string& requested) {
  std::string name = requested;
  std::string source = "the isa option";
  if (name.empty()) {
    const char* env = std::getenv("BITEXACT_CPU_ISA");
    if (!env || !*env) return bestIsa();
    name = env;
    source = "BITEXACT_CPU_ISA";
  }
  Isa isa;
  if (!parseIsaName(name, &isa)) {
    fail(ErrorCode::Isa, source + " is '" + name + "'; expected one of scalar, avx2, avx512vnni");
  }
  if (!cpuHasIsa(isa)) {
    fail(ErrorCode::Isa, source + " asks for " + name + ", which this CPU does not support");
  }
  if (!isaPassedSelfTest(isa)) {
    fail(ErrorCode::Isa, source + " asks for " + name + ", whose kernels failed their known-answer self-test on this CPU");
  }
  return isa;
}

}  // namespace bx::cpu
