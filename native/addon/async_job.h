// Runs work on the addon's own threads (not libuv's four) and settles a Promise on the JS thread.
// Execute() runs off the JS thread and must not touch N-API; errors are caught there and turned
// into a rejected Promise with a stable code, never thrown across threads.
#pragma once

#include <napi.h>

#include <string>

#include "../core/errors.h"

namespace bx::addon {

class AsyncJob {
 public:
  explicit AsyncJob(Napi::Env env) : deferred_(Napi::Promise::Deferred::New(env)) {}
  virtual ~AsyncJob() = default;

  // Queues the job; returns the Promise it will settle.
  static Napi::Promise Start(Napi::Env env, AsyncJob* job);
  // Runs the job here, on the JS thread, and returns its Promise already settled (no hand-off
  // to a job thread and back: most of a tiny model's run).
  static Napi::Promise RunInline(Napi::Env env, AsyncJob* job);

 protected:
  virtual void Execute() = 0;                       // worker thread
  virtual Napi::Value Result(Napi::Env env) = 0;    // JS thread, after a successful Execute

 private:
  friend struct JobAccess;
  void RunOnWorker();
  void ExecuteCaught();
  void Settle(Napi::Env env);

  Napi::Promise::Deferred deferred_;
  bool failed_ = false;
  ErrorCode code_ = ErrorCode::Internal;
  std::string message_;
  void* tsfn_ = nullptr;
};

// A JS Error with `code` set to the stable ERR_BITEXACT_* name.
Napi::Error MakeError(Napi::Env env, ErrorCode code, const std::string& message);

}  // namespace bx::addon
