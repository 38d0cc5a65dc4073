#include "tensor_hash.h"

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "keccak_x4.h"

namespace bx {

namespace {

std::vector<uint8_t> canonicalHeader(DType dtype, const Shape& shape) {
  if (shape.size() > 255) fail(ErrorCode::Input, "tensor rank above 255 cannot be hashed");
  std::vector<uint8_t> header;
  header.reserve(2 + 8 * shape.size());
  header.push_back(uint8_t(dtype));
  header.push_back(uint8_t(shape.size()));
  for (int64_t dim : shape) {
    const uint64_t d = uint64_t(dim);
    for (int i = 0; i < 8; ++i) header.push_back(uint8_t(d >> (8 * i)));
  }
  return header;
}

}  // namespace

void hashTensorsX4(const Tensor* const tensors[4], Hash32 out[4]) {
  TensorBytes parts[4];
  for (int j = 0; j < 4; ++j) parts[j] = {tensors[j]->dtype, &tensors[j]->shape, tensors[j]->bytes(), tensors[j]->byteSize()};
  hashTensorPartsX4(parts, out);
}

void hashTensorPartsX4(const TensorBytes parts[4], Hash32 out[4]) {
  std::vector<uint8_t> headers[4];
  size_t common = SIZE_MAX;
  for (int j = 0; j < 4; ++j) {
    headers[j] = canonicalHeader(parts[j].dtype, *parts[j].shape);
    common = std::min(common, (headers[j].size() + parts[j].byteLength) / kKeccakRate);
  }
  if (!keccakUseAvx2() || common == 0) {
    for (int j = 0; j < 4; ++j) out[j] = hashTensorParts(parts[j].dtype, *parts[j].shape, parts[j].data, parts[j].byteLength);
    return;
  }
  // Message j is header_j followed by data_j; a block may straddle the two.
  const auto copyRange = [&](int j, size_t from, size_t count, uint8_t* dst) {
    const size_t h = headers[j].size();
    if (from < h) {
      const size_t n = std::min(count, h - from);
      std::memcpy(dst, headers[j].data() + from, n);
      dst += n;
      from += n;
      count -= n;
    }
    if (count) std::memcpy(dst, parts[j].data + (from - h), count);
  };
  uint64_t states[4][25];
  const auto writeBlock = [](void* context, int j, size_t b, uint8_t* dst) {
    (*static_cast<decltype(copyRange)*>(context))(j, b * kKeccakRate, kKeccakRate, dst);
  };
  keccakAbsorbX4Avx2(common, writeBlock, const_cast<void*>(static_cast<const void*>(&copyRange)), states);
  for (int j = 0; j < 4; ++j) {
    Keccak256 h(states[j]);
    const size_t from = common * kKeccakRate, headerLength = headers[j].size();
    if (from < headerLength) h.update(headers[j].data() + from, headerLength - from);
    const size_t dataFrom = from > headerLength ? from - headerLength : 0;
    h.update(parts[j].data + dataFrom, parts[j].byteLength - dataFrom);
    out[j] = h.finish();
  }
}

Hash32 hashTensorParts(DType dtype, const Shape& shape, const void* data, size_t byteLength) {
  const std::vector<uint8_t> header = canonicalHeader(dtype, shape);
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
