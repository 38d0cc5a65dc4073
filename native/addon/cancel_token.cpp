#include "cancel_token.h"

namespace bx::addon {
namespace {
Napi::FunctionReference* constructor = nullptr;
}

Napi::Function CancelToken::Define(Napi::Env env) {
  Napi::Function fn = DefineClass(env, "CancelToken",
                                  {InstanceMethod("cancel", &CancelToken::Cancel),
                                   InstanceAccessor("cancelled", &CancelToken::IsCancelled, nullptr)});
  constructor = new Napi::FunctionReference(Napi::Persistent(fn));
  return fn;
}

CancelToken::CancelToken(const Napi::CallbackInfo& info) : Napi::ObjectWrap<CancelToken>(info) {}

std::shared_ptr<std::atomic<bool>> CancelToken::FlagOf(Napi::Value value) {
  if (!constructor || !value.IsObject()) return nullptr;
  Napi::Object o = value.As<Napi::Object>();
  if (!o.InstanceOf(constructor->Value())) return nullptr;
  return Unwrap(o)->flag_;
}

Napi::Value CancelToken::Cancel(const Napi::CallbackInfo& info) {
  flag_->store(true, std::memory_order_relaxed);
  return info.Env().Undefined();
}

Napi::Value CancelToken::IsCancelled(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), flag_->load(std::memory_order_relaxed));
}

}  // namespace bx::addon
