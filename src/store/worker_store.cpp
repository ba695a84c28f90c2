#include "worker_store.hpp"

#include <cassert>
#include <exception>
#include <future>
#include <string>
#include <utility>

namespace trueup::store::detail {
namespace {
// The store whose worker is running on this thread, to refuse blocking calls
// that would wait on the thread itself.
thread_local const WorkerStore* current_worker_store = nullptr;
}  // namespace

std::optional<Error> JobQueue::try_push(Job& job, bool interactive, Clock::time_point now) {
  std::lock_guard lock(mutex_);
  if (closed_) return make_error(Errc::unavailable, "store is stopped");
  if (interactive_.size() + background_.size() >= capacity_)
    return make_error(Errc::overloaded, "store queue is full (" + std::to_string(capacity_) +
                                            " waiting work items); raise the store's queue_capacity "
                                            "or add connections");
  if (job.queued_at == Clock::time_point{}) job.queued_at = now;
  if (interactive) {
    // The first request after a quiet step starts afresh.
    if (last_slow_ && !background_limit(now)) last_slow_.reset();
    last_interactive_ = std::max(last_interactive_, now);
    interactive_.push_back(std::move(job));
    // The reserved worker if it waits, else any.
    interactive_ready_.notify_one();
    ready_.notify_one();
  } else {
    background_.push_back(std::move(job));
    ready_.notify_one();
  }
  return std::nullopt;
}

std::optional<std::size_t> JobQueue::background_limit(Clock::time_point now) const {
  if (yield_.slow.count() <= 0 || !last_slow_ || closed_) return std::nullopt;  // draining takes everything
  const bool quiet = interactive_running_ == 0 && interactive_.empty() && now >= last_interactive_ + yield_.step;
  if (quiet) return std::nullopt;
  const auto since = std::max(now - *last_slow_, Clock::duration::zero());
  const auto steps = yield_.step.count() > 0 ? static_cast<std::size_t>(since / yield_.step) : std::size_t{0};
  const std::size_t limit = 1 + steps;
  if (yield_.width > 0 && limit >= yield_.width) return std::nullopt;  // grown back to every connection
  return limit;
}

Clock::time_point JobQueue::recheck_at(Clock::time_point now) const {
  if (yield_.step.count() <= 0 || !last_slow_) return now + std::chrono::milliseconds(100);
  const auto since = std::max(now - *last_slow_, Clock::duration::zero());
  auto at = *last_slow_ + (since / yield_.step + 1) * yield_.step;                    // the limit grows by one
  if (interactive_running_ == 0) at = std::min(at, last_interactive_ + yield_.step);  // or lifts
  return at;
}

JobQueue::Take JobQueue::next(bool interactive_only, Clock::time_point now) const {
  if (!interactive_.empty()) return Take::interactive;
  if (interactive_only || background_.empty()) return closed_ ? Take::closed : Take::wait;
  const auto limit = background_limit(now);
  if (limit && background_running_ >= *limit) return Take::wait;
  return Take::background;
}

Job JobQueue::take(Take what) {
  auto& lane = what == Take::interactive ? interactive_ : background_;
  Job job = std::move(lane.front());
  lane.pop_front();
  job.background = what == Take::background;
  ++(job.background ? background_running_ : interactive_running_);
  // A push wakes one worker; the next waiting job gets the next.
  if (job.background && !background_.empty()) ready_.notify_one();
  return job;
}

std::optional<Job> JobQueue::pop(bool interactive_only) {
  std::unique_lock lock(mutex_);
  auto& cv = interactive_only ? interactive_ready_ : ready_;
  for (;;) {
    const auto now = Clock::now();
    switch (const Take what = next(interactive_only, now)) {
      case Take::interactive:
      case Take::background:
        return take(what);
      case Take::closed:
        return std::nullopt;
      case Take::wait:
        // For a push, a job's end or close(); a background job held back by
        // the limit also for the moment the limit grows or lifts.
        if (!interactive_only && !background_.empty())
          cv.wait_until(lock, recheck_at(now));
        else
          cv.wait(lock);
        break;
    }
  }
}

std::optional<Job> JobQueue::try_pop(bool interactive_only, Clock::time_point now) {
  std::lock_guard lock(mutex_);
  const Take what = next(interactive_only, now);
  if (what != Take::interactive && what != Take::background) return std::nullopt;
  return take(what);
}

void JobQueue::finished(const Job& job, Clock::time_point now) {
  std::lock_guard lock(mutex_);
  if (job.background) {
    --background_running_;
  } else {
    --interactive_running_;
    last_interactive_ = std::max(last_interactive_, now);
    if (yield_.slow.count() > 0 && now - job.queued_at > yield_.slow) {
      last_slow_ = last_slow_ ? std::max(*last_slow_, now) : now;
      ++slow_;
    }
  }
  // Background work may have waited for either.
  if (!background_.empty()) ready_.notify_all();
}

Store::Load JobQueue::load(Clock::time_point now) const {
  std::lock_guard lock(mutex_);
  Store::Load l;
  l.interactive = {interactive_.size(), interactive_running_};
  l.background = {background_.size(), background_running_};
  l.background_limit = background_limit(now);
  l.slow_interactive = slow_;
  return l;
}

void JobQueue::close() {
  std::lock_guard lock(mutex_);
  closed_ = true;
  ready_.notify_all();
  interactive_ready_.notify_all();
}

void WorkerStore::start_workers(std::size_t count) {
  workers_.reserve(count);
  const bool reserve = reserves_interactive(count);
  for (std::size_t i = 0; i < count; ++i)
    workers_.emplace_back([this, i, reserve] { worker_loop(i, reserve && i == 0); });
}

bool WorkerStore::on_worker_thread() const noexcept { return current_worker_store == this; }

void WorkerStore::worker_loop(std::size_t worker, bool interactive_only) {
  current_worker_store = this;
  while (auto job = queue_.pop(interactive_only)) {
    Status outcome = [&]() -> Status {
      try {
        return run_transaction(worker, job->work);
      } catch (const std::exception& e) {
        return make_error(Errc::internal, std::string("store work threw: ") + e.what());
      } catch (...) {
        return make_error(Errc::internal, "store work threw a non-standard exception");
      }
    }();
    const auto ended = Clock::now();  // the wait ends here, not after `done`
    if (job->done) job->done(std::move(outcome));
    queue_.finished(*job, ended);
  }
  current_worker_store = nullptr;
}

void WorkerStore::push(Work work, std::function<void(Status)> done, bool interactive, Clock::time_point since) {
  Job job{std::move(work), std::move(done), false, since};
  if (auto refused = queue_.try_push(job, interactive)) {
    if (job.done) job.done(std::move(*refused));
  }
}

void WorkerStore::post(Work work, std::function<void(Status)> done) {
  push(std::move(work), std::move(done), false, {});  // its wait begins at the push
}

void WorkerStore::post_interactive(Work work, std::function<void(Status)> done, Clock::time_point waiting_since) {
  push(std::move(work), std::move(done), true, waiting_since);
}

Status WorkerStore::transact(Work work) {
  if (on_worker_thread())
    return make_error(Errc::internal,
                      "blocking store call made from inside a store Work (it would wait on "
                      "itself); use the Transaction you were given, or post()");
  std::promise<Status> outcome;
  auto future = outcome.get_future();
  post(std::move(work), [&outcome](Status s) { outcome.set_value(std::move(s)); });
  return future.get();
}

Status WorkerStore::ping() {
  return transact([](Transaction& tx) -> Status {
    auto r = tx.exec("SELECT 1");
    if (!r) return std::move(r).error();
    return Ok{};
  });
}

Result<MigrationReport> WorkerStore::migrate(const std::vector<Migration>& migrations) {
  if (on_worker_thread()) return make_error(Errc::internal, "migrate called from inside a store Work");
  return run_migrations(*this, migrations);
}

void WorkerStore::stop() {
  std::lock_guard lock(stop_mutex_);
  if (stopped_) return;
  assert(!on_worker_thread() && "Store::stop called from a store thread");
  stopped_ = true;
  queue_.close();
  for (auto& t : workers_)
    if (t.joinable()) t.join();
  workers_.clear();
  close_connections();
}

std::string quote_sql(std::string_view sql) {
  constexpr std::size_t kMax = 300;
  std::string shown(sql.substr(0, kMax));
  if (sql.size() > kMax) shown += "…";
  return " in `" + shown + "`";
}

Error aborted_by(const Error& first) {
  return make_error(first.code, "transaction aborted by an earlier error: " + first.message);
}

}  // namespace trueup::store::detail
