// Execution traces commit to every executed node's output in a binary Merkle tree
// (docs/receipts.md):
//   leaf  = keccak256(uint32_be(node index) ‖ keccak256(op type, UTF-8) ‖ output hash)
//   inner = keccak256(left ‖ right); a level with an odd count carries its last node up unchanged
//   root of no leaves = keccak256 of the empty string
// The encodings match Solidity's abi.encodePacked, so a contract can check a proof.
#pragma once

#include <string>
#include <vector>

#include "keccak.h"

namespace bx {

Hash32 traceLeafHash(uint32_t index, const std::string& opType, const Hash32& outputHash);
Hash32 merkleRoot(const std::vector<Hash32>& leaves);
// Sibling hashes from the leaf's level upwards; levels where the node was carried up add none.
std::vector<Hash32> merkleProof(const std::vector<Hash32>& leaves, size_t index);
bool verifyMerkleProof(const Hash32& leaf, size_t index, size_t leafCount, const std::vector<Hash32>& proof, const Hash32& root);

}  // namespace bx
