#include "trueup/inventory/push_schedule.hpp"

#include <algorithm>

namespace trueup::inventory {
namespace {
// Ring slot of a bucket number (negative before `start`).
std::size_t slot(std::int64_t bucket, std::size_t buckets) {
  const auto n = static_cast<std::int64_t>(buckets);
  return static_cast<std::size_t>((bucket % n + n) % n);
}
}  // namespace

PushSchedule::PushSchedule(TierRules rules, std::vector<SkuId> hot_skus, TimePoint start)
    : rules_(std::move(rules)),
      listed_hot_(hot_skus.begin(), hot_skus.end()),
      start_(start),
      bucket_length_(std::max<std::chrono::steady_clock::duration>(
          std::chrono::duration_cast<std::chrono::steady_clock::duration>(rules_.velocity_window) / kBuckets,
          std::chrono::milliseconds(1))),
      next_prune_(start + rules_.velocity_window) {
  if (rules_.cold_interval <= std::chrono::milliseconds::zero()) rules_.cold_interval = std::chrono::minutes(5);
}

std::int64_t PushSchedule::bucket(TimePoint t) const { return (t - start_) / bucket_length_; }

std::int64_t PushSchedule::sales_in_window(SkuId sku, TimePoint now) const {
  const auto it = sales_.find(sku);
  if (it == sales_.end()) return 0;
  const std::int64_t b = bucket(now);
  std::int64_t total = 0;
  // Buckets (b - kBuckets, b]; those after `newest` are empty.
  for (std::int64_t i = std::max(it->second.newest - static_cast<std::int64_t>(kBuckets) + 1,
                                 b - static_cast<std::int64_t>(kBuckets) + 1);
       i <= std::min(it->second.newest, b); ++i) {
    total += it->second.counts[slot(i, kBuckets)];
  }
  return total;
}

bool PushSchedule::hot_locked(SkuId sku, TimePoint now) const {
  if (listed_hot_.contains(sku)) return true;
  if (rules_.velocity_threshold <= 0) return false;
  // sales × 1h / window >= threshold, in integers.
  return sales_in_window(sku, now) * 3600000 >= rules_.velocity_threshold * rules_.velocity_window.count();
}

void PushSchedule::record_sale(SkuId sku, std::int64_t units, TimePoint now) {
  if (units <= 0) return;
  std::lock_guard lock(mutex_);
  const bool was_hot = hot_locked(sku, now);
  const std::int64_t b = bucket(now);
  auto [it, inserted] = sales_.try_emplace(sku);
  SalesWindow& w = it->second;
  if (inserted) {
    w.newest = b;
  } else if (b > w.newest) {
    for (std::int64_t i = w.newest + 1; i <= std::min(b, w.newest + static_cast<std::int64_t>(kBuckets)); ++i)
      w.counts[slot(i, kBuckets)] = 0;
    w.newest = b;
  }
  // A sale reported late (b < newest) still counts in its own bucket while in the window.
  if (b > w.newest - static_cast<std::int64_t>(kBuckets)) w.counts[slot(b, kBuckets)] += units;

  if (!was_hot && hot_locked(sku, now)) {
    // Promoted: its pending cold pushes are due now.
    for (auto& q : queues_) {
      auto e = q.pending.find(sku);
      if (e == q.pending.end() || e->second.hot) continue;
      e->second.hot = true;
      e->second.due = now;
      q.hot.push_back(QueueRecord{sku, e->second.seq, now});
    }
  }
  if (now >= next_prune_) {
    const std::int64_t oldest = b - static_cast<std::int64_t>(kBuckets);
    std::erase_if(sales_, [&](const auto& kv) { return kv.second.newest <= oldest; });
    next_prune_ = now + rules_.velocity_window;
  }
}

std::int64_t PushSchedule::sales_per_hour(SkuId sku, TimePoint now) const {
  std::lock_guard lock(mutex_);
  return sales_in_window(sku, now) * 3600000 / rules_.velocity_window.count();
}

bool PushSchedule::is_hot(SkuId sku, TimePoint now) const {
  std::lock_guard lock(mutex_);
  return hot_locked(sku, now);
}

PushSchedule::TimePoint PushSchedule::next_tick(TimePoint now) const {
  const auto interval = std::chrono::duration_cast<std::chrono::steady_clock::duration>(rules_.cold_interval);
  if (now < start_) return start_ + interval;
  return start_ + ((now - start_) / interval + 1) * interval;
}

PushSchedule::ChannelQueue& PushSchedule::queue(ChannelId channel) {
  if (channel >= queues_.size()) queues_.resize(channel + std::size_t{1});
  return queues_[channel];
}

void PushSchedule::insert(ChannelId channel, SkuId sku, std::int64_t available, TimePoint first_seen, TimePoint now,
                          bool only_if_absent) {
  ChannelQueue& q = queue(channel);
  auto [it, inserted] = q.pending.try_emplace(sku);
  Entry& e = it->second;
  if (!inserted) {
    // Coalesce: the newest value, the original place and deadline.
    if (!only_if_absent) e.available = available;
    return;
  }
  e.available = available;
  e.first_seen = first_seen;
  e.seq = ++seq_;
  e.hot = hot_locked(sku, now);
  e.due = e.hot ? now : next_tick(now);
  (e.hot ? q.hot : q.cold).push_back(QueueRecord{sku, e.seq, e.due});
}

void PushSchedule::add(std::span<const AvailabilityChange> changes, TimePoint now) {
  std::lock_guard lock(mutex_);
  for (const auto& c : changes) insert(c.channel, c.sku, c.available, now, now, false);
}

void PushSchedule::requeue(const DuePush& push, TimePoint now) {
  std::lock_guard lock(mutex_);
  insert(push.channel, push.sku, push.available, push.first_seen, now, true);
}

std::vector<DuePush> PushSchedule::take_due(ChannelId channel, TimePoint now, std::size_t limit) {
  std::lock_guard lock(mutex_);
  std::vector<DuePush> out;
  if (channel >= queues_.size()) return out;
  ChannelQueue& q = queues_[channel];
  const auto hot_within = std::chrono::duration_cast<std::chrono::steady_clock::duration>(rules_.hot_push_within);
  auto take = [&](const QueueRecord& r, bool hot) {
    auto it = q.pending.find(r.sku);
    // Stale records: taken already, replaced by a later entry, or promoted.
    if (it == q.pending.end() || it->second.seq != r.seq || it->second.hot != hot) return;
    const Entry& e = it->second;
    out.push_back(DuePush{channel, r.sku, e.available, e.first_seen, hot ? e.first_seen + hot_within : e.due, hot});
    q.pending.erase(it);
  };
  while (out.size() < limit && !q.hot.empty()) {
    const QueueRecord r = q.hot.front();
    q.hot.pop_front();
    take(r, true);
  }
  while (out.size() < limit && !q.cold.empty() && q.cold.front().due <= now) {
    const QueueRecord r = q.cold.front();
    q.cold.pop_front();
    take(r, false);
  }
  return out;
}

std::optional<PushSchedule::TimePoint> PushSchedule::next_due(ChannelId channel) const {
  std::lock_guard lock(mutex_);
  if (channel >= queues_.size()) return std::nullopt;
  const ChannelQueue& q = queues_[channel];
  std::optional<TimePoint> due;
  for (const auto& r : q.hot) {
    auto it = q.pending.find(r.sku);
    if (it != q.pending.end() && it->second.seq == r.seq && it->second.hot) {
      due = r.due;
      break;
    }
  }
  for (const auto& r : q.cold) {
    auto it = q.pending.find(r.sku);
    if (it != q.pending.end() && it->second.seq == r.seq && !it->second.hot) {
      if (!due || r.due < *due) due = r.due;
      break;
    }
  }
  return due;
}

std::size_t PushSchedule::pending(ChannelId channel) const {
  std::lock_guard lock(mutex_);
  return channel < queues_.size() ? queues_[channel].pending.size() : 0;
}

PushSchedule make_push_schedule(AvailabilityEngine& engine, const TierRules& tiers,
                                std::chrono::steady_clock::time_point start) {
  std::vector<SkuId> hot;
  hot.reserve(tiers.hot_skus.size());
  for (const auto& sku : tiers.hot_skus) hot.push_back(engine.sku_id(sku));
  return PushSchedule(tiers, std::move(hot), start);
}

}  // namespace trueup::inventory
