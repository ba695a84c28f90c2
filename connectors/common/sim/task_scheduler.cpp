#include "common/sim/task_scheduler.hpp"

namespace trueup::connectors::sim {

TaskScheduler::TaskScheduler(std::size_t max_tasks) : max_tasks_(max_tasks), thread_([this] { run(); }) {}

TaskScheduler::~TaskScheduler() { stop(); }

bool TaskScheduler::post_after(std::chrono::milliseconds delay, std::function<void()> task) {
  {
    std::lock_guard lock(mu_);
    if (stopping_ || tasks_.size() >= max_tasks_) return false;
    tasks_.push(Entry{std::chrono::steady_clock::now() + delay, next_order_++, std::move(task)});
  }
  cv_.notify_one();
  return true;
}

bool TaskScheduler::stopping() const {
  std::lock_guard lock(mu_);
  return stopping_;
}

void TaskScheduler::stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
  }
  cv_.notify_one();
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
}

void TaskScheduler::run() {
  std::unique_lock lock(mu_);
  for (;;) {
    if (tasks_.empty()) {
      if (stopping_) return;
      cv_.wait(lock);
      continue;
    }
    // A copy: the queue may reallocate while the wait has released the lock.
    const auto due = tasks_.top().due;
    if (!stopping_ && due > std::chrono::steady_clock::now()) {
      cv_.wait_until(lock, due);
      continue;
    }
    auto task = std::move(const_cast<Entry&>(tasks_.top()).task);
    tasks_.pop();
    lock.unlock();
    task();
    lock.lock();
  }
}

}  // namespace trueup::connectors::sim
