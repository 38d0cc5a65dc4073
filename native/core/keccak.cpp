#include "keccak.h"

#include <cstdlib>
#include <cstring>

#include "keccak_permute.h"

namespace bx {
namespace {

using Permutation = void (*)(uint64_t*);

bool forcedScalar() {
  const char* forced = std::getenv("BITEXACT_CPU_ISA");
  return forced && std::strcmp(forced, "scalar") == 0;
}

bool cpuSupports(const char* feature) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init();
  if (std::strcmp(feature, "bmi2") == 0) return __builtin_cpu_supports("bmi") && __builtin_cpu_supports("bmi2");
  if (std::strcmp(feature, "avx2") == 0) return __builtin_cpu_supports("avx2");
#endif
  return false;
}

Permutation pickPermutation() { return keccakUseBmi2() ? keccak_detail::permuteBmi2 : keccak_detail::permuteBaseline; }

}  // namespace

bool keccakUseBmi2() {
  static const bool use = !forcedScalar() && cpuSupports("bmi2");
  return use;
}

bool keccakUseAvx2() {
  static const bool use = !forcedScalar() && cpuSupports("avx2");
  return use;
}

namespace {

// Chosen on first use (not at static initialisation, whose order across files is unspecified),
// once per hash object rather than per block.
Permutation chosenPermutation() {
  static const Permutation chosen = pickPermutation();
  return chosen;
}

inline uint64_t loadLittleEndian64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);  // x86-64 and every CUDA host are little-endian
  return v;
}

}  // namespace

Keccak256::Keccak256() : permute_(chosenPermutation()) { std::memset(state_, 0, sizeof(state_)); }

Keccak256::Keccak256(const uint64_t (&absorbedState)[25]) : permute_(chosenPermutation()) {
  std::memcpy(state_, absorbedState, sizeof(state_));
}

void Keccak256::absorbBlock(const uint8_t* block) {
  for (size_t i = 0; i < kRate / 8; ++i) state_[i] ^= loadLittleEndian64(block + 8 * i);
  permute_(state_);
}

void Keccak256::update(const void* data, size_t length) {
  const uint8_t* p = static_cast<const uint8_t*>(data);
  if (pendingLength_ > 0) {
    const size_t take = length < kRate - pendingLength_ ? length : kRate - pendingLength_;
    std::memcpy(pending_ + pendingLength_, p, take);
    pendingLength_ += take;
    p += take;
    length -= take;
    if (pendingLength_ < kRate) return;
    absorbBlock(pending_);
    pendingLength_ = 0;
  }
  while (length >= kRate) {
    absorbBlock(p);
    p += kRate;
    length -= kRate;
  }
  std::memcpy(pending_, p, length);
  pendingLength_ = length;
}

Hash32 Keccak256::finish() {
  std::memset(pending_ + pendingLength_, 0, kRate - pendingLength_);
  pending_[pendingLength_] ^= 0x01;  // Keccak padding (SHA3 would use 0x06)
  pending_[kRate - 1] ^= 0x80;
  absorbBlock(pending_);
  Hash32 out;
  std::memcpy(out.data(), state_, 32);
  return out;
}

Hash32 keccak256(const void* data, size_t length) {
  Keccak256 h;
  h.update(data, length);
  return h.finish();
}

}  // namespace bx
