#pragma once
// PushSchedule: when each changed channel quantity is pushed (the SLA tiers).
//
// The scheduler side of the availability engine: it takes the changes that
// AvailabilityEngine::drain_changes() yields, keeps the newest value per
// (channel, SKU) until it is pushed, and says which pushes are due now.
//   hot   SKUs in TierRules::hot_skus, or selling at >= velocity_threshold
//         sales per hour over velocity_window: due at once, with a deadline
//         of first seen + hot_push_within.
//   cold  every other SKU: due at the next cold tick (start + k ×
//         cold_interval), so a change waits at most one interval and a
//         channel gets its cold pushes in batches.
// A SKU that turns hot (velocity) makes its pending cold pushes due at once.
// A newer value for a pending (channel, SKU) replaces the older one and
// keeps its place: many changes → one push. take_due() takes at most `limit`
// pushes, so the caller asks for what its connector's rate-limit budget
// allows now; the rest stays due.
//
// Velocity: per SKU a ring of 12 sales counters covering velocity_window,
// only for SKUs sold within the window (pruned once per window).
//
// Time is passed in (steady clock), so tests drive it. Thread-safety: all
// members are safe from any thread (one mutex).

#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <span>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "trueup/inventory/availability.hpp"
#include "trueup/inventory/availability_rules.hpp"

namespace trueup::inventory {

struct DuePush {
  ChannelId channel = 0;
  SkuId sku = 0;
  std::int64_t available = 0;
  std::chrono::steady_clock::time_point first_seen;  // when the first not-yet-pushed change was added
  std::chrono::steady_clock::time_point deadline;    // hot: first_seen + hot_push_within; cold: its tick
  bool hot = false;
};

class PushSchedule {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  // `hot_skus`: the engine's ids of TierRules::hot_skus (AvailabilityEngine::sku_id).
  // `start` anchors the cold ticks.
  PushSchedule(TierRules rules, std::vector<SkuId> hot_skus, TimePoint start);

  // `units` (> 0) of a SKU sold at `now` (POS and channel sales alike).
  void record_sale(SkuId sku, std::int64_t units, TimePoint now);
  // Sales per hour over the window ending at `now`, rounded down.
  std::int64_t sales_per_hour(SkuId sku, TimePoint now) const;
  bool is_hot(SkuId sku, TimePoint now) const;

  // Changes from the engine; the newest value per (channel, SKU) wins.
  void add(std::span<const AvailabilityChange> changes, TimePoint now);
  // A push that failed: pending again (hot: due at once; cold: next tick)
  // unless a newer value for the same (channel, SKU) arrived meanwhile.
  void requeue(const DuePush& push, TimePoint now);
  // Up to `limit` pushes of `channel` due at `now`: hot ones oldest first,
  // then cold ones whose tick has come. Taken pushes leave the schedule.
  std::vector<DuePush> take_due(ChannelId channel, TimePoint now, std::size_t limit);
  // When the next push of `channel` is due (possibly <= now); nullopt when none pending.
  std::optional<TimePoint> next_due(ChannelId channel) const;
  std::size_t pending(ChannelId channel) const;

 private:
  static constexpr std::size_t kBuckets = 12;
  struct SalesWindow {
    std::int64_t newest = 0;  // bucket number of counts[newest % kBuckets]
    std::array<std::int64_t, kBuckets> counts{};
  };
  struct Entry {
    std::int64_t available = 0;
    TimePoint first_seen;
    TimePoint due;
    std::uint64_t seq = 0;
    bool hot = false;
  };
  struct QueueRecord {
    SkuId sku;
    std::uint64_t seq;
    TimePoint due;
  };
  struct ChannelQueue {
    std::unordered_map<SkuId, Entry> pending;
    std::deque<QueueRecord> hot;   // in order of arrival
    std::deque<QueueRecord> cold;  // by due tick (non-decreasing)
  };

  ChannelQueue& queue(ChannelId channel);
  void insert(ChannelId channel, SkuId sku, std::int64_t available, TimePoint first_seen, TimePoint now,
              bool replace_only_if_absent);
  TimePoint next_tick(TimePoint now) const;
  std::int64_t bucket(TimePoint t) const;
  std::int64_t sales_in_window(SkuId sku, TimePoint now) const;
  bool hot_locked(SkuId sku, TimePoint now) const;

  mutable std::mutex mutex_;
  TierRules rules_;
  std::unordered_set<SkuId> listed_hot_;
  TimePoint start_;
  std::chrono::steady_clock::duration bucket_length_;
  std::unordered_map<SkuId, SalesWindow> sales_;
  TimePoint next_prune_;
  std::vector<ChannelQueue> queues_;
  std::uint64_t seq_ = 0;
};

// A schedule for `engine`'s rules: TierRules::hot_skus interned in the engine.
PushSchedule make_push_schedule(AvailabilityEngine& engine, const TierRules& tiers,
                                std::chrono::steady_clock::time_point start);

}  // namespace trueup::inventory
