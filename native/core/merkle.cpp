#include "merkle.h"

#include <cstring>

namespace bx {
namespace {

Hash32 hashPair(const Hash32& left, const Hash32& right) {
  uint8_t both[64];
  std::memcpy(both, left.data(), 32);
  std::memcpy(both + 32, right.data(), 32);
  return keccak256(both, 64);
}

}  // namespace

Hash32 traceLeafHash(uint32_t index, const std::string& opType, const Hash32& outputHash) {
  uint8_t packed[68];
  packed[0] = uint8_t(index >> 24);
  packed[1] = uint8_t(index >> 16);
  packed[2] = uint8_t(index >> 8);
  packed[3] = uint8_t(index);
  const Hash32 op = keccak256(opType.data(), opType.size());
  std::memcpy(packed + 4, op.data(), 32);
  std::memcpy(packed + 36, outputHash.data(), 32);
  return keccak256(packed, sizeof(packed));
}

Hash32 merkleRoot(const std::vector<Hash32>& leaves) {
  if (leaves.empty()) return keccak256(nullptr, 0);
  std::vector<Hash32> level = leaves;
  while (level.size() > 1) {
    std::vector<Hash32> next;
    for (size_t i = 0; i + 1 < level.size(); i += 2) next.push_back(hashPair(level[i], level[i + 1]));
    if (level.size() % 2 == 1) next.push_back(level.back());
    level = std::move(next);
  }
  return level[0];
}

std::vector<Hash32> merkleProof(const std::vector<Hash32>& leaves, size_t index) {
  std::vector<Hash32> proof;
  if (index >= leaves.size()) return proof;
  std::vector<Hash32> level = leaves;
  while (level.size() > 1) {
    const size_t sibling = index ^ 1;
    if (sibling < level.size()) proof.push_back(level[sibling]);
    std::vector<Hash32> next;
    for (size_t i = 0; i + 1 < level.size(); i += 2) next.push_back(hashPair(level[i], level[i + 1]));
    if (level.size() % 2 == 1) next.push_back(level.back());
    level = std::move(next);
    index /= 2;
  }
  return proof;
}

bool verifyMerkleProof(const Hash32& leaf, size_t index, size_t leafCount, const std::vector<Hash32>& proof, const Hash32& root) {
  if (index >= leafCount) return false;
  Hash32 node = leaf;
  size_t used = 0;
  for (size_t count = leafCount; count > 1; count = (count + 1) / 2) {
    const size_t sibling = index ^ 1;
    if (sibling < count) {
      if (used >= proof.size()) return false;
      node = (index & 1) ? hashPair(proof[used], node) : hashPair(node, proof[used]);
      ++used;
    }
    index /= 2;
  }
  return used == proof.size() && node == root;
}

}  // namespace bx
