#include "hash_threads.h"

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>

namespace bx::addon {
namespace {

class HashThreads {
 public:
  static HashThreads& Instance() {
    static HashThreads* instance = new HashThreads();  // never destroyed: threads outlive statics
    return *instance;
  }

  std::future<Hash32> Post(std::function<Hash32()> task) {
    auto packaged = std::make_shared<std::packaged_task<Hash32()>>(std::move(task));
    std::future<Hash32> result = packaged->get_future();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      queue_.push_back([packaged] { (*packaged)(); });
    }
    wake_.notify_one();
    return result;
  }

 private:
  // Two: a hash is one serial stream, and two runs hashing at once is the common concurrent case.
  HashThreads() {
    for (int i = 0; i < 2; ++i) std::thread([this] { Loop(); }).detach();
  }

  void Loop() {
    for (;;) {
      std::function<void()> task;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [this] { return !queue_.empty(); });
        task = std::move(queue_.front());
        queue_.pop_front();
      }
      task();  // packaged_task stores an exception in the future instead of throwing here
    }
  }

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> queue_;
};

}  // namespace

std::future<Hash32> HashInBackground(std::function<Hash32()> task) { return HashThreads::Instance().Post(std::move(task)); }

}  // namespace bx::addon
