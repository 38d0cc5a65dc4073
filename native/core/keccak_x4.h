// Four Keccak-256 sponges in the 64-bit lanes of AVX2 registers: absorbs whole 136-byte blocks of
// four messages at once. Callers check for AVX2 first, then finish each message with the scalar
// Keccak256 continued from its lane state.
#pragma once

#include <cstddef>
#include <cstdint>

namespace bx {

constexpr size_t kKeccakRate = 136;

// writeBlock(context, j, b, dst) writes message j's b-th block (136 bytes) to dst. Returns each
// lane's state. (A plain function pointer: this TU is built with -mavx2 and must not instantiate
// templates that other TUs could end up sharing.)
using BlockWriter = void (*)(void* context, int message, size_t block, uint8_t* dst);
void keccakAbsorbX4Avx2(size_t blocks, BlockWriter writeBlock, void* context, uint64_t states[4][25]);

}  // namespace bx
