#include "thread_pool.h"

#include <atomic>
#include <chrono>
#include <exception>
#include <xmmintrin.h>

namespace bx::cpu {

struct ThreadPool::Job {
  const std::function<void(int64_t)>* fn = nullptr;
  std::function<void(int64_t)> owned;  // a posted task's chunk (fn points here)
  int64_t chunks = 0;
  std::atomic<int64_t> next{0};
  std::atomic<int64_t> finished{0};
  std::mutex doneMutex;
  std::condition_variable done;
  std::exception_ptr error;
  std::mutex errorMutex;
};

namespace {
// How long an idle thread polls for work before it sleeps on a condition variable (workers only
// while a run is active, see ActiveRun). A model runs one parallel op after another with short
// serial gaps, and waking a sleeping thread costs tens of microseconds (more on a VM): polling
// across the gaps keeps small ops worth splitting.
constexpr std::chrono::microseconds kSpin{200};

// Polls until ready() or kSpin has passed; true when ready.
template <typename Ready>
bool spinFor(Ready ready) {
  const auto deadline = std::chrono::steady_clock::now() + kSpin;
  for (int i = 0;; ++i) {
    if (ready()) return true;
    _mm_pause();
    if ((i & 63) == 63 && std::chrono::steady_clock::now() > deadline) return ready();
  }
}

// The float boundary ops assume round-to-nearest and no flush-to-zero / denormals-are-zero.
// Something else in the process could have changed MXCSR; our threads set it explicitly.
void setDefaultFloatMode() { _mm_setcsr(0x1f80); }
}  // namespace

ThreadPool::ThreadPool(int threads) {
  for (int i = 1; i < threads; ++i) workers_.emplace_back([this] { workerLoop(); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  for (std::thread& t : workers_) t.join();
}

bool ThreadPool::runOneChunk(Job& job) {
  const int64_t chunk = job.next.fetch_add(1);
  if (chunk >= job.chunks) return false;
  try {
    (*job.fn)(chunk);
  } catch (...) {
    std::lock_guard<std::mutex> lock(job.errorMutex);
    if (!job.error) job.error = std::current_exception();
  }
  if (job.finished.fetch_add(1) + 1 == job.chunks) {
    std::lock_guard<std::mutex> lock(job.doneMutex);
    job.done.notify_all();
  }
  return true;
}

void ThreadPool::workerLoop() {
  setDefaultFloatMode();
  for (;;) {
    std::shared_ptr<Job> job;
    if (activeRuns_.load() > 0) spinFor([this] { return queued_.load() > 0 || stopping_.load() || activeRuns_.load() == 0; });
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
      if (stopping_) return;
      job = jobs_.front();
      if (job->next.load() >= job->chunks) {
        jobs_.pop_front();  // fully handed out; its owner waits for the stragglers
        queued_.fetch_sub(1);
        continue;
      }
    }
    while (runOneChunk(*job)) {
    }
  }
}

void ThreadPool::parallelFor(int64_t chunks, const std::function<void(int64_t)>& fn) {
  if (chunks <= 0) return;
  setDefaultFloatMode();
  if (workers_.empty() || chunks == 1) {
    for (int64_t i = 0; i < chunks; ++i) fn(i);
    return;
  }
  auto job = std::make_shared<Job>();
  job->fn = &fn;
  job->chunks = chunks;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    jobs_.push_back(job);
    queued_.fetch_add(1);
  }
  wake_.notify_all();
  while (runOneChunk(*job)) {
  }
  if (!spinFor([&] { return job->finished.load() == job->chunks; })) {
    std::unique_lock<std::mutex> lock(job->doneMutex);
    job->done.wait(lock, [&] { return job->finished.load() == job->chunks; });
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto it = jobs_.begin(); it != jobs_.end(); ++it) {
      if (*it == job) {
        jobs_.erase(it);
        queued_.fetch_sub(1);
        break;
      }
    }
  }
  if (job->error) std::rethrow_exception(job->error);
}

void BackgroundTask::runIfUnclaimed() {
  if (claimed_.exchange(true)) return;
  std::exception_ptr error;
  try {
    fn_();
  } catch (...) {
    error = std::current_exception();
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    error_ = error;
    finished_ = true;
  }
  done_.notify_all();
}

void BackgroundTask::wait() {
  runIfUnclaimed();
  std::unique_lock<std::mutex> lock(mutex_);
  done_.wait(lock, [this] { return finished_; });
  if (error_) std::rethrow_exception(error_);
}

std::shared_ptr<BackgroundTask> ThreadPool::post(std::function<void()> fn) {
  auto task = std::make_shared<BackgroundTask>(std::move(fn));
  if (workers_.empty()) return task;
  auto job = std::make_shared<Job>();
  job->owned = [task](int64_t) { task->runIfUnclaimed(); };
  job->fn = &job->owned;
  job->chunks = 1;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    jobs_.push_back(job);
    queued_.fetch_add(1);
  }
  wake_.notify_one();
  return task;
}

int defaultThreadCount() {
  const unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : int(n);
}

}  // namespace bx::cpu
