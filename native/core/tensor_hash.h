// Canonical tensor hashing (docs/determinism.md, "Hashing"): keccak256 over
//   dtype (1 byte, ONNX code) | rank (1 byte) | rank x dim (uint64 little-endian) | data (LE, row-major)
// and, for a set of named tensors, keccak256 over the name-sorted sequence of
//   uint32 LE byte length of the UTF-8 name | name bytes | 32-byte tensor hash.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "keccak.h"
#include "tensor.h"

namespace bx {

Hash32 hashTensor(const Tensor& tensor);
Hash32 hashTensorParts(DType dtype, const Shape& shape, const void* data, size_t byteLength);
Hash32 hashNamedTensors(std::vector<std::pair<std::string, Hash32>> entries);
// hashTensor of tensors[i] into out[i], four at a time on AVX2 CPUs (same results as one by one).
void hashTensorsX4(const Tensor* const tensors[4], Hash32 out[4]);
// The bytes hashTensorParts hashes, for four at a time (a batch's samples of one traced output).
struct TensorBytes {
  DType dtype;
  const Shape* shape;
  const uint8_t* data;
  size_t byteLength;
};
void hashTensorPartsX4(const TensorBytes parts[4], Hash32 out[4]);
std::string hashToHex(const Hash32& hash);  // 0x-prefixed lowercase

}  // namespace bx
