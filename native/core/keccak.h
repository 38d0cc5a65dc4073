// Keccak-256 (the original Keccak padding that Ethereum uses, not SHA3-256), streaming.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace bx {

using Hash32 = std::array<uint8_t, 32>;

class Keccak256 {
 public:
  Keccak256();
  // Continues a hash whose first whole blocks were absorbed elsewhere (the 4-lane AVX2 path).
  explicit Keccak256(const uint64_t (&absorbedState)[25]);
  void update(const void* data, size_t length);
  Hash32 finish();

 private:
  static constexpr size_t kRate = 136;  // bytes absorbed per permutation for a 256-bit output
  void (*permute_)(uint64_t*);
  uint64_t state_[25];
  uint8_t pending_[kRate];
  size_t pendingLength_ = 0;
  void absorbBlock(const uint8_t* block);
};

Hash32 keccak256(const void* data, size_t length);

// Which Keccak builds this CPU may use: BMI1/2 for the one-stream permutation, AVX2 for four
// streams at once. BITEXACT_CPU_ISA=scalar turns both off, so tests can compare them with the
// baseline.
bool keccakUseBmi2();
bool keccakUseAvx2();

}  // namespace bx
