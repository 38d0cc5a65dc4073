// CancelToken: a flag JS sets to stop a run between nodes.
//   const t = new CancelToken(); model.run(inputs, { cancel: t }); t.cancel();
// The flag is owned by native code (shared with every run that holds it), so a run on a worker
// thread never reads JS memory, whatever the garbage collector does with the token meanwhile.
#pragma once

#include <napi.h>

#include <atomic>
#include <memory>

namespace bx::addon {

class CancelToken : public Napi::ObjectWrap<CancelToken> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit CancelToken(const Napi::CallbackInfo& info);
  // The flag of a JS value that is a CancelToken, else null.
  static std::shared_ptr<std::atomic<bool>> FlagOf(Napi::Value value);

 private:
  Napi::Value Cancel(const Napi::CallbackInfo& info);
  Napi::Value IsCancelled(const Napi::CallbackInfo& info);

  std::shared_ptr<std::atomic<bool>> flag_ = std::make_shared<std::atomic<bool>>(false);
};

}  // namespace bx::addon
