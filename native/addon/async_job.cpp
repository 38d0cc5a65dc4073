#include "async_job.h"

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

namespace bx::addon {

struct JobAccess {
  static void Run(AsyncJob* job) { job->RunOnWorker(); }
  static void Settle(AsyncJob* job, Napi::Env env) { job->Settle(env); }
};

namespace {

void CallJs(Napi::Env env, Napi::Function, std::nullptr_t*, AsyncJob* job);
using Tsfn = Napi::TypedThreadSafeFunction<std::nullptr_t, AsyncJob, CallJs>;

void CallJs(Napi::Env env, Napi::Function, std::nullptr_t*, AsyncJob* job) {
  if (env != nullptr) JobAccess::Settle(job, env);
  delete job;
}

// A small fixed set of job threads. Each run mostly waits on the compute pool, so a few job
// threads let concurrent runs overlap without oversubscribing the cores.
class JobThreads {
 public:
  static JobThreads& Instance() {
    static JobThreads* instance = new JobThreads();  // never destroyed: threads outlive statics
    return *instance;
  }

  void Post(AsyncJob* job) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      queue_.push_back(job);
    }
    wake_.notify_one();
  }

 private:
  JobThreads() {
    const unsigned cores = std::thread::hardware_concurrency();
    const unsigned count = cores < 4 ? 4 : cores;
    for (unsigned i = 0; i < count; ++i) std::thread([this] { Loop(); }).detach();
  }

  void Loop() {
    for (;;) {
      AsyncJob* job;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [this] { return !queue_.empty(); });
        job = queue_.front();
        queue_.pop_front();
      }
      JobAccess::Run(job);
    }
  }

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<AsyncJob*> queue_;
};

}  // namespace

Napi::Error MakeError(Napi::Env env, ErrorCode code, const std::string& message) {
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("code", Napi::String::New(env, errorCodeName(code)));
  return error;
}

Napi::Promise AsyncJob::Start(Napi::Env env, AsyncJob* job) {
  Napi::Promise promise = job->deferred_.Promise();
  Tsfn* tsfn = new Tsfn(Tsfn::New(env, "bitexact", 0, 1));
  job->tsfn_ = tsfn;
  JobThreads::Instance().Post(job);
  return promise;
}

void AsyncJob::RunOnWorker() {
  try {
    Execute();
  } catch (const Error& e) {
    failed_ = true;
    code_ = e.code();
    message_ = e.what();
  } catch (const std::bad_alloc&) {
    failed_ = true;
    code_ = ErrorCode::Resource;
    message_ = "out of memory";
  } catch (const std::exception& e) {
    failed_ = true;
    code_ = ErrorCode::Internal;
    message_ = e.what();
  }
  Tsfn* tsfn = static_cast<Tsfn*>(tsfn_);
  if (tsfn->BlockingCall(this) != napi_ok) delete this;  // the environment is shutting down
  tsfn->Release();
  delete tsfn;
}

void AsyncJob::Settle(Napi::Env env) {
  Napi::HandleScope scope(env);
  if (failed_) {
    deferred_.Reject(MakeError(env, code_, message_).Value());
    return;
  }
  try {
    deferred_.Resolve(Result(env));
  } catch (const Napi::Error& e) {
    deferred_.Reject(e.Value());
  } catch (const Error& e) {
    deferred_.Reject(MakeError(env, e.code(), e.what()).Value());
  }
}

}  // namespace bx::addon
