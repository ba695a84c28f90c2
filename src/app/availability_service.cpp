#include "availability_service.hpp"

#include <cmath>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_map>

#include "trueup/connector/hub.hpp"
#include "trueup/connector/operations.hpp"
#include "trueup/core/digest.hpp"
#include "trueup/inventory/availability.hpp"
#include "trueup/inventory/push_schedule.hpp"
#include "trueup/log/log.hpp"
#include "trueup/metrics/registry.hpp"
#include "trueup/store/store.hpp"
#include "trueup/workflow/exceptions.hpp"

namespace trueup::app {
namespace {

using Clock = std::chrono::steady_clock;
using WallTime = std::chrono::system_clock::time_point;

// A stock_dirty row: the position's on-hand and the earliest occurred_at of
// the sales and returns behind the mark (migrations/*/0012), when known.
struct DirtyPosition {
  std::string sku;
  std::string location;
  std::int64_t on_hand_e5 = 0;
  std::optional<WallTime> sold_at;
};

// Milliseconds since the Unix epoch (as the drain reads the mark's Julian day).
std::optional<WallTime> wall_time_of_ms(const std::optional<std::string>& ms) {
  if (!ms) return std::nullopt;
  const double v = std::strtod(ms->c_str(), nullptr);
  if (!std::isfinite(v)) return std::nullopt;
  return WallTime(std::chrono::duration_cast<WallTime::duration>(std::chrono::duration<double, std::milli>(v)));
}

// A push taken from the schedule, with the time of the earliest sale it
// carries (for the sale-to-channel latency; none after a restart or for a
// reservation change).
struct TakenPush {
  inventory::DuePush due;
  std::optional<WallTime> sold_at;
};

}  // namespace

struct AvailabilityService::Impl {
  Impl(store::Store& s, connector::Hub& h, workflow::ExceptionQueue& e, metrics::Registry& r,
       AvailabilityServiceSettings st, std::function<bool()> l)
      : store(s),
        hub(h),
        exceptions(e),
        registry(r),
        settings(std::move(st)),
        leader(std::move(l)),
        engine(settings.rules) {}

  struct Channel {
    inventory::ChannelId id = 0;
    ChannelPush push;
    connector::Connector* target = nullptr;
    metrics::Counter* pushed = nullptr;
    metrics::Counter* failed = nullptr;
    metrics::Counter* retried = nullptr;
    metrics::Histogram* delay = nullptr;
    metrics::Histogram* sale_to_channel = nullptr;
    metrics::Gauge* pending = nullptr;
    metrics::Counter* drift = nullptr;
    bool batch = false;               // the connector offers set_available_batch
    std::set<std::string> locations;  // whose stock feeds the channel
    // Under mu: per SKU with a change not yet accepted by the channel, the
    // earliest sale behind it.
    std::unordered_map<inventory::SkuId, WallTime> unpushed_since;
    bool drift_supported = true;
    std::map<std::string, int> drift_streak;  // SKU -> checks in a row with drift
    std::thread thread;
  };

  store::Store& store;
  connector::Hub& hub;
  workflow::ExceptionQueue& exceptions;
  metrics::Registry& registry;
  AvailabilityServiceSettings settings;
  std::function<bool()> leader;
  inventory::AvailabilityEngine engine;
  std::unique_ptr<inventory::PushSchedule> schedule;
  std::vector<std::unique_ptr<Channel>> channels;
  std::map<inventory::ChannelId, Channel*> pushed_channels;
  std::map<std::string, std::vector<std::string>> held_keys;  // order id -> reservation keys held in the engine

  std::mutex mu;
  std::condition_variable cv;  // stop, new pushes
  bool stopping = false;
  bool loaded = false;  // under mu: the engine holds the store's figures
  std::thread feeder;

  bool wait(std::chrono::milliseconds d) {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, d, [this] { return stopping; });
  }

  // The store's figures into the engine: every position, the published
  // values; the dirty marks it clears go to `dirty` (their sale times start
  // the latency of what the recompute pushes).
  Status load(std::vector<DirtyPosition>& dirty) {
    std::vector<std::tuple<std::string, std::string, std::int64_t>> positions;
    std::vector<std::tuple<std::string, std::string, std::int64_t>> published;
    auto st = store.transact([&](store::Transaction& tx) -> Status {
      positions.clear();
      published.clear();
      // Read and clear the dirty marks first: what changes after is marked again.
      auto cleared = take_dirty(tx, dirty);
      if (!cleared) return cleared;
      auto p = tx.exec("SELECT sku, location, on_hand_e5 FROM stock_position");
      if (!p) return std::move(p).error();
      for (const auto& row : p->rows) positions.emplace_back(*row[0], *row[1], std::stoll(*row[2]));
      auto held = tx.exec(unlocked_marks("reservation_dirty"));
      if (!held) return std::move(held).error();
      auto q = tx.exec("SELECT channel, sku, available FROM availability_published");
      if (!q) return std::move(q).error();
      for (const auto& row : q->rows) published.emplace_back(*row[0], *row[1], std::stoll(*row[2]));
      return Ok{};
    });
    if (!st) return st;
    for (const auto& [sku, location, on_hand] : positions) set(sku, location, on_hand, false);
    for (const auto& [key, order] : held_keys)
      for (const auto& k : order) engine.release(k);
    held_keys.clear();
    if (auto st = read_reservations(""); !st) return st;
    for (const auto& [channel, sku, value] : published)
      if (auto id = engine.channel_id(channel)) engine.mark_published(*id, engine.sku_id(sku), value);
    const auto differ = engine.recompute();
    log::info("availability loaded", {{"positions", std::to_string(positions.size())},
                                      {"published", std::to_string(published.size())},
                                      {"to_push", std::to_string(differ)}});
    return Ok{};
  }

  void set(const std::string& sku, const std::string& location, std::int64_t on_hand_e5, bool count_sales) {
    auto whole = Quantity::from_scaled(on_hand_e5).to_integer();
    if (!whole) {
      log::warn("availability: fractional stock not counted",
                {{"sku", sku}, {"location", location}, {"on_hand_e5", std::to_string(on_hand_e5)}});
      return;
    }
    const std::int64_t units = *whole;
    if (count_sales) {
      const auto before = engine.position(sku, location).on_hand;
      if (units < before) schedule->record_sale(engine.sku_id(sku), before - units, Clock::now());
    }
    if (auto st = engine.set_on_hand(sku, location, units); !st)
      log::warn("availability: position not taken", {{"sku", sku}, {"error", st.error().describe()}});
  }

  // The reservations of one order ("" = all) into the engine, replacing
  // what the engine held for it. An order without a location holds stock at
  // its channel's push location (else the channel's first location).
  Status read_reservations(const std::string& order_id) {
    std::vector<std::vector<std::string>> rows;
    auto st = store.transact([&](store::Transaction& tx) -> Status {
      rows.clear();
      auto r = order_id.empty()
                   ? tx.exec("SELECT order_id, line_id, channel, sku, location, quantity_e5 FROM stock_reservation")
                   : tx.exec(
                         "SELECT order_id, line_id, channel, sku, location, quantity_e5 FROM stock_reservation WHERE "
                         "order_id = $1",
                         {order_id});
      if (!r) return std::move(r).error();
      for (const auto& row : r->rows)
        rows.push_back({*row[0], *row[1], *row[2], *row[3], row[4] ? *row[4] : std::string(), *row[5]});
      return Ok{};
    });
    if (!st) return st;
    if (!order_id.empty()) {
      for (const auto& k : held_keys[order_id]) engine.release(k);
      held_keys.erase(order_id);
    }
    for (const auto& row : rows) {
      std::string location = row[4];
      if (location.empty())
        for (const auto& c : settings.rules.channels)
          if (c.code == row[2])
            location = !c.push_location.empty() ? c.push_location : (c.locations.empty() ? "" : c.locations.front());
      auto units = Quantity::from_scaled(std::stoll(row[5])).to_integer();
      if (location.empty() || !units) {
        log::warn("availability: reservation not held (no location for its channel, or a fractional quantity)",
                  {{"order", row[0]}, {"line", row[1]}, {"channel", row[2]}});
        continue;
      }
      const std::string key = row[0] + "|" + row[1];
      if (auto held = engine.reserve(key, row[3], location, *units); !held) {
        log::warn("availability: reservation not held", {{"order", row[0]}, {"error", held.error().describe()}});
        continue;
      }
      held_keys[row[0]].push_back(key);
    }
    return Ok{};
  }

  // "DELETE FROM `table`" of dirty marks: on PostgreSQL only the marks no
  // transaction holds; a held one commits marked and the next drain takes it.
  std::string unlocked_marks(const std::string& table) const {
    std::string sql = "DELETE FROM " + table;
    if (store.engine() == "postgres") sql += " WHERE ctid IN (SELECT ctid FROM " + table + " FOR UPDATE SKIP LOCKED)";
    return sql;
  }

  // Clears the dirty marks into `out`: each position, its on-hand and the
  // earliest sale behind the mark (a Julian day, read as Unix milliseconds).
  // A mark a movement being recorded holds is left for the next drain, so
  // the drain neither waits for it nor deadlocks with a transaction marking
  // several positions.
  Status take_dirty(store::Transaction& tx, std::vector<DirtyPosition>& out) const {
    out.clear();
    auto r = tx.exec(unlocked_marks("stock_dirty") +
                     " RETURNING sku, location, on_hand_e5, (earliest_occurred_jd - 2440587.5) * 86400000.0");
    if (!r) return std::move(r).error();
    for (const auto& row : r->rows)
      out.push_back(DirtyPosition{*row[0], *row[1], std::stoll(*row[2]), wall_time_of_ms(row[3])});
    return Ok{};
  }

  // The positions changed since the last drain (into `changed`), then the
  // orders whose reservations changed.
  Result<std::size_t> drain(std::vector<DirtyPosition>& changed) {
    auto st = store.transact([&](store::Transaction& tx) { return take_dirty(tx, changed); });
    if (!st) return std::move(st).error();
    for (const auto& p : changed) set(p.sku, p.location, p.on_hand_e5, true);
    std::vector<std::string> orders;
    auto dirty = store.transact([&](store::Transaction& tx) -> Status {
      orders.clear();
      auto r = tx.exec(unlocked_marks("reservation_dirty") + " RETURNING order_id");
      if (!r) return std::move(r).error();
      for (const auto& row : r->rows) orders.push_back(*row[0]);
      return Ok{};
    });
    if (!dirty) return std::move(dirty).error();
    for (const auto& order : orders)
      if (auto st = read_reservations(order); !st) return std::move(st).error();
    return changed.size() + orders.size();
  }

  void feed_loop() {
    std::vector<DirtyPosition> drained;
    while (!wait(settings.poll_interval)) {
      drained.clear();
      if (!leader()) {
        std::lock_guard lock(mu);
        loaded = false;
        continue;
      }
      bool need_load = false;
      {
        std::lock_guard lock(mu);
        need_load = !loaded;
      }
      if (need_load) {
        if (auto st = load(drained); !st) {
          log::warn("availability: loading the stock failed; retrying", {{"error", st.error().describe()}});
          continue;
        }
        std::lock_guard lock(mu);
        loaded = true;
      } else if (auto n = drain(drained); !n) {
        log::warn("availability: reading stock changes failed", {{"error", n.error().describe()}});
        continue;
      }
      auto changes = engine.drain_changes();
      if (changes.empty()) continue;
      // Channels without a push target are computed only: their value counts as shown.
      std::erase_if(changes, [this](const inventory::AvailabilityChange& ch) {
        if (pushed_channels.contains(ch.channel)) return false;
        engine.mark_published(ch.channel, ch.sku, ch.available);
        return true;
      });
      std::unordered_map<inventory::SkuId, std::vector<const DirtyPosition*>> sold;  // SKU -> its marks with a time
      for (const auto& p : drained)
        if (p.sold_at) sold[engine.sku_id(p.sku)].push_back(&p);
      {
        // With the schedule: a push thread takes a value and the sale times
        // it carries together.
        std::lock_guard lock(mu);
        schedule->add(changes, Clock::now());
        for (const auto& ch : changes) {
          auto marks = sold.find(ch.sku);
          if (marks == sold.end()) continue;
          Channel& c = *pushed_channels.at(ch.channel);
          for (const DirtyPosition* p : marks->second)
            if (c.locations.contains(p->location)) keep_earliest(c, ch.sku, *p->sold_at);
        }
      }
      for (auto& c : channels) c->pending->set(static_cast<double>(schedule->pending(c->id)));
      cv.notify_all();
    }
  }

  // Under mu.
  static void keep_earliest(Channel& c, inventory::SkuId sku, WallTime sold_at) {
    auto [it, added] = c.unpushed_since.emplace(sku, sold_at);
    if (!added && sold_at < it->second) it->second = sold_at;
  }

  // A push the channel did not take: due again (retryable), with the sale
  // time it carried, or given up until the SKU's next change.
  void not_taken(Channel& c, const TakenPush& p, const std::string& sku, bool retryable, const std::string& error) {
    if (retryable) {
      c.retried->inc();
      std::lock_guard lock(mu);
      schedule->requeue(p.due, Clock::now());
      if (p.sold_at) keep_earliest(c, p.due.sku, *p.sold_at);
      return;
    }
    c.failed->inc();
    log::warn("availability push refused; tried again at the SKU's next change",
              {{"channel", c.push.channel}, {"sku", sku}, {"error", error}});
  }

  // Pushes the channel took: the metrics, the engine's published values,
  // availability_published (one statement).
  void taken(Channel& c, const std::vector<const TakenPush*>& pushes) {
    if (pushes.empty()) return;
    const auto now = Clock::now();
    const auto wall = std::chrono::system_clock::now();
    for (const TakenPush* p : pushes) {
      c.pushed->inc();
      c.delay->observe(std::chrono::duration<double>(now - p->due.first_seen).count());
      if (p->sold_at)
        c.sale_to_channel->observe(std::max(0.0, std::chrono::duration<double>(wall - *p->sold_at).count()));
    }
    std::vector<store::Param> params;
    for (const TakenPush* p : pushes) {
      engine.mark_published(c.id, p->due.sku, p->due.available);
      params.insert(params.end(), {c.push.channel, engine.sku_code(p->due.sku), p->due.available});
    }
    auto st = store.transact([&](store::Transaction& tx) -> Status {
      auto w = tx.exec("INSERT INTO availability_published (channel, sku, available) VALUES " +
                           store::values_tuples(pushes.size(), 3) +
                           " ON CONFLICT (channel, sku) DO UPDATE SET available = excluded.available, pushed_at = "
                           "CURRENT_TIMESTAMP",
                       params);
      if (!w) return std::move(w).error();
      return Ok{};
    });
    if (!st)
      log::warn(
          "availability: published values not recorded (pushed again after a restart)",
          {{"channel", c.push.channel}, {"values", std::to_string(pushes.size())}, {"error", st.error().describe()}});
  }

  // Pushes one value with set_available.
  void push(Channel& c, const TakenPush& p) {
    const std::string sku = engine.sku_code(p.due.sku);
    connector::OutboundCall call;
    call.operation = connector::kSetAvailable;
    call.input = connector::set_available_input(sku, c.push.location, p.due.available);
    // Unique per push, the same for its retries (requeue keeps first_seen): a
    // later push of an earlier value is a new call, not a repeat.
    call.idempotency_key = "avail:" + c.push.channel + ":" + sku + ":" + std::to_string(p.due.available) + ":" +
                           std::to_string(p.due.first_seen.time_since_epoch().count());
    call.deadline = Clock::now() + std::chrono::seconds(30);
    auto r = c.target->perform(call);
    if (!r) return not_taken(c, p, sku, r.error().retryable(), r.error().describe());
    taken(c, {&p});
  }

  // Pushes up to kMaxSetAvailableBatch values with one set_available_batch;
  // each item is taken, due again or refused on its own.
  void push_batch(Channel& c, const std::vector<TakenPush>& pushes) {
    connector::SetAvailableBatch batch{c.push.location, {}};
    // The same batch (a retry of the same values, first seen at the same
    // times) has the same key; any other batch another.
    std::string identity = c.push.location;
    for (const auto& p : pushes) {
      batch.items.push_back(connector::AvailableQuantity{engine.sku_code(p.due.sku), p.due.available});
      identity += "|" + batch.items.back().sku + ":" + std::to_string(p.due.available) + ":" +
                  std::to_string(p.due.first_seen.time_since_epoch().count());
    }
    connector::OutboundCall call;
    call.operation = connector::kSetAvailableBatch;
    call.input = connector::set_available_batch_input(batch);
    call.idempotency_key = "avail:" + c.push.channel + ":" + sha256_hex(identity).substr(0, 32);
    call.deadline = Clock::now() + std::chrono::seconds(30);
    auto r = c.target->perform(call);
    Result<std::vector<connector::ItemOutcome>> outcomes =
        r ? connector::read_item_outcomes(*r) : Result<std::vector<connector::ItemOutcome>>(r.error());
    if (!outcomes) {
      // The call as a whole: every item shares its fate. An answer of the
      // wrong shape may still have been applied: pushed again (set-to-value).
      const bool retryable = r ? true : r.error().retryable();
      for (std::size_t i = 0; i < pushes.size(); ++i)
        not_taken(c, pushes[i], batch.items[i].sku, retryable, outcomes.error().describe());
      return;
    }
    std::unordered_map<std::string, const connector::ItemOutcome*> by_sku;
    for (const auto& o : *outcomes) by_sku.emplace(o.sku, &o);
    std::vector<const TakenPush*> accepted;
    for (std::size_t i = 0; i < pushes.size(); ++i) {
      auto it = by_sku.find(batch.items[i].sku);
      if (it == by_sku.end()) {
        not_taken(c, pushes[i], batch.items[i].sku, true, "the connector's answer does not name it");
      } else if (it->second->result == connector::ItemResult::accepted) {
        accepted.push_back(&pushes[i]);
      } else {
        not_taken(c, pushes[i], batch.items[i].sku, it->second->result == connector::ItemResult::retry,
                  it->second->error);
      }
    }
    taken(c, accepted);
  }

  // Reads the channel back and makes every difference the engine's next
  // change (mark_published with what the channel shows); on the push thread,
  // so no push of the channel is in flight meanwhile.
  void check_drift(Channel& c) {
    std::vector<std::string> skus;
    std::vector<inventory::SkuId> ids;
    const std::size_t known = engine.counts().skus;
    for (inventory::SkuId sku = 0; sku < known; ++sku)
      if (engine.published(c.id, sku) != inventory::kNeverPublished) {
        skus.push_back(engine.sku_code(sku));
        ids.push_back(sku);
      }
    std::size_t found = 0;
    for (std::size_t at = 0; at < skus.size(); at += 500) {
      const std::vector<std::string> batch(skus.begin() + static_cast<std::ptrdiff_t>(at),
                                           skus.begin() + static_cast<std::ptrdiff_t>(std::min(at + 500, skus.size())));
      auto shown = c.target->read_available(c.push.location, batch);
      if (!shown) {
        if (shown.error().code == Errc::unsupported) c.drift_supported = false;
        log::warn("availability drift check failed",
                  {{"channel", c.push.channel}, {"error", shown.error().describe()}});
        return;
      }
      for (std::size_t i = at; i < at + batch.size(); ++i) {
        auto it = shown->find(skus[i]);
        if (it == shown->end()) continue;
        const auto published = engine.published(c.id, ids[i]);
        if (it->second == published) {
          c.drift_streak.erase(skus[i]);
          continue;
        }
        if (it->second == engine.available(c.id, ids[i])) {
          // Not drift: the channel already shows what Trueup computes now
          // (its own order decrement arrived before the push that would
          // have said the same); nothing to push.
          engine.mark_published(c.id, ids[i], it->second);
          c.drift_streak.erase(skus[i]);
          continue;
        }
        ++found;
        c.drift->inc();
        engine.mark_published(c.id, ids[i], it->second);
        log::warn("availability drift: the channel shows another quantity; repairing",
                  {{"channel", c.push.channel},
                   {"sku", skus[i]},
                   {"shows", std::to_string(it->second)},
                   {"pushed", std::to_string(published)}});
        if (++c.drift_streak[skus[i]] == settings.rules.drift.exception_after) open_drift_exception(c, skus[i]);
      }
    }
    if (found > 0) cv.notify_all();
  }

  void open_drift_exception(const Channel& c, const std::string& sku) {
    auto st = store.transact([&](store::Transaction& tx) -> Status {
      auto opened = exceptions.open(
          tx, workflow::ExceptionSpec{
                  "availability_drift",
                  "warning",
                  {"sku", sku},
                  "channel " + c.push.channel + " showed another quantity for " + sku + " than Trueup pushed at " +
                      std::to_string(settings.rules.drift.exception_after) +
                      " checks in a row; something else sets it (another app, a person in the channel's admin)",
                  {{"channel", c.push.channel}, {"connector", c.push.connector}, {"location", c.push.location}}});
      if (!opened) return std::move(opened).error();
      return Ok{};
    });
    if (!st) log::warn("availability_drift exception not opened", {{"sku", sku}, {"error", st.error().describe()}});
  }

  void push_loop(Channel& c) {
    const auto interval = settings.rules.drift.check_interval;
    auto next_drift = Clock::now() + interval;
    for (;;) {
      {
        std::unique_lock lock(mu);
        const auto next = schedule->next_due(c.id);
        auto until = next ? *next : Clock::now() + std::chrono::seconds(1);
        if (interval.count() > 0 && c.drift_supported) until = std::min(until, next_drift);
        cv.wait_until(lock, until, [&] {
          if (stopping) return true;
          const auto n = schedule->next_due(c.id);
          return n && *n <= Clock::now();
        });
        if (stopping) return;
      }
      if (interval.count() > 0 && c.drift_supported && Clock::now() >= next_drift) {
        next_drift = Clock::now() + interval;
        bool ready = false;
        {
          std::lock_guard lock(mu);
          ready = loaded;
        }
        if (ready && leader()) check_drift(c);
      }
      std::vector<TakenPush> taken_now;
      {
        std::lock_guard lock(mu);
        for (auto& d : schedule->take_due(c.id, Clock::now(),
                                          c.batch ? std::min(settings.items_per_batch, connector::kMaxSetAvailableBatch)
                                                  : settings.pushes_per_take)) {
          std::optional<WallTime> sold_at;
          if (auto it = c.unpushed_since.find(d.sku); it != c.unpushed_since.end()) {
            sold_at = it->second;
            c.unpushed_since.erase(it);
          }
          taken_now.push_back(TakenPush{d, sold_at});
        }
      }
      if (c.batch && !taken_now.empty()) {
        push_batch(c, taken_now);
      } else {
        for (const auto& p : taken_now) {
          {
            std::lock_guard lock(mu);
            if (stopping) return;
          }
          push(c, p);
        }
      }
      c.pending->set(static_cast<double>(schedule->pending(c.id)));
    }
  }
};

AvailabilityService::AvailabilityService(store::Store& store, connector::Hub& hub, workflow::ExceptionQueue& exceptions,
                                         metrics::Registry& registry, AvailabilityServiceSettings settings,
                                         std::function<bool()> leader)
    : impl_(std::make_unique<Impl>(store, hub, exceptions, registry, std::move(settings), std::move(leader))) {}

AvailabilityService::~AvailabilityService() { stop(); }

Status AvailabilityService::start() {
  auto& impl = *impl_;
  std::vector<inventory::SkuId> hot;
  for (const auto& sku : impl.settings.rules.tiers.hot_skus) hot.push_back(impl.engine.sku_id(sku));
  impl.schedule = std::make_unique<inventory::PushSchedule>(impl.settings.rules.tiers, hot, Clock::now());
  for (const auto& p : impl.settings.pushes) {
    auto id = impl.engine.channel_id(p.channel);
    if (!id) return make_error(Errc::invalid_argument, "availability: channel " + p.channel + " has no rule");
    auto op = impl.hub.operation(p.connector, connector::kSetAvailable);
    if (!op)
      return make_error(Errc::invalid_argument, "availability: channel " + p.channel + ": " + op.error().message);
    auto c = std::make_unique<Impl::Channel>();
    c->id = *id;
    impl.pushed_channels[*id] = c.get();
    c->push = p;
    c->target = impl.hub.find(p.connector);
    c->batch = impl.hub.operation(p.connector, connector::kSetAvailableBatch).ok();
    for (const auto& rule : impl.settings.rules.channels)
      if (rule.code == p.channel) c->locations.insert(rule.locations.begin(), rule.locations.end());
    const metrics::Labels ch{{"channel", p.channel}};
    const auto with = [&](const char* result) { return metrics::Labels{{"channel", p.channel}, {"result", result}}; };
    c->pushed = &impl.registry.counter("trueup_availability_pushes_total", "Availability pushes to channels by result.",
                                       with("accepted"));
    c->retried = &impl.registry.counter("trueup_availability_pushes_total",
                                        "Availability pushes to channels by result.", with("retry"));
    c->failed = &impl.registry.counter("trueup_availability_pushes_total", "Availability pushes to channels by result.",
                                       with("refused"));
    c->delay =
        &impl.registry.histogram("trueup_availability_push_delay_seconds",
                                 "From the change reaching the availability service to the channel accepting it.",
                                 {0.05, 0.1, 0.25, 0.5, 1, 2, 5, 15, 60, 300, 900}, ch);
    c->sale_to_channel = &impl.registry.histogram(
        "trueup_availability_sale_to_channel_seconds",
        "From the earliest sale (movement occurred_at) behind a pushed quantity to the channel accepting it.",
        {0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 30, 60, 300, 900, 3600}, ch);
    log::info("availability: channel pushes",
              {{"channel", p.channel},
               {"connector", p.connector},
               {"operation", c->batch ? connector::kSetAvailableBatch : connector::kSetAvailable}});
    c->drift =
        &impl.registry.counter("trueup_inventory_drift_total",
                               "Channel quantities found different from what Trueup pushed (then repaired).", ch);
    c->pending = &impl.registry.gauge("trueup_availability_pending", "Channel quantities waiting to be pushed.", ch);
    impl.channels.push_back(std::move(c));
  }
  impl.feeder = std::thread([&impl] { impl.feed_loop(); });
  for (auto& c : impl.channels) c->thread = std::thread([&impl, ch = c.get()] { impl.push_loop(*ch); });
  return Ok{};
}

void AvailabilityService::stop() {
  auto& impl = *impl_;
  {
    std::lock_guard lock(impl.mu);
    impl.stopping = true;
  }
  impl.cv.notify_all();
  if (impl.feeder.joinable()) impl.feeder.join();
  for (auto& c : impl.channels)
    if (c->thread.joinable()) c->thread.join();
}

}  // namespace trueup::app
