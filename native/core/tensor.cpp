#include "tensor.h"

#include <sstream>

namespace bx {

bool isKnownDType(int code) {
  switch (code) {
    case 1: case 2: case 3: case 4: case 5: case 6: case 7: case 9: return true;
    default: return false;
  }
}

size_t dtypeSize(DType dtype) {
  switch (dtype) {
    case DType::Float32: return 4;
    case DType::UInt8: return 1;
    case DType::Int8: return 1;
    case DType::UInt16: return 2;
    case DType::Int16: return 2;
    case DType::Int32: return 4;
    case DType::Int64: return 8;
    case DType::Bool: return 1;
  }
  return 1;
}

const char* dtypeName(DType dtype) {
  switch (dtype) {
    case DType::Float32: return "float32";
    case DType::UInt8: return "uint8";
    case DType::Int8: return "int8";
    case DType::UInt16: return "uint16";
    case DType::Int16: return "int16";
    case DType::Int32: return "int32";
    case DType::Int64: return "int64";
    case DType::Bool: return "bool";
  }
  return "unknown";
}

bool parseDTypeName(const std::string& name, DType* out) {
  static const DType all[] = {DType::Float32, DType::UInt8, DType::Int8, DType::UInt16,
                              DType::Int16, DType::Int32, DType::Int64, DType::Bool};
  for (DType d : all) {
    if (name == dtypeName(d)) { *out = d; return true; }
  }
  return false;
}

std::string shapeToString(const Shape& shape) {
  std::ostringstream s;
  s << "[";
  for (size_t i = 0; i < shape.size(); ++i) s << (i ? "," : "") << shape[i];
  s << "]";
  return s.str();
}

int64_t elementCount(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) fail(ErrorCode::Input, "negative dimension in shape " + shapeToString(shape));
    if (d != 0 && n > (int64_t(1) << 50) / d) fail(ErrorCode::Resource, "shape " + shapeToString(shape) + " has too many elements");
    n *= d;
  }
  return n;
}

int64_t Tensor::intAt(int64_t i) const {
  switch (dtype) {
    case DType::UInt8: return data<uint8_t>()[i];
    case DType::Int8: return data<int8_t>()[i];
    case DType::UInt16: return data<uint16_t>()[i];
    case DType::Int16: return data<int16_t>()[i];
    case DType::Int32: return data<int32_t>()[i];
    case DType::Int64: return data<int64_t>()[i];
    case DType::Bool: return data<uint8_t>()[i] ? 1 : 0;
    case DType::Float32: break;
  }
  fail(ErrorCode::Internal, "intAt on a float tensor");
}

float Tensor::floatAt(int64_t i) const {
  if (dtype != DType::Float32) fail(ErrorCode::Internal, "floatAt on a non-float tensor");
  return data<float>()[i];
}

Tensor makeTensor(DType dtype, const Shape& shape) {
  Tensor t;
  t.dtype = dtype;
  t.shape = shape;
  t.buffer = std::make_shared<ByteBuffer>(size_t(elementCount(shape)) * dtypeSize(dtype), uint8_t(0));
  return t;
}

Tensor reshapeView(const Tensor& source, const Shape& shape) {
  if (elementCount(shape) != source.size()) {
    fail(ErrorCode::Input, "cannot reshape " + shapeToString(source.shape) + " to " + shapeToString(shape));
  }
  Tensor t = source;
  t.shape = shape;
  return t;
}

}  // namespace bx
