#include "model_wrap.h"

#include <chrono>
#include <future>
#include <optional>

#include "../core/merkle.h"
#include "../cuda/cuda_backend.h"
#include "async_job.h"
#include "cancel_token.h"
#include "convert.h"
#include "hash_threads.h"

namespace bx::addon {
namespace {

Napi::FunctionReference* constructor = nullptr;

int64_t OptionalInt(const Napi::Object& o, const char* key, int64_t fallback) {
  Napi::Value v = o.Get(key);
  return v.IsNumber() ? v.As<Napi::Number>().Int64Value() : fallback;
}

Napi::Array SpecsToJs(Napi::Env env, const std::vector<TensorSpec>& specs) {
  Napi::Array a = Napi::Array::New(env, specs.size());
  for (size_t i = 0; i < specs.size(); ++i) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("name", specs[i].name);
    o.Set("dtype", dtypeName(specs[i].dtype));
    if (specs[i].hasShape) {
      Napi::Array shape = Napi::Array::New(env, specs[i].dims.size());
      for (size_t d = 0; d < specs[i].dims.size(); ++d) {
        if (specs[i].dims[d] >= 0) shape.Set(uint32_t(d), Napi::Number::New(env, double(specs[i].dims[d])));
        else shape.Set(uint32_t(d), Napi::String::New(env, specs[i].dimParams[d].empty() ? "?" : specs[i].dimParams[d]));
      }
      o.Set("shape", shape);
    } else {
      o.Set("shape", env.Null());
    }
    a.Set(uint32_t(i), o);
  }
  return a;
}

class LoadJob : public AsyncJob {
 public:
  LoadJob(Napi::Env env, std::vector<uint8_t> bytes, ModelOptions options, std::string backend, int device)
      : AsyncJob(env), bytes_(std::move(bytes)), options_(std::move(options)), backend_(std::move(backend)), device_(device) {}

 protected:
  void Execute() override {
    // 'cuda' insists on the device (ERR_BITEXACT_BACKEND naming why it is unusable); 'auto'
    // takes a usable GPU when there is one and the CPU otherwise.
    if (backend_ == "cuda" || (backend_ == "auto" && !cuda::status().devices.empty())) {
      deviceBackend_ = cuda::openDevice(device_);
    }
    model_ = CompiledModel::load(bytes_.data(), bytes_.size(), options_);
  }
  Napi::Value Result(Napi::Env env) override {
    Napi::Object wrapper = constructor->New({});
    AddonModel::Unwrap(wrapper)->Attach(model_, deviceBackend_);
    return wrapper;
  }

 private:
  friend class AddonModel;
  std::vector<uint8_t> bytes_;
  ModelOptions options_;
  std::string backend_;
  int device_;
  std::shared_ptr<CompiledModel> model_;
  std::shared_ptr<DeviceBackend> deviceBackend_;
};

// Inputs from this size up are hashed while the model runs (inputs are read-only): handing over
// costs tens of microseconds, hashing 32 KB about 0.1 ms.
constexpr size_t kConcurrentHashBytes = size_t(1) << 15;

// Hashes the inputs while the model runs. A CPU run with several compute threads hands the hash to
// its own pool: one worker hashes while the others, and the run's thread, take the model's loops,
// instead of a third thread competing for the same cores (on 2 cores that stalled every parallel
// loop behind a descheduled thread: MobileNetV2 batch 1 scaled 1.34x, 1.59x without the contention).
// A one-thread or device run leaves cores free: the shared hashing threads take it.
class ConcurrentInputHash {
 public:
  ConcurrentInputHash(std::function<Hash32()> hash, cpu::ThreadPool* pool) {
    if (pool && pool->threads() > 1) {
      task_ = pool->post([this, hash = std::move(hash)] { result_ = hash(); });
    } else {
      future_ = HashInBackground(std::move(hash));
    }
  }
  ConcurrentInputHash(const ConcurrentInputHash&) = delete;
  ConcurrentInputHash& operator=(const ConcurrentInputHash&) = delete;
  ~ConcurrentInputHash() {
    // Never leave a thread reading inputs that are about to be freed (errors included).
    try {
      if (task_) task_->wait();
      else if (future_.valid()) future_.wait();
    } catch (...) {
    }
  }
  Hash32 get() {
    if (task_) {
      task_->wait();
      task_.reset();
      return result_;
    }
    return future_.get();
  }

 private:
  std::shared_ptr<cpu::BackgroundTask> task_;
  std::future<Hash32> future_;
  Hash32 result_{};
};

class RunJob : public AsyncJob {
 public:
  RunJob(Napi::Env env, std::shared_ptr<CompiledModel> model, std::shared_ptr<DeviceBackend> device, std::vector<NamedTensor> inputs,
         RunOptions options, bool traced, std::shared_ptr<AddonModel::LastRun> lastRun)
      : AsyncJob(env), model_(std::move(model)), device_(std::move(device)), inputs_(std::move(inputs)), options_(options),
        traced_(traced), lastRun_(std::move(lastRun)) {}

 protected:
  void Execute() override {
    const auto start = std::chrono::steady_clock::now();
    const auto hashInputs = [this] {
      std::vector<std::pair<std::string, Hash32>> inputHashes;
      for (const NamedTensor& in : inputs_) inputHashes.emplace_back(in.name, hashTensor(in.tensor));
      return hashNamedTensors(inputHashes);
    };
    size_t inputBytes = 0;
    for (const NamedTensor& in : inputs_) inputBytes += in.tensor.byteSize();
    std::optional<ConcurrentInputHash> pendingInputHash;
    if (inputBytes >= kConcurrentHashBytes) pendingInputHash.emplace(hashInputs, device_ ? nullptr : &model_->pool());
    else inputHash_ = hashInputs();
    const auto runStart = std::chrono::steady_clock::now();
    outputs_ = device_ ? model_->runOnDevice(*device_, inputs_, options_, traced_ ? &trace_ : nullptr)
                       : model_->run(inputs_, options_, traced_ ? &trace_ : nullptr);
    const auto runEnd = std::chrono::steady_clock::now();
    if (pendingInputHash) inputHash_ = pendingInputHash->get();
    std::vector<std::pair<std::string, Hash32>> outputHashes;
    for (const NamedTensor& out : outputs_) {
      outputHashes.emplace_back(out.name, hashTensor(out.tensor));
      hashes_.push_back(outputHashes.back().second);
    }
    outputHash_ = hashNamedTensors(outputHashes);
    if (traced_) {
      // One Merkle tree per sample when the trace was hashed per sample (sample-major entries).
      const size_t samples = options_.traceSamples > 0 ? size_t(options_.traceSamples) : 1;
      const size_t perSample = trace_.size() / samples;
      for (size_t s = 0; s < samples; ++s) {
        std::vector<Hash32> leaves;
        for (size_t i = 0; i < perSample; ++i) leaves.push_back(trace_[s * perSample + i].leaf);
        traceRoots_.push_back(merkleRoot(leaves));
      }
    }
    const auto end = std::chrono::steady_clock::now();
    runMs_ = std::chrono::duration<double, std::milli>(runEnd - runStart).count();
    // Time spent hashing outside the run (a concurrent input hash overlaps runMs instead).
    hashMs_ = std::chrono::duration<double, std::milli>((runStart - start) + (end - runEnd)).count();
    lastRun_->ms.store(runMs_ + hashMs_);
    lastRun_->inputBytes.store(inputBytes);
    inputs_.clear();  // free the input copies before the JS thread picks the result up
  }

  Napi::Value Result(Napi::Env env) override {
    Napi::Object result = Napi::Object::New(env);
    Napi::Array outputs = Napi::Array::New(env, outputs_.size());
    for (size_t i = 0; i < outputs_.size(); ++i) {
      Napi::Object o = TensorToJs(env, outputs_[i].tensor);
      o.Set("name", outputs_[i].name);
      o.Set("hash", HashToJs(env, hashes_[i]));
      outputs.Set(uint32_t(i), o);
    }
    result.Set("outputs", outputs);
    result.Set("inputHash", HashToJs(env, inputHash_));
    result.Set("outputHash", HashToJs(env, outputHash_));
    if (traced_) {
      Napi::Array trace = Napi::Array::New(env, trace_.size());
      for (size_t i = 0; i < trace_.size(); ++i) {
        const TraceEntry& t = trace_[i];
        Napi::Object o = Napi::Object::New(env);
        o.Set("index", t.index);
        o.Set("node", t.node);
        o.Set("op", t.op);
        o.Set("dtype", dtypeName(t.dtype));
        o.Set("shape", ShapeToJs(env, t.shape));
        o.Set("hash", HashToJs(env, t.outputHash));
        o.Set("leaf", HashToJs(env, t.leaf));
        trace.Set(uint32_t(i), o);
      }
      result.Set("trace", trace);
      if (options_.traceSamples > 0) {
        Napi::Array roots = Napi::Array::New(env, traceRoots_.size());
        for (size_t i = 0; i < traceRoots_.size(); ++i) roots.Set(uint32_t(i), HashToJs(env, traceRoots_[i]));
        result.Set("traceRoots", roots);
      } else {
        result.Set("traceRoot", HashToJs(env, traceRoots_[0]));
      }
    }
    Napi::Object timings = Napi::Object::New(env);
    timings.Set("runMs", runMs_);
    timings.Set("hashMs", hashMs_);
    result.Set("timings", timings);
    return result;
  }

 private:
  std::shared_ptr<CompiledModel> model_;  // keeps the model alive even if disposed meanwhile
  std::shared_ptr<DeviceBackend> device_;  // null: the CPU
  std::vector<NamedTensor> inputs_;
  RunOptions options_;
  bool traced_;
  std::shared_ptr<AddonModel::LastRun> lastRun_;
  std::vector<TraceEntry> trace_;
  std::vector<Hash32> traceRoots_;
  std::vector<NamedTensor> outputs_;
  std::vector<Hash32> hashes_;
  Hash32 inputHash_{}, outputHash_{};
  double runMs_ = 0, hashMs_ = 0;
};

}  // namespace

Napi::Function AddonModel::Define(Napi::Env env) {
  Napi::Function fn = DefineClass(env, "AddonModel",
                                  {InstanceMethod("run", &AddonModel::Run), InstanceMethod("dispose", &AddonModel::Dispose),
                                   InstanceMethod("describe", &AddonModel::Describe)});
  constructor = new Napi::FunctionReference(Napi::Persistent(fn));
  return fn;
}

AddonModel::AddonModel(const Napi::CallbackInfo& info) : Napi::ObjectWrap<AddonModel>(info) {}

Napi::Value AddonModel::LoadModel(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsBuffer()) {
    throw MakeError(env, ErrorCode::Input, "Expected a Buffer for model bytes but received " +
                                               std::string(info.Length() < 1 ? "nothing" : "another type"));
  }
  Napi::Buffer<uint8_t> buffer = info[0].As<Napi::Buffer<uint8_t>>();
  ModelOptions options;
  std::string backend = "auto";
  int device = 0;
  if (info.Length() > 1 && info[1].IsObject()) {
    Napi::Object o = info[1].As<Napi::Object>();
    if (o.Get("isa").IsString()) options.isa = o.Get("isa").As<Napi::String>().Utf8Value();
    options.threads = int(OptionalInt(o, "threads", 0));
    options.maxMemoryBytes = OptionalInt(o, "maxMemoryBytes", options.maxMemoryBytes);
    if (o.Get("backend").IsString()) backend = o.Get("backend").As<Napi::String>().Utf8Value();
    if (backend != "auto" && backend != "cpu" && backend != "cuda") {
      throw MakeError(env, ErrorCode::Input, "backend must be 'auto', 'cpu' or 'cuda', not '" + backend + "'");
    }
    device = int(OptionalInt(o, "device", 0));
    if (device < 0) throw MakeError(env, ErrorCode::Input, "device must be a CUDA device index (0 or more)");
    if (o.Get("constants").IsArray()) {
      Napi::Array list = o.Get("constants").As<Napi::Array>();
      for (uint32_t i = 0; i < list.Length(); ++i) {
        Napi::Value item = list.Get(i);
        if (!item.IsObject() || !item.As<Napi::Object>().Get("name").IsString()) {
          throw MakeError(env, ErrorCode::Input, "constant " + std::to_string(i) + " needs a string name");
        }
        const std::string name = item.As<Napi::Object>().Get("name").As<Napi::String>().Utf8Value();
        options.constants.emplace_back(name, TensorFromJs(env, item, "constant '" + name + "'", options.maxMemoryBytes));
      }
    }
  }
  auto* job = new LoadJob(env, std::vector<uint8_t>(buffer.Data(), buffer.Data() + buffer.Length()), options, backend, device);
  return AsyncJob::Start(env, job);
}

Napi::Value AddonModel::Run(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!model_) throw MakeError(env, ErrorCode::Disposed, "the model has been disposed");
  if (info.Length() < 1 || !info[0].IsArray()) throw MakeError(env, ErrorCode::Input, "Expected an array of named input tensors");
  RunOptions options;
  bool traced = false;
  int64_t maxBytes = int64_t(4) << 30;
  if (info.Length() > 1 && info[1].IsObject()) {
    Napi::Object o = info[1].As<Napi::Object>();
    options.allowNonFinite = o.Get("allowNonFinite").ToBoolean();
    traced = o.Get("trace").ToBoolean();
    options.faultNode = OptionalInt(o, "testFaultNode", -1);
    options.traceSamples = OptionalInt(o, "traceSamples", 0);
    if (options.traceSamples < 0) throw MakeError(env, ErrorCode::Input, "traceSamples must be 0 or a positive batch size");
    maxBytes = OptionalInt(o, "maxMemoryBytes", maxBytes);
    if (!o.Get("cancel").IsUndefined()) {
      options.cancel = CancelToken::FlagOf(o.Get("cancel"));
      if (!options.cancel) throw MakeError(env, ErrorCode::Input, "Expected a CancelToken for the cancel option");
    }
  }
  Napi::Array list = info[0].As<Napi::Array>();
  std::vector<NamedTensor> inputs;
  for (uint32_t i = 0; i < list.Length(); ++i) {
    Napi::Value item = list.Get(i);
    if (!item.IsObject() || !item.As<Napi::Object>().Get("name").IsString()) {
      throw MakeError(env, ErrorCode::Input, "input " + std::to_string(i) + " needs a string name");
    }
    const std::string name = item.As<Napi::Object>().Get("name").As<Napi::String>().Utf8Value();
    inputs.push_back({name, TensorFromJs(env, item, "input '" + name + "'", maxBytes)});
  }
  // A run of a tiny model (DS-CNN: ~0.1 ms) costs about as much again in the hand-off to a job
  // thread and back as in the engine. Where the model's last run took under kInlineRunMs and
  // this one's input is not much larger, it runs here on the JS thread instead (the event loop
  // waits that long) and its Promise comes back settled. Runs that can be cancelled, and device
  // runs, always go to a job thread.
  constexpr double kInlineRunMs = 0.5;
  size_t inputBytes = 0;
  for (const NamedTensor& in : inputs) inputBytes += in.tensor.byteSize();
  const bool runInline = !device_ && !options.cancel && lastRun_->ms.load() < kInlineRunMs &&
                         inputBytes <= 2 * lastRun_->inputBytes.load();
  auto* job = new RunJob(env, model_, device_, std::move(inputs), options, traced, lastRun_);
  return runInline ? AsyncJob::RunInline(env, job) : AsyncJob::Start(env, job);
}

Napi::Value AddonModel::Dispose(const Napi::CallbackInfo& info) {
  model_.reset();
  device_.reset();
  return info.Env().Undefined();
}

Napi::Value AddonModel::Describe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!model_) throw MakeError(env, ErrorCode::Disposed, "the model has been disposed");
  Napi::Object o = Napi::Object::New(env);
  o.Set("inputs", SpecsToJs(env, model_->inputs()));
  o.Set("outputs", SpecsToJs(env, model_->outputs()));
  o.Set("modelHash", HashToJs(env, model_->modelHash()));
  o.Set("isa", cpu::isaName(model_->isa()));
  o.Set("threads", model_->threads());
  o.Set("steps", double(model_->stepCount()));
  o.Set("backend", device_ ? "cuda" : "cpu");
  if (device_) o.Set("device", device_->name());
  return o;
}

}  // namespace bx::addon
