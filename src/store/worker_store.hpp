#pragma once
// Internal: the part both engines share. A fixed set of worker threads, each
// owning one database connection, takes work from one bounded queue.
//
// A derived class starts the workers from its open function (once its
// connections are ready) and calls stop() first thing in its destructor,
// because workers call back into it.

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "trueup/store/store.hpp"

namespace trueup::store::detail {

struct Job {
  Work work;
  std::function<void(Status)> done;
};

// A bounded queue of jobs in two FIFO lanes, interactive before background;
// closing it lets consumers drain what is left.
class JobQueue {
 public:
  explicit JobQueue(std::size_t capacity) : capacity_(capacity) {}

  // Takes `job` when there is room (both lanes together); otherwise leaves it
  // alone and says why.
  std::optional<Error> try_push(Job& job, bool interactive = false);
  // Blocks for the next job, interactive first; with `interactive_only` it
  // takes no background job. nullopt once closed and empty (of what it takes).
  std::optional<Job> pop(bool interactive_only = false);
  void close();

 private:
  std::mutex mutex_;
  std::condition_variable ready_;
  std::condition_variable interactive_ready_;
  std::deque<Job> interactive_;
  std::deque<Job> background_;
  std::size_t capacity_;
  bool closed_ = false;
};

class WorkerStore : public Store {
 public:
  Status transact(Work work) override;
  void post(Work work, std::function<void(Status)> done) override;
  void post_interactive(Work work, std::function<void(Status)> done) override;
  Status ping() override;
  Result<MigrationReport> migrate(const std::vector<Migration>& migrations) override;
  void stop() override;

 protected:
  explicit WorkerStore(std::size_t queue_capacity) : queue_(queue_capacity) {}

  void start_workers(std::size_t count);

  // Runs `work` in one transaction on worker `worker`'s connection. Called
  // only on that worker's thread; exceptions it lets through are reported as
  // Errc::internal.
  virtual Status run_transaction(std::size_t worker, const Work& work) = 0;
  // Called by stop() once every worker has exited.
  virtual void close_connections() noexcept = 0;

 private:
  void worker_loop(std::size_t worker, bool interactive_only);
  void push(Work work, std::function<void(Status)> done, bool interactive);
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
