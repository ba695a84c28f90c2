#include "trueup/api/handler_pool.hpp"

namespace trueup::api {

HandlerPool::HandlerPool(int threads, std::size_t queue_capacity) : capacity_(queue_capacity) {
  for (int i = 0; i < threads; ++i) {
    threads_.emplace_back([this] {
      for (;;) {
        std::function<void()> job;
        {
          std::unique_lock lock(mutex_);
          cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
          if (queue_.empty()) return;  // stopping and drained
          job = std::move(queue_.front());
          queue_.pop_front();
        }
        job();
      }
    });
  }
}

HandlerPool::~HandlerPool() { stop(); }

bool HandlerPool::submit(std::function<void()> job) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_ || queue_.size() >= capacity_) return false;
    queue_.push_back(std::move(job));
  }
  cv_.notify_one();
  return true;
}

void HandlerPool::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_)
    if (t.joinable()) t.join();
  threads_.clear();
}

}  // namespace trueup::api
