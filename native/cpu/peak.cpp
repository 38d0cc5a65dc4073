#include "peak.h"

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

namespace bx::cpu {

double measureInt8Peak(Isa isa, int threads, double seconds) {
  if (isa == Isa::Scalar || !isaSupported(isa) || threads < 1) return 0;
  const auto loop = isa == Isa::Avx512Vnni ? int8PeakLoopAvx512Vnni : int8PeakLoopAvx2;
  // Size the work so one thread runs for about `seconds`, from a short calibration run.
  const auto calibrationStart = std::chrono::steady_clock::now();
  loop(1 << 16);
  const double calibration = std::chrono::duration<double>(std::chrono::steady_clock::now() - calibrationStart).count();
  const uint64_t blocks = uint64_t(double(1 << 16) * seconds / (calibration > 1e-9 ? calibration : 1e-9)) + 1;
  std::vector<std::thread> pool;
  std::atomic<uint64_t> ops{0};
  const auto start = std::chrono::steady_clock::now();
  for (int t = 0; t < threads; ++t) pool.emplace_back([&] { ops += loop(blocks); });
  for (std::thread& t : pool) t.join();
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return double(ops.load()) / elapsed;
}

}  // namespace bx::cpu
