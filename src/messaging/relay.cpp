#include "trueup/messaging/relay.hpp"

#include <deque>
#include <memory>
#include <optional>
#include <stdexcept>
#include <vector>

#include "sql_support.hpp"
#include "trueup/log/log.hpp"

namespace trueup::messaging {
namespace {

using SteadyClock = std::chrono::steady_clock;

// Leadership is read again every this many produced events.
constexpr std::size_t kLeadershipCheckEvery = 64;

// The next `$1` pending events (after seq `$2` when `after`): the first seqs
// in the relay's queue table (migrations/*/0013), through its primary key,
// then each event's row by its own. The LIMIT sits in the subquery so the
// queue drives the join, not the (retained, much larger) event table.
std::string select_pending(bool after) {
  return std::string(
             "SELECT o.seq, o.id, o.topic, o.key, o.type, o.source, o.subject, o.time, o.data, "
             "o.traceparent FROM (SELECT seq FROM trueup_outbox_pending ") +
         (after ? "WHERE seq > $2 " : "") +
         "ORDER BY seq LIMIT $1) p JOIN trueup_outbox o ON o.seq = p.seq ORDER BY p.seq";
}

// What the other threads tell the relay about one batch: its delivery
// reports (the bus's delivery thread) and the outcome of marking it (a store
// thread). Shared with their callbacks, which may outlive the relay's wait.
struct BatchReports {
  std::mutex mu;
  std::condition_variable changed;           // the last report came, or the mark finished
  std::vector<std::optional<Error>> errors;  // per event: set when failed
  std::vector<bool> reported;
  std::size_t outstanding = 0;
  std::optional<Status> marked;  // set when the mark committed or failed
};

std::string take(std::optional<std::string>& v) { return v ? std::move(*v) : std::string(); }

// The row's strings move into the message: a batch is read once.
bus::Message to_message(store::Row& row) {
  // seq, id, topic, key, type, source, subject, time, data, traceparent
  bus::Message m;
  m.topic = take(row[2]);
  m.key = take(row[3]);
  m.value = take(row[8]);
  m.headers.reserve(8);
  m.headers.push_back({"ce_specversion", "1.0"});
  m.headers.push_back({"ce_id", take(row[1])});
  m.headers.push_back({"ce_source", take(row[5])});
  m.headers.push_back({"ce_type", take(row[4])});
  m.headers.push_back({"ce_time", take(row[7])});
  if (row[6] && !row[6]->empty()) m.headers.push_back({"ce_subject", take(row[6])});
  m.headers.push_back({"content-type", "application/json"});
  if (row[9] && !row[9]->empty()) m.headers.push_back({"traceparent", take(row[9])});
  return m;
}

}  // namespace

struct Relay::PendingEvent {
  std::int64_t seq = 0;
  bus::Message message;
};

struct Relay::Batch {
  std::vector<std::int64_t> seqs;  // of the produced events, in order
  std::shared_ptr<BatchReports> reports;
  SteadyClock::time_point deadline;  // for its delivery reports
  bool complete = true;              // false: leadership was lost before every event read was produced
  bool settled = false;              // its reports were examined (and its mark posted)
  std::size_t marking = 0;           // events of the delivered prefix whose mark was posted
};

struct Relay::Pipeline {
  std::deque<std::unique_ptr<Batch>> batches;  // oldest first; seqs ascend across them
  // Reads continue after the pipeline's last event only until then; after
  // it the pipeline drains and the next read starts at the first pending
  // event, so one committed late with a lower seq waits at most this long.
  SteadyClock::time_point rescan_at;
  // A delivery or a mark failed: nothing more is read or marked until the
  // pipeline has drained.
  bool broken = false;
};

Relay::Relay(store::Store& store, bus::Producer& producer, metrics::Registry& registry, RelaySettings settings,
             Leadership leadership, Clock clock)
    : store_(store),
      producer_(producer),
      settings_(std::move(settings)),
      leadership_(std::move(leadership)),
      clock_(std::move(clock)),
      postgres_(detail::dialect_of(store).postgres),
      pending_(registry.gauge("trueup_outbox_pending", "Outbox events not yet published")),
      lag_(registry.gauge("trueup_outbox_lag_seconds", "Age of the oldest unpublished outbox event, in seconds")),
      published_(registry.counter("trueup_outbox_published_total",
                                  "Outbox events published to the bus and marked by this process")),
      failures_(registry.counter("trueup_outbox_publish_failures_total",
                                 "Outbox events whose delivery to the bus failed (retried later)")),
      leader_(registry.gauge("trueup_relay_leader", "1 while this process's outbox relay may publish, else 0")) {
  if (settings_.batch_size == 0) throw std::invalid_argument("outbox relay: batch_size must be at least 1");
  if (settings_.pipeline_depth == 0) throw std::invalid_argument("outbox relay: pipeline_depth must be at least 1");
  if (settings_.poll_interval.count() <= 0 || settings_.retry_backoff.count() <= 0 ||
      settings_.delivery_timeout.count() <= 0 || settings_.cleanup_interval.count() <= 0 ||
      settings_.gauge_interval.count() <= 0)
    throw std::invalid_argument("outbox relay: intervals and timeouts must be positive");
  if (settings_.cleanup_batch == 0) throw std::invalid_argument("outbox relay: cleanup_batch must be at least 1");
}

Relay::~Relay() { stop(); }

bool Relay::leader() const { return !leadership_ || leadership_(); }

void Relay::start() {
  std::lock_guard lock(mu_);
  if (thread_.joinable() || stopping_) return;
  thread_ = std::thread([this] { run(); });
}

void Relay::notify() noexcept {
  {
    std::lock_guard lock(mu_);
    notified_ = true;
  }
  wake_.notify_one();
}

void Relay::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  leader_.set(0);
}

Result<BatchOutcome> Relay::publish_batch() {
  Pipeline pipeline;
  bool caught_up = false;
  return step(pipeline, 1, caught_up);
}

Result<BatchOutcome> Relay::step(Pipeline& pipeline, std::size_t depth, bool& caught_up) {
  BatchOutcome outcome;
  caught_up = false;
  const bool is_leader = leader();
  leader_.set(is_leader ? 1 : 0);
  if (!is_leader && pipeline.batches.empty()) {
    outcome.leader = false;
    return outcome;
  }

  collect(pipeline, Await::none, outcome);
  bool drain = !is_leader || pipeline.broken;
  while (!drain && pipeline.batches.size() < depth) {
    std::optional<std::int64_t> after;
    if (!pipeline.batches.empty()) {
      // A batch cut short by a lost lock ends the pipeline: what follows it
      // must not be produced before it.
      if (!pipeline.batches.back()->complete || SteadyClock::now() >= pipeline.rescan_at || !leader()) {
        drain = true;
        break;
      }
      after = pipeline.batches.back()->seqs.back();
    }
    auto events = read_pending(after);
    if (!events) {
      if (pipeline.batches.empty()) return std::move(events).error();
      outcome.first_error = "reading pending events failed: " + events.error().describe();
      drain = true;
      break;
    }
    if (!after) pipeline.rescan_at = SteadyClock::now() + settings_.poll_interval;
    caught_up = events->size() < settings_.batch_size;
    if (events->empty()) break;
    pipeline.batches.push_back(produce(*events));
    if (!pipeline.batches.back()->complete) drain = true;
    if (caught_up) break;
  }

  const std::size_t settled = settle(pipeline, drain ? pipeline.batches.size() : 1, outcome);
  if (drain || pipeline.broken) {
    collect(pipeline, Await::all, outcome);
    pipeline.broken = false;
  } else if (settled == 0 || pipeline.batches.size() >= depth) {
    // Nothing left to settle, or no room to read: wait for the oldest mark.
    collect(pipeline, Await::front, outcome);
  }
  return outcome;
}

Result<std::vector<Relay::PendingEvent>> Relay::read_pending(std::optional<std::int64_t> after) {
  std::vector<PendingEvent> events;
  auto read = store_.transact([&](store::Transaction& tx) -> Status {
    events.clear();
    if (postgres_) {
      // With statistics from before a backlog built up, the planner reads
      // every pending row (bitmap or sequential scan) and sorts them, and it
      // joins the event table by a merge join that scans it from its first
      // row: each batch would cost O(backlog) or O(retained events). The
      // queue's primary key yields the seqs in order and stops at the limit;
      // each event is then one index lookup (nested loop).
      auto plan = tx.exec(
          "SET LOCAL enable_bitmapscan = off; SET LOCAL enable_seqscan = off; "
          "SET LOCAL enable_mergejoin = off; SET LOCAL enable_hashjoin = off");
      if (!plan) return std::move(plan).error();
    }
    const auto limit = static_cast<std::int64_t>(settings_.batch_size);
    auto r = after ? tx.exec(select_pending(true), {limit, *after}) : tx.exec(select_pending(false), {limit});
    if (!r) return std::move(r).error();
    events.reserve(r->rows.size());
    for (auto& row : r->rows) {
      auto seq = detail::to_int(row[0]);
      if (!seq) return make_error(Errc::internal, "outbox: bad seq");
      events.push_back(PendingEvent{*seq, to_message(row)});
    }
    return Ok{};
  });
  if (!read) return std::move(read).error();
  return events;
}

std::unique_ptr<Relay::Batch> Relay::produce(std::vector<PendingEvent>& events) {
  auto batch = std::make_unique<Batch>();
  auto reports = std::make_shared<BatchReports>();
  reports->errors.resize(events.size());
  reports->reported.resize(events.size(), false);
  reports->outstanding = events.size();
  batch->seqs.reserve(events.size());
  for (std::size_t i = 0; i < events.size(); ++i) {
    // A lost lock stops production within 64 events; what is already
    // produced is still awaited and marked.
    if (i % kLeadershipCheckEvery == 0 && i > 0 && !leader()) {
      batch->complete = false;
      break;
    }
    batch->seqs.push_back(events[i].seq);
    producer_.produce(std::move(events[i].message), [reports, i](Result<bus::Delivery> r) {
      bool last = false;
      {
        std::lock_guard lock(reports->mu);
        if (!r) reports->errors[i] = std::move(r).error();
        reports->reported[i] = true;
        last = --reports->outstanding == 0;
      }
      // Only the last report wakes the relay, not every one of them.
      if (last) reports->changed.notify_all();
    });
  }
  {
    std::lock_guard lock(reports->mu);
    reports->outstanding -= events.size() - batch->seqs.size();
  }
  batch->reports = std::move(reports);
  batch->deadline = SteadyClock::now() + settings_.delivery_timeout;
  return batch;
}

std::size_t Relay::settle(Pipeline& pipeline, std::size_t count, BatchOutcome& outcome) {
  std::size_t settled = 0;
  std::size_t failed = 0;
  for (auto& batch : pipeline.batches) {
    if (batch->settled) continue;
    if (settled == count && !pipeline.broken) break;
    const std::size_t produced = batch->seqs.size();
    std::size_t ok_prefix = 0;
    {
      auto& reports = *batch->reports;
      std::unique_lock lock(reports.mu);
      reports.changed.wait_until(lock, batch->deadline, [&] { return reports.outstanding == 0; });
      while (ok_prefix < produced && reports.reported[ok_prefix] && !reports.errors[ok_prefix]) ++ok_prefix;
      for (std::size_t i = 0; i < produced; ++i)
        if (reports.errors[i]) ++failed;
      if (!pipeline.broken && ok_prefix < produced && outcome.first_error.empty()) {
        const std::string seq = std::to_string(batch->seqs[ok_prefix]);
        if (reports.errors[ok_prefix])
          outcome.first_error = "event seq " + seq + " not delivered: " + reports.errors[ok_prefix]->describe();
        else
          outcome.first_error = "event seq " + seq + ": no delivery report within " +
                                std::to_string(settings_.delivery_timeout.count()) + " ms";
      }
    }
    batch->settled = true;
    ++settled;
    // After a failure nothing later is marked: those events stay pending and
    // are published again after the failed one.
    if (pipeline.broken) continue;
    if (ok_prefix > 0) post_mark(*batch, ok_prefix);
    if (ok_prefix < produced) pipeline.broken = true;
  }
  outcome.failed += failed;
  if (failed) failures_.inc(static_cast<double>(failed));
  return settled;
}

void Relay::post_mark(Batch& batch, std::size_t count) {
  const auto& seqs = batch.seqs;
  const detail::Dialect d{postgres_};
  // Published = no longer in the queue; the event's own row is not touched.
  std::string sql = "DELETE FROM trueup_outbox_pending WHERE ";
  std::vector<store::Param> params;
  if (seqs[count - 1] - seqs[0] + 1 == static_cast<std::int64_t>(count)) {
    // seqs ascend and are unique: a range of `count` values holds exactly
    // these events (the common case, one index range scan).
    sql += "seq BETWEEN $1 AND $2";
    params.insert(params.end(), {seqs[0], seqs[count - 1]});
  } else {
    sql += d.in_list("seq", 1);
    params.emplace_back(d.int_list({seqs.begin(), seqs.begin() + static_cast<std::ptrdiff_t>(count)}));
  }
  batch.marking = count;
  // On a store thread, so the next batches are read and produced meanwhile.
  store_.post(
      [sql = std::move(sql), params = std::move(params)](store::Transaction& tx) -> Status {
        // Losing this commit in a database crash only publishes the events
        // again (at-least-once), so it need not wait for the WAL flush.
        if (auto s = tx.commit_without_flush(); !s) return s;
        auto r = tx.exec(sql, params);
        if (!r) return std::move(r).error();
        return Ok{};
      },
      [reports = batch.reports](Status s) {
        {
          std::lock_guard lock(reports->mu);
          reports->marked = std::move(s);
        }
        reports->changed.notify_all();
      });
}

void Relay::collect(Pipeline& pipeline, Await await, BatchOutcome& outcome) {
  while (!pipeline.batches.empty()) {
    Batch& batch = *pipeline.batches.front();
    if (!batch.settled) return;
    Status marked = Ok{};
    if (batch.marking > 0) {
      auto& reports = *batch.reports;
      std::unique_lock lock(reports.mu);
      if (!reports.marked) {
        if (await == Await::none) return;
        reports.changed.wait(lock, [&] { return reports.marked.has_value(); });
      }
      marked = *reports.marked;
    }
    if (await == Await::front) await = Await::none;
    if (!marked) {
      // They are on the bus; they will be published again (at-least-once).
      if (outcome.first_error.empty()) outcome.first_error = "marking published failed: " + marked.error().describe();
      pipeline.broken = true;
    } else if (batch.marking > 0) {
      outcome.published += batch.marking;
      published_.inc(static_cast<double>(batch.marking));
    }
    pipeline.batches.pop_front();
  }
}

Status Relay::refresh_gauges() {
  const detail::Dialect d{postgres_};
  std::int64_t count = 0;
  std::optional<double> oldest;
  auto s = store_.transact([&](store::Transaction& tx) -> Status {
    auto c = tx.exec("SELECT count(*) FROM trueup_outbox_pending");
    if (!c) return std::move(c).error();
    count = c->rows.empty() ? 0 : detail::to_int(c->rows[0][0]).value_or(0);
    auto o = tx.exec("SELECT " + d.epoch("created_at") +
                     " FROM trueup_outbox WHERE seq = (SELECT min(seq) FROM trueup_outbox_pending)");
    if (!o) return std::move(o).error();
    oldest = o->rows.empty() ? std::nullopt : detail::to_double(o->rows[0][0]);
    return Ok{};
  });
  if (!s) return s;
  pending_.set(static_cast<double>(count));
  if (oldest) {
    const double now = std::chrono::duration<double>(now_of(clock_).time_since_epoch()).count();
    lag_.set(now > *oldest ? now - *oldest : 0.0);
  } else {
    lag_.set(0.0);
  }
  return Ok{};
}

Result<std::size_t> Relay::purge_published() {
  const detail::Dialect d{postgres_};
  const std::string cutoff = detail::timestamp(now_of(clock_) - settings_.retention);
  std::size_t total = 0;
  for (;;) {
    std::int64_t n = 0;
    auto s = store_.transact([&](store::Transaction& tx) -> Status {
      // Among the oldest `cleanup_batch` events (seq order is append order,
      // and the primary key yields them without reading the rest), those
      // appended before the cutoff and no longer pending. A chunk that
      // deletes none ends the pass: the oldest left are younger, or pending.
      auto r = tx.exec(
          "DELETE FROM trueup_outbox WHERE seq IN (SELECT oldest.seq FROM (SELECT seq, created_at FROM "
          "trueup_outbox ORDER BY seq LIMIT $2) oldest WHERE oldest.created_at <= " +
              d.ts(1) + " AND NOT EXISTS (SELECT 1 FROM trueup_outbox_pending p WHERE p.seq = oldest.seq))",
          {cutoff, static_cast<std::int64_t>(settings_.cleanup_batch)});
      if (!r) return std::move(r).error();
      n = r->affected;
      return Ok{};
    });
    if (!s) return std::move(s).error();
    total += static_cast<std::size_t>(n);
    if (n == 0) return total;
  }
}

void Relay::run() {
  using steady = std::chrono::steady_clock;
  auto next_gauges = steady::now();
  auto next_cleanup = steady::now();
  bool was_leader = false;
  std::string last_error;
  const log::Field instance{"instance", settings_.instance};
  auto report = [&](const std::string& error) {
    if (!error.empty()) {
      if (error != last_error) log::warn("outbox relay: publishing failed, will retry", {instance, {"error", error}});
    } else if (!last_error.empty()) {
      log::info("outbox relay: publishing again", {instance});
    }
    last_error = error;
  };
  Pipeline pipeline;
  for (;;) {
    bool more = false;
    bool failed = false;
    const bool is_leader = leader();
    leader_.set(is_leader ? 1 : 0);
    if (is_leader != was_leader) {
      log::info(is_leader ? "outbox relay: leading, publishing" : "outbox relay: not leading, idle", {instance});
      was_leader = is_leader;
    }
    // A pipeline left by a lost lock is still retired (awaited and marked).
    if (is_leader || !pipeline.batches.empty()) {
      bool caught_up = false;
      auto r = step(pipeline, settings_.pipeline_depth, caught_up);
      std::string error;
      if (!r)
        error = r.error().describe();
      else if (!r->first_error.empty())
        error = r->first_error;
      report(error);
      failed = !error.empty();  // the step drained the pipeline
      more = !failed && r->leader && (!pipeline.batches.empty() || !caught_up);
    }
    const auto now = steady::now();
    if (now >= next_gauges) {
      if (auto s = refresh_gauges(); !s)
        log::warn("outbox relay: reading lag failed", {instance, {"error", s.error().describe()}});
      next_gauges = now + settings_.gauge_interval;
    }
    if (is_leader && now >= next_cleanup) {
      if (auto n = purge_published(); !n)
        log::warn("outbox relay: cleanup of published events failed", {instance, {"error", n.error().describe()}});
      next_cleanup = now + settings_.cleanup_interval;
    }
    std::unique_lock lock(mu_);
    if (stopping_) break;
    if (more) continue;
    if (failed) {
      wake_.wait_for(lock, settings_.retry_backoff, [&] { return stopping_; });
    } else {
      wake_.wait_for(lock, settings_.poll_interval, [&] { return stopping_ || notified_; });
    }
    notified_ = false;
    if (stopping_) break;
  }
  if (!pipeline.batches.empty()) {
    BatchOutcome outcome;
    settle(pipeline, pipeline.batches.size(), outcome);
    collect(pipeline, Await::all, outcome);
    report(outcome.first_error);
  }
  leader_.set(0);
}

}  // namespace trueup::messaging
