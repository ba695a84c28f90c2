#pragma once
// One thread that runs tasks when their time comes: held and delayed API
// answers, late webhook deliveries and their retries. Tasks must not block
// (they answer a request or start an asynchronous send).
//
// Bounded: at most `max_tasks` wait; `post_after` refuses beyond that.
// `stop` refuses new tasks, runs every waiting task at once (in due order, so
// held answers go out and nothing is left unanswered), and joins the thread.
//
// Thread-safety: every member function may be called from any thread, tasks
// included (a task may post another); `stop` not from a task.

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <queue>
#include <thread>
#include <vector>

namespace trueup::connectors::sim {

class TaskScheduler {
 public:
  explicit TaskScheduler(std::size_t max_tasks = 100000);
  ~TaskScheduler();
  TaskScheduler(const TaskScheduler&) = delete;
  TaskScheduler& operator=(const TaskScheduler&) = delete;

  // False when stopped or full; the task then never runs.
  bool post_after(std::chrono::milliseconds delay, std::function<void()> task);
  // True once stop() has begun: tasks run now are being flushed.
  bool stopping() const;
  void stop();

 private:
  struct Entry {
    std::chrono::steady_clock::time_point due;
    std::uint64_t order;
    std::function<void()> task;
    bool operator>(const Entry& o) const { return due != o.due ? due > o.due : order > o.order; }
  };
  void run();

  const std::size_t max_tasks_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::priority_queue<Entry, std::vector<Entry>, std::greater<>> tasks_;
  std::uint64_t next_order_ = 0;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace trueup::connectors::sim
