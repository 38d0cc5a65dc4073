// AddonModel: the JS object wrapping a CompiledModel.
//   loadModel(bytes: Buffer, options) -> Promise<AddonModel>        (async, addon thread;
//                                                                     options.backend, options.device)
//   model.run(inputs: NamedTensor[], options) -> Promise<RunResult>  (async, addon thread;
//                                                                     options.cancel: CancelToken;
//                                                                     tiny runs inline, see Run)
//   model.dispose() -> void                                          (sync; runs in flight keep
//                                                                     the model alive until done)
//   model.describe() -> {inputs, outputs, modelHash, isa, threads, backend, device?} (sync)
// Throws/rejects with Error.code = ERR_BITEXACT_*.
#pragma once

#include <napi.h>

#include <atomic>
#include <memory>

#include "../core/graph.h"

namespace bx::addon {

class AddonModel : public Napi::ObjectWrap<AddonModel> {
 public:
  static Napi::Function Define(Napi::Env env);
  static Napi::Value LoadModel(const Napi::CallbackInfo& info);
  explicit AddonModel(const Napi::CallbackInfo& info);
  // device: the backend runs go to, or null for the CPU.
  void Attach(std::shared_ptr<CompiledModel> model, std::shared_ptr<DeviceBackend> device) {
    model_ = std::move(model);
    device_ = std::move(device);
  }

  // What the model's last run cost (written by the job that ran it), for the inline decision.
  struct LastRun {
    std::atomic<double> ms{1e300};  // engine and hashing; no run yet: unknown
    std::atomic<size_t> inputBytes{0};
  };

 private:
  Napi::Value Run(const Napi::CallbackInfo& info);
  Napi::Value Dispose(const Napi::CallbackInfo& info);
  Napi::Value Describe(const Napi::CallbackInfo& info);

  std::shared_ptr<CompiledModel> model_;
  std::shared_ptr<DeviceBackend> device_;
  std::shared_ptr<LastRun> lastRun_ = std::make_shared<LastRun>();
};

}  // namespace bx::addon
