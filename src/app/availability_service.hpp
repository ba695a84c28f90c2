#pragma once
// The availability service: keeps the AvailabilityEngine fed from the stock
// ledger and pushes each channel's changed quantities through its connector,
// hot SKUs at once and the rest on the cold tick (PushSchedule).
//
//   ledger step (any instance) --stock_dirty--> this service (the leader
//   instance) --engine.set_on_hand--> drain_changes --PushSchedule--> one
//   push thread per channel --connector.perform(set_available_batch, else
//   set_available)--> channel
//
// Inputs: the store is the source of truth. On taking the lead the service
// loads every stock_position and the values last published
// (availability_published), recomputes, and pushes only what differs; then
// it drains stock_dirty (DELETE ... RETURNING, so a position written by a
// transaction still in flight is read by the next drain) every
// `poll_interval`. Quantities with a fraction are skipped with a warning
// (the engine counts whole units).
//
// Pushes: per channel one thread, so the pushes of one (channel, SKU) never
// overtake each other; the newest value wins while a push waits. When the
// channel's connector offers set_available_batch, everything due (up to
// items_per_batch) goes in one call, idempotency key
// "avail:<channel>:<digest of location, SKUs, values and first-seen times>"
// (a retry of the same batch repeats the key); each item is then accepted,
// due again or refused on its own. Otherwise one set-to-value call per SKU,
// key "avail:<channel>:<sku>:<value>:<first seen>". Accepted →
// availability_published and the engine's published value; retryable
// failure → queued again; permanent failure (an unmapped SKU) → logged and
// counted, tried again at the SKU's next change.
//
// Drift repair: every availability.drift.check_interval each push thread
// reads its channel back (Connector::read_available) for the SKUs it has
// published; a difference counts in trueup_inventory_drift_total{channel},
// becomes the engine's published value, so the next drain pushes the
// correction; the same SKU drifting drift.exception_after checks in a row
// opens an availability_drift exception.
//
// Velocity: a drop of a position's on-hand counts as that many units sold
// (POS and channel sales alike) for the hot tier.
//
// Metrics: trueup_availability_pushes_total{channel,result} (per SKU value),
// trueup_availability_push_delay_seconds{channel} (change seen -> pushed),
// trueup_availability_sale_to_channel_seconds{channel} (the earliest
// occurred_at of the POS/channel sales and returns behind a pushed value,
// as the ledger's dirty mark carries it, -> the channel accepting it;
// values without one, from counts, ERP entries, reservations or drift
// repair, are not observed),
// trueup_availability_pending{channel}.
//
// Thread-safety: start()/stop() from one thread.

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "trueup/core/error.hpp"
#include "trueup/inventory/availability_rules.hpp"

namespace trueup::store {
class Store;
}
namespace trueup::metrics {
class Registry;
}
namespace trueup::connector {
class Hub;
}
namespace trueup::workflow {
class ExceptionQueue;
}

namespace trueup::app {

// Where a channel's quantities go: the connector instance and the location
// (canonical code, mapped by the connector) that shows the channel's
// availability.
struct ChannelPush {
  std::string channel;
  std::string connector;
  std::string location;
};

struct AvailabilityServiceSettings {
  inventory::AvailabilityRules rules;
  std::vector<ChannelPush> pushes;  // channels without one are computed, not pushed
  std::chrono::milliseconds poll_interval{100};
  std::size_t pushes_per_take = 16;   // set_available calls per wake-up
  std::size_t items_per_batch = 250;  // values per set_available_batch call (at most kMaxSetAvailableBatch)
};

class AvailabilityService {
 public:
  // `leader` says whether this instance computes and pushes (one at a time
  // across instances). store, hub and registry must outlive the service.
  AvailabilityService(store::Store& store, connector::Hub& hub, workflow::ExceptionQueue& exceptions,
                      metrics::Registry& registry, AvailabilityServiceSettings settings, std::function<bool()> leader);
  ~AvailabilityService();

  // Checks that every push names a configured connector with a
  // set_available operation and a channel of the rules; notes which offer
  // set_available_batch; starts the threads.
  Status start();
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace trueup::app
