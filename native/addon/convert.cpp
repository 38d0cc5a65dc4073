#include "convert.h"

#include <cmath>
#include <cstring>

#include "async_job.h"

namespace bx::addon {

Tensor TensorFromJs(Napi::Env env, const Napi::Value& value, const std::string& label, int64_t maxBytes) {
  const auto bad = [&](const std::string& why) { throw MakeError(env, ErrorCode::Input, label + ": " + why); };
  if (!value.IsObject()) bad("expected an object {dtype, shape, data}");
  Napi::Object obj = value.As<Napi::Object>();
  Napi::Value dtypeValue = obj.Get("dtype");
  if (!dtypeValue.IsString()) bad("dtype must be a string");
  DType dtype;
  if (!parseDTypeName(dtypeValue.As<Napi::String>().Utf8Value(), &dtype)) {
    bad("unknown dtype '" + dtypeValue.As<Napi::String>().Utf8Value() + "'");
  }
  Napi::Value shapeValue = obj.Get("shape");
  if (!shapeValue.IsArray()) bad("shape must be an array of non-negative integers");
  Napi::Array shapeArray = shapeValue.As<Napi::Array>();
  Shape shape;
  for (uint32_t i = 0; i < shapeArray.Length(); ++i) {
    Napi::Value d = shapeArray.Get(i);
    const double v = d.IsNumber() ? d.As<Napi::Number>().DoubleValue() : -1;
    if (!(v >= 0) || v != std::floor(v) || v > 9007199254740991.0) bad("shape must be an array of non-negative integers");
    shape.push_back(int64_t(v));
  }
  if (shape.size() > 255) bad("rank above 255");
  int64_t count;
  try {
    count = elementCount(shape);
  } catch (const Error& e) {
    throw MakeError(env, e.code(), label + ": " + e.what());
  }
  const int64_t bytes = count * int64_t(dtypeSize(dtype));
  if (bytes > maxBytes) {
    throw MakeError(env, ErrorCode::Resource, label + ": shape " + shapeToString(shape) + " needs " + std::to_string(bytes) +
                                                  " bytes, over the memory cap of " + std::to_string(maxBytes));
  }
  Napi::Value data = obj.Get("data");
  const uint8_t* src = nullptr;
  size_t length = 0;
  if (data.IsTypedArray()) {
    Napi::TypedArray ta = data.As<Napi::TypedArray>();
    src = static_cast<const uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset();
    length = ta.ByteLength();
  } else if (data.IsArrayBuffer()) {
    Napi::ArrayBuffer ab = data.As<Napi::ArrayBuffer>();
    src = static_cast<const uint8_t*>(ab.Data());
    length = ab.ByteLength();
  } else if (data.IsDataView()) {
    Napi::DataView dv = data.As<Napi::DataView>();
    src = static_cast<const uint8_t*>(dv.ArrayBuffer().Data()) + dv.ByteOffset();
    length = dv.ByteLength();
  } else {
    bad("data must be a TypedArray, Buffer or ArrayBuffer");
  }
  if (int64_t(length) != bytes) {
    bad("data holds " + std::to_string(length) + " bytes but " + dtypeName(dtype) + " " + shapeToString(shape) + " needs " +
        std::to_string(bytes));
  }
  Tensor t = makeTensor(dtype, shape);
  if (length) std::memcpy(t.buffer->data(), src, length);
  return t;
}

Napi::Array ShapeToJs(Napi::Env env, const Shape& shape) {
  Napi::Array a = Napi::Array::New(env, shape.size());
  for (size_t i = 0; i < shape.size(); ++i) a.Set(uint32_t(i), Napi::Number::New(env, double(shape[i])));
  return a;
}

Napi::Object TensorToJs(Napi::Env env, const Tensor& tensor) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("dtype", Napi::String::New(env, dtypeName(tensor.dtype)));
  o.Set("shape", ShapeToJs(env, tensor.shape));
  o.Set("data", Napi::Buffer<uint8_t>::Copy(env, tensor.bytes(), tensor.byteSize()));
  return o;
}

Napi::String HashToJs(Napi::Env env, const Hash32& hash) { return Napi::String::New(env, hashToHex(hash)); }

Hash32 HashFromJs(Napi::Env env, const Napi::Value& value, const std::string& label) {
  const auto bad = [&]() { return MakeError(env, ErrorCode::Input, label + " must be 0x followed by 64 hex digits"); };
  if (!value.IsString()) throw bad();
  const std::string hex = value.As<Napi::String>().Utf8Value();
  if (hex.size() != 66 || hex[0] != '0' || (hex[1] != 'x' && hex[1] != 'X')) throw bad();
  const auto nibble = [&](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    throw bad();
  };
  Hash32 h;
  for (size_t b = 0; b < 32; ++b) h[b] = uint8_t(nibble(hex[2 + 2 * b]) * 16 + nibble(hex[3 + 2 * b]));
  return h;
}

}  // namespace bx::addon
