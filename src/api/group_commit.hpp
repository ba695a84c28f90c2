#pragma once
// Internal: group commit of intake requests.
//
// Each intake request becomes a Job: its items (inbox message, workflow to
// start, "accepted" event) and what to store for its Idempotency-Key. The
// committer writes many jobs in one transaction — one multi-row statement per
// table instead of a round trip per item, and one commit (one WAL flush)
// instead of one per request — and answers each job after that commit, so
// "accepted" still means "committed".
//
// Batching happens by itself: at most `max_in_flight` transactions run at
// once; jobs that arrive meanwhile wait and go together in the next one (up
// to `max_items` items). Under light load a job is committed alone at once.
//
// When a transaction with several jobs fails for a reason that may be one
// job's own (a stale Idempotency-Key claim, a constraint), each of its jobs
// is retried in a transaction of its own, so one job never fails another.
// Failures of the store itself (unavailable, overloaded, timeout) fail every
// job of the batch: nothing was accepted and the senders retry.

#include <chrono>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "trueup/core/error.hpp"
#include "trueup/messaging/inbox.hpp"
#include "trueup/messaging/outbox.hpp"
#include "trueup/metrics/registry.hpp"
#include "trueup/store/store.hpp"
#include "trueup/workflow/engine.hpp"

namespace trueup::api::detail {

struct IntakeItem {
  messaging::InboxMessage message;
  workflow::StartRequest start;
  std::optional<messaging::OutboxEvent> accepted;  // appended only when the message is new
};

struct ItemOutcome {
  std::string id;  // the message's dedupe key
  bool inserted = false;
  std::string workflow_id;
};

struct Job {
  std::vector<IntakeItem> items;
  // Runs inside the transaction after the items are written (stores the
  // Idempotency-Key response); returns what to answer. An error rolls back.
  std::function<Result<std::string>(store::Transaction&, const std::vector<ItemOutcome>&)> finish;
  // Called exactly once on a store thread: the text `finish` returned after
  // the commit, or the error. Must not block.
  std::function<void(Result<std::string>)> done;
  std::chrono::steady_clock::time_point submitted{};  // set by submit()
};

struct GroupCommitSettings {
  std::size_t max_items = 2000;   // items per transaction (a job is never split)
  std::size_t max_in_flight = 2;  // transactions at once
};

class GroupCommitter {
 public:
  // `after_commit` runs after every committed transaction (wakes the relay
  // and the engine of this process).
  GroupCommitter(store::Store& store, messaging::Inbox& inbox, workflow::Engine& engine, messaging::Outbox& outbox,
                 metrics::Registry& registry, std::function<void()> after_commit, GroupCommitSettings settings = {});

  // Queues the job; its `done` is called later (or at once, on this thread,
  // when the store refuses the work).
  void submit(Job job);

 private:
  struct Batch;
  void dispatch_locked(std::unique_lock<std::mutex>& lock);
  void run(std::shared_ptr<Batch> batch);
  void finished(const std::shared_ptr<Batch>& batch, Status status);
  Status write(store::Transaction& tx, Batch& batch);

  store::Store& store_;
  messaging::Inbox& inbox_;
  workflow::Engine& engine_;
  messaging::Outbox& outbox_;
  std::function<void()> after_commit_;
  GroupCommitSettings settings_;
  metrics::Histogram& batch_items_;
  metrics::Counter& split_;

  std::mutex mutex_;
  std::deque<Job> queue_;
  std::size_t in_flight_ = 0;
};

}  // namespace trueup::api::detail
