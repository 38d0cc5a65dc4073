// The addon's own compute threads. parallelFor may be called from several threads at once
// (concurrent runs): each call is a job with its own chunk counter, workers take chunks from the
// oldest unfinished job, and the caller works on its own job too, so nested or concurrent calls
// cannot deadlock. Results never depend on which thread ran a chunk: the kernels' integer
// arithmetic is exact and every chunk writes disjoint output.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace bx::cpu {

// A task handed to the pool without waiting for it (ThreadPool::post).
class BackgroundTask {
 public:
  explicit BackgroundTask(std::function<void()> fn) : fn_(std::move(fn)) {}
  // Runs the task on the calling thread if no worker has started it, else waits for the worker;
  // then rethrows what the task threw. So waiting never depends on a worker becoming free.
  void wait();

 private:
  friend class ThreadPool;
  void runIfUnclaimed();  // on whichever thread claims it first; no-op for the others

  std::function<void()> fn_;
  std::atomic<bool> claimed_{false};
  std::mutex mutex_;
  std::condition_variable done_;
  bool finished_ = false;
  std::exception_ptr error_;
};

class ThreadPool {
 public:
  explicit ThreadPool(int threads);  // threads includes the calling thread; 1 = no workers
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int threads() const { return int(workers_.size()) + 1; }
  // Calls fn(chunk) for chunk in [0, chunks), then returns. The first exception thrown by a
  // chunk is rethrown here after all chunks have finished.
  void parallelFor(int64_t chunks, const std::function<void(int64_t)>& fn);

  // Queues `fn` for the next free worker and returns at once. Jobs are served oldest first and a
  // parallelFor caller only ever works on its own job, so while a worker runs `fn` the caller's
  // loops simply get fewer helpers (a run hashing its input this way never waits at a barrier for
  // a thread the operating system gave to the hash). Without workers, fn runs in wait().
  std::shared_ptr<BackgroundTask> post(std::function<void()> fn);

  // Marks a model run in progress for its lifetime. While any run is active, idle workers poll
  // for the next op's work for a short while before sleeping (a wake-up costs tens of
  // microseconds); with no run active they sleep at once, so they never take CPU from the JS
  // thread or anything else between runs.
  class ActiveRun {
   public:
    explicit ActiveRun(ThreadPool& pool) : pool_(pool) { pool_.activeRuns_.fetch_add(1); }
    ~ActiveRun() { pool_.activeRuns_.fetch_sub(1); }
    ActiveRun(const ActiveRun&) = delete;
    ActiveRun& operator=(const ActiveRun&) = delete;

   private:
    ThreadPool& pool_;
  };

 private:
  struct Job;
  void workerLoop();
  static bool runOneChunk(Job& job);

  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::shared_ptr<Job>> jobs_;
  std::atomic<int64_t> queued_{0};  // jobs_.size(), readable without the lock (idle threads poll it)
  std::atomic<bool> stopping_{false};
  std::atomic<int> activeRuns_{0};
};

int defaultThreadCount();

}  // namespace bx::cpu
