// Tensors: an element type, a shape and a shared byte buffer (so Reshape and friends never copy).
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "errors.h"

namespace bx {

// Values are the ONNX TensorProto.DataType codes; they are also the dtype byte of the canonical
// hash encoding, so they must never be renumbered.
enum class DType : uint8_t {
  Float32 = 1,
  UInt8 = 2,
  Int8 = 3,
  UInt16 = 4,
  Int16 = 5,
  Int32 = 6,
  Int64 = 7,
  Bool = 9,
};

bool isKnownDType(int code);
size_t dtypeSize(DType dtype);
const char* dtypeName(DType dtype);  // "float32", "uint8", ...
bool parseDTypeName(const std::string& name, DType* out);

using Shape = std::vector<int64_t>;
std::string shapeToString(const Shape& shape);
// Element count; throws ERR_BITEXACT_INPUT on a negative dim or an overflowing product.
int64_t elementCount(const Shape& shape);

// std::allocator, except that resize and the size constructor leave new bytes uninitialised
// (value-initialised only when a fill value is given): a kernel that writes every element of its
// output should not pay for zeroing it first.
template <typename T>
struct DefaultInitAllocator : std::allocator<T> {
  template <typename U> struct rebind { using other = DefaultInitAllocator<U>; };
  DefaultInitAllocator() = default;
  template <typename U> DefaultInitAllocator(const DefaultInitAllocator<U>&) noexcept {}
  template <typename U> void construct(U* p) noexcept { ::new (static_cast<void*>(p)) U; }
  template <typename U, typename... Args> void construct(U* p, Args&&... args) { ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...); }
};
using ByteBuffer = std::vector<uint8_t, DefaultInitAllocator<uint8_t>>;

struct Tensor {
  DType dtype = DType::Float32;
  Shape shape;
  std::shared_ptr<ByteBuffer> buffer;

  int64_t size() const { return elementCount(shape); }
  size_t byteSize() const { return size_t(size()) * dtypeSize(dtype); }
  template <typename T> const T* data() const { return reinterpret_cast<const T*>(buffer->data()); }
  template <typename T> T* mutableData() { return reinterpret_cast<T*>(buffer->data()); }
  const uint8_t* bytes() const { return buffer->data(); }
  // Element i widened to int64 (integer types only); for constants read at load time.
  int64_t intAt(int64_t i) const;
  float floatAt(int64_t i) const;
};

// Allocates a zero-filled tensor. The caller checks the memory cap first (see MemoryBudget).
Tensor makeTensor(DType dtype, const Shape& shape);
// Same bytes, new shape (element counts must match).
Tensor reshapeView(const Tensor& source, const Shape& shape);

}  // namespace bx
