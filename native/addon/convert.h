// Conversions between JS values and core tensors. Every length read from JS is re-checked here
// against the length computed from dtype and shape; nothing is trusted.
#pragma once

#include <napi.h>

#include "../core/tensor.h"
#include "../core/tensor_hash.h"

namespace bx::addon {

// {dtype: string, shape: number[], data: TypedArray | Buffer} -> Tensor (bytes copied).
// maxBytes bounds the copy; violations throw MakeError(ERR_BITEXACT_INPUT / _RESOURCE).
Tensor TensorFromJs(Napi::Env env, const Napi::Value& value, const std::string& label, int64_t maxBytes);
// {dtype, shape, data: Buffer}
Napi::Object TensorToJs(Napi::Env env, const Tensor& tensor);
Napi::Array ShapeToJs(Napi::Env env, const Shape& shape);
Napi::String HashToJs(Napi::Env env, const Hash32& hash);
// "0x" + 64 hex digits -> Hash32; ERR_BITEXACT_INPUT naming `label` otherwise.
Hash32 HashFromJs(Napi::Env env, const Napi::Value& value, const std::string& label);

}  // namespace bx::addon
