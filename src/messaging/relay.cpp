#include "trueup/messaging/relay.hpp"

#include <memory>
#include <optional>
#include <stdexcept>
#include <vector>

#include "sql_support.hpp"
#include "trueup/log/log.hpp"

namespace trueup::messaging {
namespace {

struct PendingEvent {
  std::int64_t seq = 0;
  bus::Message message;
};

// Delivery reports of one batch, shared with the callbacks (which may still
// arrive after the relay gave up waiting).
struct BatchReports {
  std::mutex mu;
  std::condition_variable done;
  std::vector<std::optional<Error>> errors;  // per event: set when failed
  std::vector<bool> reported;
  std::size_t outstanding = 0;
};

bus::Message to_message(const store::Row& row) {
  // seq, id, topic, key, type, source, subject, time, data, traceparent
  bus::Message m;
  m.topic = row[2].value_or("");
  m.key = row[3].value_or("");
  m.value = row[8].value_or("");
  m.headers.reserve(9);
  m.headers.push_back({"ce_specversion", "1.0"});
  m.headers.push_back({"ce_id", row[1].value_or("")});
  m.headers.push_back({"ce_source", row[5].value_or("")});
  m.headers.push_back({"ce_type", row[4].value_or("")});
  m.headers.push_back({"ce_time", row[7].value_or("")});
  if (row[6] && !row[6]->empty()) m.headers.push_back({"ce_subject", *row[6]});
  m.headers.push_back({"content-type", "application/json"});
  if (row[9] && !row[9]->empty()) m.headers.push_back({"traceparent", *row[9]});
  return m;
}

}  // namespace

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
  BatchOutcome outcome;
  if (!leader()) {
    leader_.set(0);
    outcome.leader = false;
    return outcome;
  }
  leader_.set(1);

  std::vector<PendingEvent> events;
  auto read = store_.transact([&](store::Transaction& tx) -> Status {
    events.clear();
    auto r = tx.exec(
        "SELECT seq, id, topic, key, type, source, subject, time, data, traceparent FROM trueup_outbox "
        "WHERE published_at IS NULL ORDER BY seq LIMIT $1",
        {static_cast<std::int64_t>(settings_.batch_size)});
    if (!r) return std::move(r).error();
    events.reserve(r->rows.size());
    for (const auto& row : r->rows) {
      auto seq = detail::to_int(row[0]);
      if (!seq) return make_error(Errc::internal, "outbox: bad seq");
      events.push_back(PendingEvent{*seq, to_message(row)});
    }
    return Ok{};
  });
  if (!read) return std::move(read).error();
  if (events.empty()) return outcome;

  auto reports = std::make_shared<BatchReports>();
  reports->errors.resize(events.size());
  reports->reported.resize(events.size(), false);
  reports->outstanding = events.size();
  std::size_t produced = 0;
  for (std::size_t i = 0; i < events.size(); ++i) {
    // A lost lock stops production within 64 events; what is already
    // produced is still awaited and marked.
    if (i % 64 == 0 && i > 0 && !leader()) break;
    producer_.produce(std::move(events[i].message), [reports, i](Result<bus::Delivery> r) {
      {
        std::lock_guard lock(reports->mu);
        if (!r) reports->errors[i] = std::move(r).error();
        reports->reported[i] = true;
        --reports->outstanding;
      }
      reports->done.notify_all();
    });
    ++produced;
  }

  std::size_t ok_prefix = 0;
  {
    std::unique_lock lock(reports->mu);
    reports->outstanding -= events.size() - produced;
    reports->done.wait_for(lock, settings_.delivery_timeout, [&] { return reports->outstanding == 0; });
    while (ok_prefix < produced && reports->reported[ok_prefix] && !reports->errors[ok_prefix]) ++ok_prefix;
    for (std::size_t i = 0; i < produced; ++i)
      if (reports->errors[i]) ++outcome.failed;
    if (ok_prefix < produced) {
      if (reports->errors[ok_prefix])
        outcome.first_error = "event seq " + std::to_string(events[ok_prefix].seq) +
                              " not delivered: " + reports->errors[ok_prefix]->describe();
      else
        outcome.first_error = "event seq " + std::to_string(events[ok_prefix].seq) + ": no delivery report within " +
                              std::to_string(settings_.delivery_timeout.count()) + " ms";
    }
  }
  if (outcome.failed) failures_.inc(static_cast<double>(outcome.failed));
  if (ok_prefix == 0) return outcome;

  std::vector<std::int64_t> seqs;
  seqs.reserve(ok_prefix);
  for (std::size_t i = 0; i < ok_prefix; ++i) seqs.push_back(events[i].seq);
  const detail::Dialect d{postgres_};
  auto marked = store_.transact([&](store::Transaction& tx) -> Status {
    auto r = tx.exec("UPDATE trueup_outbox SET published_at = " + d.ts(1) + " WHERE " + d.in_list("seq", 2),
                     {detail::timestamp(now_of(clock_)), d.int_list(seqs)});
    if (!r) return std::move(r).error();
    return Ok{};
  });
  if (!marked) {
    // They are on the bus; they will be published again (at-least-once).
    if (outcome.first_error.empty()) outcome.first_error = "marking published failed: " + marked.error().describe();
    return outcome;
  }
  outcome.published = ok_prefix;
  published_.inc(static_cast<double>(ok_prefix));
  return outcome;
}

Status Relay::refresh_gauges() {
  const detail::Dialect d{postgres_};
  std::int64_t count = 0;
  std::optional<double> oldest;
  auto s = store_.transact([&](store::Transaction& tx) -> Status {
    auto c = tx.exec("SELECT count(*) FROM trueup_outbox WHERE published_at IS NULL");
    if (!c) return std::move(c).error();
    count = c->rows.empty() ? 0 : detail::to_int(c->rows[0][0]).value_or(0);
    auto o = tx.exec("SELECT " + d.epoch("created_at") +
                     " FROM trueup_outbox WHERE published_at IS NULL ORDER BY seq LIMIT 1");
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
      auto r = tx.exec(
          "DELETE FROM trueup_outbox WHERE seq IN (SELECT seq FROM trueup_outbox WHERE published_at IS "
          "NOT NULL AND published_at <= " +
              d.ts(1) + " LIMIT $2)",
          {cutoff, static_cast<std::int64_t>(settings_.cleanup_batch)});
      if (!r) return std::move(r).error();
      n = r->affected;
      return Ok{};
    });
    if (!s) return std::move(s).error();
    total += static_cast<std::size_t>(n);
    if (static_cast<std::size_t>(n) < settings_.cleanup_batch) return total;
  }
}

void Relay::run() {
  using steady = std::chrono::steady_clock;
  auto next_gauges = steady::now();
  auto next_cleanup = steady::now();
  bool was_leader = false;
  std::string last_error;
  const log::Field instance{"instance", settings_.instance};
  for (;;) {
    bool more = false;
    bool failed = false;
    const bool is_leader = leader();
    leader_.set(is_leader ? 1 : 0);
    if (is_leader != was_leader) {
      log::info(is_leader ? "outbox relay: leading, publishing" : "outbox relay: not leading, idle", {instance});
      was_leader = is_leader;
    }
    if (is_leader) {
      auto r = publish_batch();
      std::string error;
      if (!r)
        error = r.error().describe();
      else if (!r->first_error.empty())
        error = r->first_error;
      if (!error.empty()) {
        failed = true;
        if (error != last_error) log::warn("outbox relay: publishing failed, will retry", {instance, {"error", error}});
      } else if (!last_error.empty()) {
        log::info("outbox relay: publishing again", {instance});
      }
      last_error = error;
      more = r && r->leader && r->published == settings_.batch_size;
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
  leader_.set(0);
}

}  // namespace trueup::messaging
