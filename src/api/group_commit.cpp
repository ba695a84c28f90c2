#include "group_commit.hpp"

#include <utility>

namespace trueup::api::detail {

struct GroupCommitter::Batch {
  std::vector<Job> jobs;
  std::vector<std::string> answers;  // per job, what `finish` returned
  bool alone = false;                // a job retried in a transaction of its own
};

GroupCommitter::GroupCommitter(store::Store& store, messaging::Inbox& inbox, workflow::Engine& engine,
                               messaging::Outbox& outbox, metrics::Registry& registry,
                               std::function<void()> after_commit, GroupCommitSettings settings)
    : store_(store),
      inbox_(inbox),
      engine_(engine),
      outbox_(outbox),
      after_commit_(std::move(after_commit)),
      settings_(settings),
      batch_items_(registry.histogram("trueup_intake_commit_items",
                                      "Intake items written per committed transaction (group commit)",
                                      {1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000})),
      split_(registry.counter("trueup_intake_commit_splits_total",
                              "Group-commit transactions that failed and were retried one request each")) {
  if (settings_.max_in_flight == 0) settings_.max_in_flight = 1;
  if (settings_.max_items == 0) settings_.max_items = 1;
}

void GroupCommitter::submit(Job job) {
  job.submitted = std::chrono::steady_clock::now();
  std::unique_lock lock(mutex_);
  queue_.push_back(std::move(job));
  dispatch_locked(lock);
}

void GroupCommitter::dispatch_locked(std::unique_lock<std::mutex>& lock) {
  while (in_flight_ < settings_.max_in_flight && !queue_.empty()) {
    auto batch = std::make_shared<Batch>();
    std::size_t items = 0;
    // A job is never split: the first one goes whatever its size.
    while (!queue_.empty() && (batch->jobs.empty() || items + queue_.front().items.size() <= settings_.max_items)) {
      items += queue_.front().items.size();
      batch->jobs.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    ++in_flight_;
    lock.unlock();
    run(std::move(batch));
    lock.lock();
  }
}

void GroupCommitter::run(std::shared_ptr<Batch> batch) {
  // The batch's requests have waited since its first (oldest) job came.
  const auto since = batch->jobs.front().submitted;
  store_.post_interactive([this, batch](store::Transaction& tx) { return write(tx, *batch); },
                          [this, batch](Status status) { finished(batch, std::move(status)); }, since);
}

Status GroupCommitter::write(store::Transaction& tx, Batch& batch) {
  std::vector<messaging::InboxMessage> messages;
  std::vector<workflow::StartRequest> starts;
  for (const auto& job : batch.jobs) {
    for (const auto& item : job.items) {
      messages.push_back(item.message);
      starts.push_back(item.start);
    }
  }
  auto recorded = inbox_.record_batch(tx, messages);
  if (!recorded) return std::move(recorded).error();
  auto started = engine_.start_batch(tx, starts);
  if (!started) return std::move(started).error();
  std::vector<messaging::OutboxEvent> events;
  std::size_t i = 0;
  for (const auto& job : batch.jobs)
    for (const auto& item : job.items)
      if ((*recorded)[i++].inserted && item.accepted) events.push_back(*item.accepted);
  if (auto appended = outbox_.append_batch(tx, events); !appended) return std::move(appended).error();

  batch.answers.assign(batch.jobs.size(), std::string());
  i = 0;
  for (std::size_t j = 0; j < batch.jobs.size(); ++j) {
    std::vector<ItemOutcome> outcomes;
    outcomes.reserve(batch.jobs[j].items.size());
    for (const auto& item : batch.jobs[j].items) {
      outcomes.push_back(ItemOutcome{item.message.dedupe_key, (*recorded)[i].inserted, (*started)[i].id});
      ++i;
    }
    auto answer = batch.jobs[j].finish(tx, outcomes);
    if (!answer) return std::move(answer).error();
    batch.answers[j] = std::move(*answer);
  }
  return Ok{};
}

void GroupCommitter::finished(const std::shared_ptr<Batch>& batch, Status status) {
  if (status) {
    std::size_t items = 0;
    for (const auto& job : batch->jobs) items += job.items.size();
    batch_items_.observe(static_cast<double>(items));
    if (after_commit_) after_commit_();
    for (std::size_t j = 0; j < batch->jobs.size(); ++j) batch->jobs[j].done(std::move(batch->answers[j]));
  } else {
    const Errc code = status.error().code;
    const bool store_down = code == Errc::unavailable || code == Errc::overloaded || code == Errc::timeout;
    if (batch->jobs.size() > 1 && !store_down) {
      // Possibly one job's own failure: give each its own transaction.
      split_.inc();
      for (auto& job : batch->jobs) {
        auto alone = std::make_shared<Batch>();
        alone->alone = true;
        alone->jobs.push_back(std::move(job));
        run(std::move(alone));
      }
    } else {
      for (auto& job : batch->jobs) job.done(status.error());
    }
  }
  if (batch->alone) return;  // not counted in flight
  std::unique_lock lock(mutex_);
  --in_flight_;
  dispatch_locked(lock);
}

}  // namespace trueup::api::detail
