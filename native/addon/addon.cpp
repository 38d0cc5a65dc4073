// Registration only: the addon's exports. Arithmetic lives in native/core and native/cpu.
#include <napi.h>

#include "../cuda/cuda_backend.h"
#include "../core/merkle.h"
#include "../core/numerics.h"
#include "../core/onnx_model.h"
#include "../cpu/isa.h"
#include "../cpu/peak.h"
#include "../cpu/thread_pool.h"
#include "async_job.h"
#include "cancel_token.h"
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
  const std::vector<cpu::Isa> failed = cpu::failedSelfTestIsas();
  Napi::Array failedList = Napi::Array::New(env, failed.size());
  for (size_t i = 0; i < failed.size(); ++i) failedList.Set(uint32_t(i), cpu::isaName(failed[i]));
  o.Set("failedSelfTest", failedList);
  o.Set("defaultThreads", cpu::defaultThreadCount());
  const cuda::CudaStatus& status = cuda::status();
  Napi::Array backends = Napi::Array::New(env);
  backends.Set(0u, "cpu");
  if (!status.devices.empty()) backends.Set(1u, "cuda");
  o.Set("backends", backends);
  Napi::Object cuda = Napi::Object::New(env);
  cuda.Set("compiled", status.compiled);
  cuda.Set("runtimeVersion", status.runtimeVersion);
  cuda.Set("driverVersion", status.driverVersion);
  Napi::Array devices = Napi::Array::New(env, status.devices.size());
  for (size_t i = 0; i < status.devices.size(); ++i) {
    const cuda::CudaDeviceInfo& d = status.devices[i];
    Napi::Object device = Napi::Object::New(env);
    device.Set("index", d.index);
    device.Set("name", d.name);
    device.Set("computeCapability", std::to_string(d.major) + "." + std::to_string(d.minor));
    device.Set("memoryMB", double(d.memoryBytes >> 20));
    device.Set("multiprocessors", d.multiprocessors);
    devices.Set(uint32_t(i), device);
  }
  cuda.Set("devices", devices);
  cuda.Set("reason", status.devices.empty() ? status.reason : "");
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
    entries.emplace_back(o.Get("name").ToString().Utf8Value(), HashFromJs(env, o.Get("hash"), "hash"));
  }
  return HashToJs(env, hashNamedTensors(entries));
}

std::vector<Hash32> HashListFromJs(Napi::Env env, const Napi::Value& value, const char* label) {
  if (!value.IsArray()) throw MakeError(env, ErrorCode::Input, std::string("Expected an array of hashes for ") + label);
  Napi::Array list = value.As<Napi::Array>();
  std::vector<Hash32> out;
  for (uint32_t i = 0; i < list.Length(); ++i) out.push_back(HashFromJs(env, list.Get(i), label));
  return out;
}

size_t IndexFromJs(Napi::Env env, const Napi::Value& value, const char* label) {
  const double v = value.IsNumber() ? value.As<Napi::Number>().DoubleValue() : -1;
  if (!(v >= 0) || v != double(uint32_t(v))) throw MakeError(env, ErrorCode::Input, std::string(label) + " must be a non-negative integer");
  return size_t(v);
}

// traceLeaf(index, op, outputHash) -> "0x..." (sync)
Napi::Value TraceLeaf(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[1].IsString()) throw MakeError(env, ErrorCode::Input, "Expected (index, op, outputHash)");
  return HashToJs(env, traceLeafHash(uint32_t(IndexFromJs(env, info[0], "index")), info[1].As<Napi::String>().Utf8Value(),
                                     HashFromJs(env, info[2], "outputHash")));
}

// merkleRoot(leaves) -> "0x..." ; merkleProof(leaves, index) -> "0x..."[] (sync)
Napi::Value MerkleRoot(const Napi::CallbackInfo& info) {
  return HashToJs(info.Env(), merkleRoot(HashListFromJs(info.Env(), info[0], "leaves")));
}

Napi::Value MerkleProof(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::vector<Hash32> leaves = HashListFromJs(env, info[0], "leaves");
  const size_t index = IndexFromJs(env, info[1], "index");
  if (index >= leaves.size()) throw MakeError(env, ErrorCode::Input, "index " + std::to_string(index) + " is past the last leaf");
  const std::vector<Hash32> proof = merkleProof(leaves, index);
  Napi::Array out = Napi::Array::New(env, proof.size());
  for (size_t i = 0; i < proof.size(); ++i) out.Set(uint32_t(i), HashToJs(env, proof[i]));
  return out;
}

// verifyMerkleProof(leaf, index, leafCount, proof, root) -> boolean (sync)
Napi::Value VerifyMerkleProof(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 5) throw MakeError(env, ErrorCode::Input, "Expected (leaf, index, leafCount, proof, root)");
  return Napi::Boolean::New(env, verifyMerkleProof(HashFromJs(env, info[0], "leaf"), IndexFromJs(env, info[1], "index"),
                                                   IndexFromJs(env, info[2], "leafCount"), HashListFromJs(env, info[3], "proof"),
                                                   HashFromJs(env, info[4], "root")));
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

// int8Peak(isa, threads, seconds) -> int8 ops/s (sync, blocks for `seconds`: for the bench).
Napi::Value Int8Peak(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  cpu::Isa isa;
  if (info.Length() < 3 || !info[0].IsString() || !cpu::parseIsaName(info[0].As<Napi::String>().Utf8Value(), &isa)) {
    throw MakeError(env, ErrorCode::Input, "Expected (isa, threads, seconds)");
  }
  const size_t threads = IndexFromJs(env, info[1], "threads");
  const double seconds = info[2].IsNumber() ? info[2].As<Napi::Number>().DoubleValue() : -1;
  if (threads < 1 || threads > 1024 || !(seconds > 0 && seconds <= 60)) {
    throw MakeError(env, ErrorCode::Input, "threads must be 1-1024 and seconds in (0, 60]");
  }
  return Napi::Number::New(env, cpu::measureInt8Peak(isa, int(threads), seconds));
}

}  // namespace

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("AddonModel", AddonModel::Define(env));
  exports.Set("CancelToken", CancelToken::Define(env));
  exports.Set("loadModel", Napi::Function::New(env, AddonModel::LoadModel));
  exports.Set("info", Napi::Function::New(env, Info));
  exports.Set("keccak256", Napi::Function::New(env, Keccak));
  exports.Set("hashTensor", Napi::Function::New(env, HashTensor));
  exports.Set("hashNamed", Napi::Function::New(env, HashNamed));
  exports.Set("parseTensorProto", Napi::Function::New(env, ParseTensorProto));
  exports.Set("traceLeaf", Napi::Function::New(env, TraceLeaf));
  exports.Set("merkleRoot", Napi::Function::New(env, MerkleRoot));
  exports.Set("merkleProof", Napi::Function::New(env, MerkleProof));
  exports.Set("verifyMerkleProof", Napi::Function::New(env, VerifyMerkleProof));
  exports.Set("int8Peak", Napi::Function::New(env, Int8Peak));
  return exports;
}

}  // namespace bx::addon

static Napi::Object InitBitexact(Napi::Env env, Napi::Object exports) { return bx::addon::Init(env, exports); }
NODE_API_MODULE(bitexact, InitBitexact)
