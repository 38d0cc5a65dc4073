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

// One thread-safe function per JS environment carries every finished job back to the JS thread
// (creating one per job costs a libuv handle each time, which is most of a small model's run).
// It keeps the event loop alive only while jobs are pending, like a per-job handle would.
struct ResultChannel {
  Tsfn tsfn;
  size_t pending = 0;
};

void KeepChannel(Napi::Env, ResultChannel*) {}

ResultChannel* ChannelFor(Napi::Env env) {
  auto* channel = env.GetInstanceData<ResultChannel>();
  if (!channel) {
    channel = new ResultChannel{Tsfn::New(env, "bitexact", 0, 1)};
    channel->tsfn.Unref(env);
    // Never freed: at teardown Node closes the function, and a job thread still finishing then
    // gets napi_closing from it instead of touching freed memory.
    env.SetInstanceData<ResultChannel, KeepChannel>(channel);
  }
  return channel;
}

void CallJs(Napi::Env env, Napi::Function, std::nullptr_t*, AsyncJob* job) {
  if (env != nullptr) {
    JobAccess::Settle(job, env);
    ResultChannel* channel = env.GetInstanceData<ResultChannel>();
    if (channel && --channel->pending == 0) channel->tsfn.Unref(env);
  }
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
  ResultChannel* channel = ChannelFor(env);
  if (channel->pending++ == 0) channel->tsfn.Ref(env);
  job->tsfn_ = &channel->tsfn;
  JobThreads::Instance().Post(job);
  return promise;
}

Napi::Promise AsyncJob::RunInline(Napi::Env env, AsyncJob* job) {
  Napi::Promise promise = job->deferred_.Promise();
  job->ExecuteCaught();
  job->Settle(env);
  delete job;
  return promise;
}

void AsyncJob::RunOnWorker() {
  ExecuteCaught();
  Tsfn* tsfn = static_cast<Tsfn*>(tsfn_);
  if (tsfn->BlockingCall(this) != napi_ok) delete this;  // the environment is shutting down
}

void AsyncJob::ExecuteCaught() {
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
