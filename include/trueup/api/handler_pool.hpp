#pragma once
// Threads for API handlers that block (store round trips), so the HTTP I/O
// threads never wait on the database. The queue is bounded: beyond it, work
// is refused and the caller answers 503.
//
// Thread-safety: submit from any thread; stop from the owner.

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace trueup::api {

class HandlerPool {
 public:
  HandlerPool(int threads, std::size_t queue_capacity);
  ~HandlerPool();
  // false when the queue is full or the pool stopped.
  bool submit(std::function<void()> job);
  // Runs what is queued, then joins. Idempotent.
  void stop();

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  std::size_t capacity_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace trueup::api
