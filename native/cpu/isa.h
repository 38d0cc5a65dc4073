// Instruction-set selection for the CPU kernels. One binary runs on any x86-64 CPU: the best
// path is chosen at run time from CPUID (never -march=native); every path gives the same bytes.
#pragma once

#include <string>
#include <vector>

namespace bx::cpu {

enum class Isa { Scalar = 0, Avx2 = 1, Avx512Vnni = 2 };

const char* isaName(Isa isa);
bool parseIsaName(const std::string& name, Isa* out);
bool cpuHasIsa(Isa isa);            // the CPU (and OS) can execute it
// cpuHasIsa and its kernels passed a known-answer test on first use (packedGemmSelfTest): a path
// that computes anything but the exact sums is never offered or chosen.
bool isaSupported(Isa isa);
std::vector<Isa> failedSelfTestIsas();
std::vector<Isa> supportedIsas();    // ascending
Isa bestIsa();
// The ISA a model uses: `requested` when non-empty, else BITEXACT_CPU_ISA, else bestIsa().
// Throws ERR_BITEXACT_ISA for an unknown name or one this CPU cannot run.
Isa resolveIsa(const std::string& requested);

}  // namespace bx::cpu
