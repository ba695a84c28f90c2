#pragma once
// Internal: the part both engines share. A fixed set of worker threads, each
// owning one database connection, takes work from one bounded queue.
//
// A derived class starts the workers from its open function (once its
// connections are ready) and calls stop() first thing in its destructor,
// because workers call back into it.

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "trueup/store/store.hpp"

namespace trueup::store::detail {

using Clock = std::chrono::steady_clock;

// With three connections or more the first serves interactive work only.
constexpr bool reserves_interactive(std::size_t connections) { return connections >= 3; }
// Connections that take background work.
constexpr std::size_t background_width(std::size_t connections) {
  return connections - (reserves_interactive(connections) ? 1 : 0);
}

struct Job {
  Work work;
  std::function<void(Status)> done;
  bool background = false;        // set by JobQueue when taken
  Clock::time_point queued_at{};  // when its wait began; unset: when pushed
};

// How background work yields to interactive work (PostgresSettings has the
// meaning). An interactive job that took longer than `slow` from push to end
// narrows background work to one job at a time; one more may run per `step`
// without another slow one, and every one may once no interactive work was
// seen for a `step`. A zero `slow` never yields.
struct YieldPolicy {
  std::chrono::milliseconds slow{0};
  std::chrono::milliseconds step{1000};
  // Workers that take background work: a limit grown to it is no limit.
  // 0 = unknown (only the quiet step ends yielding).
  std::size_t width = 0;
};

// A bounded queue of jobs in two FIFO lanes, interactive before background;
// closing it lets consumers drain what is left (at full width).
class JobQueue {
 public:
  explicit JobQueue(std::size_t capacity, YieldPolicy yield = {}) : capacity_(capacity), yield_(yield) {}

  // Takes `job` when there is room (both lanes together); otherwise leaves it
  // alone and says why.
  std::optional<Error> try_push(Job& job, bool interactive = false, Clock::time_point now = Clock::now());
  // Blocks for the next job, interactive first; with `interactive_only` it
  // takes no background job, and a background job waits while background
  // work yields (YieldPolicy). nullopt once closed and empty (of what it
  // takes).
  std::optional<Job> pop(bool interactive_only = false);
  // pop() without waiting: nullopt when nothing may be taken at `now`.
  std::optional<Job> try_pop(bool interactive_only = false, Clock::time_point now = Clock::now());
  // Every taken job is reported once its transaction ended.
  void finished(const Job& job, Clock::time_point now = Clock::now());
  Store::Load load(Clock::time_point now = Clock::now()) const;
  void close();

 private:
  enum class Take { interactive, background, wait, closed };
  Take next(bool interactive_only, Clock::time_point now) const;
  // Background jobs that may run at `now`; nullopt = no limit.
  std::optional<std::size_t> background_limit(Clock::time_point now) const;
  // When a background job waiting on the limit should look again.
  Clock::time_point recheck_at(Clock::time_point now) const;
  Job take(Take what);

  mutable std::mutex mutex_;
  std::condition_variable ready_;
  std::condition_variable interactive_ready_;
  std::deque<Job> interactive_;
  std::deque<Job> background_;
  std::size_t capacity_;
  YieldPolicy yield_;
  std::size_t interactive_running_ = 0;
  std::size_t background_running_ = 0;
  Clock::time_point last_interactive_{};        // pushed or ended
  std::optional<Clock::time_point> last_slow_;  // a slow interactive job ended
  std::uint64_t slow_ = 0;                      // slow interactive jobs
  bool closed_ = false;
};

class WorkerStore : public Store {
 public:
  Status transact(Work work) override;
  void post(Work work, std::function<void(Status)> done) override;
  using Store::post_interactive;
  void post_interactive(Work work, std::function<void(Status)> done,
                        std::chrono::steady_clock::time_point waiting_since) override;
  Status ping() override;
  Load load() const override { return queue_.load(); }
  Result<MigrationReport> migrate(const std::vector<Migration>& migrations) override;
  void stop() override;

 protected:
  explicit WorkerStore(std::size_t queue_capacity, YieldPolicy yield = {}) : queue_(queue_capacity, yield) {}

  void start_workers(std::size_t count);

  // Runs `work` in one transaction on worker `worker`'s connection. Called
  // only on that worker's thread; exceptions it lets through are reported as
  // Errc::internal.
  virtual Status run_transaction(std::size_t worker, const Work& work) = 0;
  // Called by stop() once every worker has exited.
  virtual void close_connections() noexcept = 0;

 private:
  void worker_loop(std::size_t worker, bool interactive_only);
  void push(Work work, std::function<void(Status)> done, bool interactive, Clock::time_point since);
  bool on_worker_thread() const noexcept;

  JobQueue queue_;
  std::vector<std::thread> workers_;
  std::mutex stop_mutex_;
  bool stopped_ = false;
};

// "… in `SELECT …`" with long SQL shortened, for error messages.
std::string quote_sql(std::string_view sql);

// The first error of a transaction, repeated for every later exec.
Error aborted_by(const Error& first);

// A transaction that, like PostgreSQL, refuses every statement after the
// first failed one; engines implement `run`.
class AbortOnErrorTransaction : public Transaction {
 public:
  Result<Rows> exec(std::string_view sql, const std::vector<Param>& params) final {
    if (failed_) return aborted_by(*failed_);
    auto r = run(sql, params);
    if (!r) failed_ = r.error();
    return r;
  }
  const std::optional<Error>& failed() const { return failed_; }

 protected:
  virtual Result<Rows> run(std::string_view sql, const std::vector<Param>& params) = 0;

 private:
  std::optional<Error> failed_;
};

// Shared migration logic over Store::transact; the engine decides the dialect.
Result<MigrationReport> run_migrations(Store& store, const std::vector<Migration>& migrations);

}  // namespace trueup::store::detail
