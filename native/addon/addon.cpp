// Registration only: the addon's exports. Arithmetic lives in native/core and native/cpu.
#include <napi.h>

#include "../core/numerics.h"
#include "../core/onnx_model.h"
#include "../cpu/isa.h"
#include "../cpu/thread_pool.h"
#include "async_job.h"
#include "convert.h"
#include "model_wrap.h"

namespace bx::addon {
namespace {

// info() -> {specVersion, isas: string[], bestIsa, defaultThreads, backends: string[], cuda}
Napi::Value Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("specVersion", kSpecVersion);
  const std::vector<cpu::Isa> isas = cpu::supportedIsas();
  Napi::Array list = Napi::Array::New(env, isas.size());
  for (size_t i = 0; i < isas.size(); ++i) list.Set(uint32_t(i), cpu::isaName(isas[i]));
  o.Set("isas", list);
  o.Set("bestIsa", cpu::isaName(cpu::bestIsa()));
  o.Set("defaultThreads", cpu::defaultThreadCount());
  Napi::Array backends = Napi::Array::New(env, 1);
  backends.Set(0u, "cpu");
  o.Set("backends", backends);
  Napi::Object cuda = Napi::Object::New(env);
  cuda.Set("compiled", false);
  cuda.Set("devices", Napi::Array::New(env, 0));
  cuda.Set("reason", "this build has no CUDA backend");
  o.Set("cuda", cuda);
  return o;
}

// keccak256(data: Buffer | Uint8Array) -> "0x..." (sync)
Napi::Value Keccak(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsTypedArray()) throw MakeError(env, ErrorCode::Input, "Expected a Uint8Array for data");
  Napi::TypedArray ta = info[0].As<Napi::TypedArray>();
  const uint8_t* data = static_cast<const uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset();
  return HashToJs(env, keccak256(data, ta.ByteLength()));
}

// hashTensor({dtype, shape, data}) -> "0x..." (sync): the canonical tensor hash.
Napi::Value HashTensor(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1) throw MakeError(env, ErrorCode::Input, "Expected a tensor {dtype, shape, data}");
  const Tensor t = TensorFromJs(env, info[0], "tensor", int64_t(1) << 40);
  return HashToJs(env, hashTensor(t));
}

// hashNamed([{name, hash}]) -> "0x..." (sync): hash of a set of named tensor hashes.
Napi::Value HashNamed(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsArray()) throw MakeError(env, ErrorCode::Input, "Expected an array of {name, hash}");
  Napi::Array list = info[0].As<Napi::Array>();
  std::vector<std::pair<std::string, Hash32>> entries;
  for (uint32_t i = 0; i < list.Length(); ++i) {
    Napi::Object o = list.Get(i).As<Napi::Object>();
    const std::string hex = o.Get("hash").ToString().Utf8Value();
    if (hex.size() != 66 || hex[0] != '0' || hex[1] != 'x') throw MakeError(env, ErrorCode::Input, "hash must be 0x + 64 hex digits");
    Hash32 h;
    for (size_t b = 0; b < 32; ++b) {
      const auto nibble = [&](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        throw MakeError(env, ErrorCode::Input, "hash must be 0x + 64 hex digits");
      };
      h[b] = uint8_t(nibble(hex[2 + 2 * b]) * 16 + nibble(hex[3 + 2 * b]));
    }
    entries.emplace_back(o.Get("name").ToString().Utf8Value(), h);
  }
  return HashToJs(env, hashNamedTensors(entries));
}

// parseTensorProto(bytes) -> {name, dtype, shape, data} (sync): an ONNX TensorProto (.pb).
Napi::Value ParseTensorProto(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsBuffer()) throw MakeError(env, ErrorCode::Input, "Expected a Buffer");
  Napi::Buffer<uint8_t> b = info[0].As<Napi::Buffer<uint8_t>>();
  std::string name;
  try {
    const Tensor t = onnx::parseTensor(b.Data(), b.Length(), &name);
    Napi::Object o = TensorToJs(env, t);
    o.Set("name", name);
    return o;
  } catch (const Error& e) {
    throw MakeError(env, ErrorCode::Input, std::string("not a valid ONNX TensorProto: ") + e.what());
  }
}

}  // namespace

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("AddonModel", AddonModel::Define(env));
  exports.Set("loadModel", Napi::Function::New(env, AddonModel::LoadModel));
  exports.Set("info", Napi::Function::New(env, Info));
  exports.Set("keccak256", Napi::Function::New(env, Keccak));
  exports.Set("hashTensor", Napi::Function::New(env, HashTensor));
  exports.Set("hashNamed", Napi::Function::New(env, HashNamed));
  exports.Set("parseTensorProto", Napi::Function::New(env, ParseTensorProto));
  return exports;
}

}  // namespace bx::addon

static Napi::Object InitBitexact(Napi::Env env, Napi::Object exports) { return bx::addon::Init(env, exports); }
NODE_API_MODULE(bitexact, InitBitexact)
