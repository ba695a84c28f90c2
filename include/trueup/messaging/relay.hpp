#pragma once
// The outbox relay: publishes pending outbox events to the bus in sequence
// order and marks them published.
//
// The relay's thread runs a pipeline of up to `pipeline_depth` batches: it
// reads the next `batch_size` pending events (lowest sequence first, after the
// last event already in the pipeline), produces them with the bus producer
// (Kafka's idempotent producer), and meanwhile settles the oldest batch:
// waits for its delivery reports and posts one statement marking its events
// published (deleting them from the queue trueup_outbox_pending) to a store
// connection. So reading and producing
// batch N+1 overlap with the delivery and the marking of batch N; a batch
// leaves the pipeline when its mark has committed. At the first event whose
// delivery failed (or whose report did not come within `delivery_timeout` of
// its batch being produced) the pipeline stops: nothing more is read or
// produced, the reports of the batches already produced are awaited, only
// the events before the failed one are marked, and the next pass starts
// again from the failed one after `retry_backoff`. A failed mark does the
// same. Reads after the pipeline's last event go on for at most
// `poll_interval`; then the pipeline drains and reading starts again at the
// first pending event (one committed late with a lower seq waits that long).
// publish_batch() is one pass with a pipeline of one batch.
//
// Guarantees (docs/messaging.md says more):
//   - at least once: an event is marked only after its delivery report said
//     it was stored; a crash between publishing and marking publishes those
//     events again, with the same ce_id. Consumers dedupe on ce_id.
//   - per-key order: events are produced in sequence order and the idempotent
//     producer keeps that order per partition; only the delivered prefix is
//     marked and a retry restarts at the first failed event, so a key's
//     events are republished from there in order.
//   - one publisher: with a leadership check (PgSingleton::held on
//     PostgreSQL) only the holder publishes; it is read before each batch and
//     every 64 events, so a lost lock stops production within a few events
//     (what is already produced is still awaited and marked).
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
// thread started by start() runs. stop() waits for the batches in the
// pipeline (bounded by delivery_timeout). The store, producer and registry
// must outlive the Relay.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "trueup/bus/bus.hpp"
#include "trueup/core/error.hpp"
#include "trueup/messaging/clock.hpp"
#include "trueup/metrics/registry.hpp"
#include "trueup/store/store.hpp"

namespace trueup::messaging {

struct RelaySettings {
  std::string instance = "trueup";                         // names this relay in log lines
  std::size_t batch_size = 500;                            // events per read (and per pass)
  std::size_t pipeline_depth = 4;                          // batches produced and not yet marked (thread)
  std::chrono::milliseconds poll_interval{200};            // for other instances' appends and late commits
  std::chrono::milliseconds retry_backoff{1000};           // after a failed pass
  std::chrono::milliseconds delivery_timeout{60000};       // per batch; unreported events count as failed
  std::chrono::seconds retention{std::chrono::hours(24)};  // published events appended longer ago are deleted
  std::chrono::milliseconds cleanup_interval{60000};
  std::size_t cleanup_batch = 10000;  // oldest events each cleanup statement looks at (and may delete)
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
  // Errors in settings (batch_size or pipeline_depth 0, non-positive intervals) throw
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
  // Stops the thread once the batches in its pipeline are retired (awaited
  // and marked). Idempotent; the destructor stops.
  void stop();

  // One pass, on the calling thread. Store errors reading the batch are
  // returned as errors; delivery failures and a failure to mark are reported
  // in the outcome (first_error) since some events may still have been sent.
  Result<BatchOutcome> publish_batch();
  // Updates trueup_outbox_pending and trueup_outbox_lag_seconds.
  Status refresh_gauges();
  // Deletes published events appended more than `retention` ago, oldest
  // first, cleanup_batch rows per statement until a statement deletes none;
  // returns how many.
  Result<std::size_t> purge_published();

 private:
  struct Batch;     // events produced together, awaiting their reports (relay.cpp)
  struct Pipeline;  // the batches in flight, oldest first (relay.cpp)
  struct PendingEvent;

  void run();
  bool leader() const;
  enum class Await { none, front, all };

  // Tops the pipeline up to `depth` batches, settles its oldest unsettled
  // batch (all of them when it must drain) and collects finished marks.
  // `caught_up`: the last read found fewer than batch_size events.
  Result<BatchOutcome> step(Pipeline& pipeline, std::size_t depth, bool& caught_up);
  Result<std::vector<PendingEvent>> read_pending(std::optional<std::int64_t> after);
  std::unique_ptr<Batch> produce(std::vector<PendingEvent>& events);
  // Waits for the delivery reports of the oldest `count` unsettled batches
  // and posts the mark of each one's delivered prefix; after a failure the
  // rest are awaited and left unmarked. Returns how many it settled.
  std::size_t settle(Pipeline& pipeline, std::size_t count, BatchOutcome& outcome);
  void post_mark(Batch& batch, std::size_t count);
  // Pops settled batches from the front whose mark finished, waiting for
  // none, the first, or all of them.
  void collect(Pipeline& pipeline, Await await, BatchOutcome& outcome);

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
