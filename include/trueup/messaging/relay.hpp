#pragma once
// The outbox relay: publishes pending outbox events to the bus in sequence
// order and marks them published.
//
// Each pass reads up to `batch_size` pending events (lowest sequence first),
// produces them all with the bus producer (Kafka's idempotent producer),
// waits for every delivery report, and marks the delivered prefix published
// (published_at) in one transaction. At the first event whose delivery failed
// (or whose report did not come within `delivery_timeout`) the pass stops:
// later events of the batch are not marked, and the next pass starts again
// from the failed one after `retry_backoff`.
//
// Guarantees (docs/messaging.md says more):
//   - at least once: an event is marked only after its delivery report said
//     it was stored; a crash between publishing and marking publishes the
//     batch again. Consumers dedupe on ce_id.
//   - per-key order: events are produced in sequence order and the idempotent
//     producer keeps that order per partition; a retry restarts at the first
//     failed event, so a key's events are republished from there in order.
//   - one publisher: with a leadership check (PgSingleton::held on
//     PostgreSQL) only the holder publishes; it is read before each batch and
//     every 64 events, so a lost lock stops production within a few events.
//
// Metrics (registered in the constructor; `instance` is not a label, the
// scrape target names it):
//   trueup_outbox_pending              gauge: unpublished events
//   trueup_outbox_lag_seconds          gauge: age of the oldest unpublished event
//   trueup_outbox_published_total      counter: events marked published by this process
//   trueup_outbox_publish_failures_total  counter: events whose delivery failed
//   trueup_relay_leader                gauge: 1 while this process may publish
// Gauges are refreshed by the relay's thread at most every `gauge_interval`.
//
// Thread-safety: notify() is safe from any thread (and cheap: use it after
// every commit that appended events). publish_batch, refresh_gauges and
// purge_published are for tests and tools; do not call them while the
// thread started by start() runs. stop() waits for the current batch
// (bounded by delivery_timeout). The store, producer and registry must
// outlive the Relay.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "trueup/bus/bus.hpp"
#include "trueup/core/error.hpp"
#include "trueup/messaging/clock.hpp"
#include "trueup/metrics/registry.hpp"
#include "trueup/store/store.hpp"

namespace trueup::messaging {

struct RelaySettings {
  std::string instance = "trueup";                         // names this relay in log lines
  std::size_t batch_size = 500;                            // events per pass
  std::chrono::milliseconds poll_interval{200};            // for other instances' appends
  std::chrono::milliseconds retry_backoff{1000};           // after a failed pass
  std::chrono::milliseconds delivery_timeout{60000};       // per batch; unreported events count as failed
  std::chrono::seconds retention{std::chrono::hours(24)};  // published rows are deleted after this
  std::chrono::milliseconds cleanup_interval{60000};
  std::size_t cleanup_batch = 10000;  // rows deleted per cleanup statement
  std::chrono::milliseconds gauge_interval{1000};
};

// Whether this process may publish now. Empty: always (SQLite, one process).
using Leadership = std::function<bool()>;

struct BatchOutcome {
  std::size_t published = 0;  // events delivered and marked
  std::size_t failed = 0;     // events whose delivery failed (the pass stopped at the first)
  bool leader = true;         // false: nothing was tried, not the leader
  std::string first_error;    // the first delivery or store error, if any
};

class Relay {
 public:
  // Errors in settings (batch_size 0, non-positive intervals) throw
  // std::invalid_argument: they are start-up mistakes.
  Relay(store::Store& store, bus::Producer& producer, metrics::Registry& registry, RelaySettings settings,
        Leadership leadership = {}, Clock clock = {});
  ~Relay();
  Relay(const Relay&) = delete;
  Relay& operator=(const Relay&) = delete;

  // Starts the relay's thread. Once only.
  void start();
  // Wakes the thread now (an append committed in this process).
  void notify() noexcept;
  // Stops the thread after its current batch. Idempotent; the destructor stops.
  void stop();

  // One pass, on the calling thread. Store errors reading the batch are
  // returned as errors; delivery failures and a failure to mark are reported
  // in the outcome (first_error) since some events may still have been sent.
  Result<BatchOutcome> publish_batch();
  // Updates trueup_outbox_pending and trueup_outbox_lag_seconds.
  Status refresh_gauges();
  // Deletes published rows older than `retention`, up to cleanup_batch rows
  // per statement until none is left; returns how many.
  Result<std::size_t> purge_published();

 private:
  void run();
  bool leader() const;

  store::Store& store_;
  bus::Producer& producer_;
  RelaySettings settings_;
  Leadership leadership_;
  Clock clock_;
  bool postgres_;

  metrics::Gauge& pending_;
  metrics::Gauge& lag_;
  metrics::Counter& published_;
  metrics::Counter& failures_;
  metrics::Gauge& leader_;

  std::mutex mu_;
  std::condition_variable wake_;
  bool notified_ = false;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace trueup::messaging
