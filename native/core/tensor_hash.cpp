#include "tensor_hash.h"

#include <algorithm>

namespace bx {

Hash32 hashTensorParts(DType dtype, const Shape& shape, const void* data, size_t byteLength) {
  if (shape.size() > 255) fail(ErrorCode::Input, "tensor rank above 255 cannot be hashed");
  std::vector<uint8_t> header;
  header.reserve(2 + 8 * shape.size());
  header.push_back(uint8_t(dtype));
  header.push_back(uint8_t(shape.size()));
  for (int64_t dim : shape) {
    const uint64_t d = uint64_t(dim);
    for (int i = 0; i < 8; ++i) header.push_back(uint8_t(d >> (8 * i)));
  }
  Keccak256 h;
  h.update(header.data(), header.size());
  h.update(data, byteLength);
  return h.finish();
}

Hash32 hashTensor(const Tensor& tensor) {
  return hashTensorParts(tensor.dtype, tensor.shape, tensor.bytes(), tensor.byteSize());
}

Hash32 hashNamedTensors(std::vector<std::pair<std::string, Hash32>> entries) {
  std::sort(entries.begin(), entries.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });  // bytewise order
  Keccak256 h;
  for (const auto& [name, hash] : entries) {
    const uint32_t n = uint32_t(name.size());
    const uint8_t length[4] = {uint8_t(n), uint8_t(n >> 8), uint8_t(n >> 16), uint8_t(n >> 24)};
    h.update(length, 4);
    h.update(name.data(), name.size());
    h.update(hash.data(), hash.size());
  }
  return h.finish();
}

std::string hashToHex(const Hash32& hash) {
  static const char digits[] = "0123456789abcdef";
  std::string s = "0x";
  for (uint8_t b : hash) {
    s.push_back(digits[b >> 4]);
    s.push_back(digits[b & 15]);
  }
  return s;
}

}  // namespace bx
