#include "trueup/inventory/availability.hpp"

#include <algorithm>
#include <bit>
#include <stdexcept>
#include <utility>

namespace trueup::inventory {
namespace {

Error bad(std::string message) { return make_error(Errc::invalid_argument, std::move(message)); }

Status check_units(std::string_view what, std::int64_t q) {
  if (q > kMaxUnits || q < -kMaxUnits) return bad(std::string(what) + " is beyond ±10^12 units");
  return Ok{};
}

Status check_names(std::string_view sku, std::string_view location) {
  if (sku.empty()) return bad("empty SKU");
  if (location.empty()) return bad("empty location");
  return Ok{};
}

Result<std::int64_t> whole_units(const std::optional<Quantity>& q, const model::InventoryMovement& m,
                                 std::string_view member) {
  if (!q) return bad("movement " + m.movement_id + ": " + std::string(member) + " is missing");
  auto units = q->to_integer();
  if (!units)
    return bad("movement " + m.movement_id + ": " + std::string(member) + " " + q->to_string() +
               " is not a whole number of units; the availability engine counts whole units");
  return *units;
}

// Most specific wins: group+location, then group, then location, then default.
std::int64_t most_specific(const SafetyStockRules& rules, const std::string* group, std::string_view location) {
  int best = 0;
  std::int64_t quantity = rules.default_quantity;
  for (const auto& r : rules.rules) {
    if (r.group && (group == nullptr || *r.group != *group)) continue;
    if (r.location && *r.location != location) continue;
    const int rank = (r.group ? 2 : 0) + (r.location ? 1 : 0);
    if (rank > best) {
      best = rank;
      quantity = r.quantity;
    }
  }
  return quantity;
}

}  // namespace

std::string_view to_string(MovementOutcome o) noexcept {
  switch (o) {
    case MovementOutcome::applied:
      return "applied";
    case MovementOutcome::replaced:
      return "replaced";
    case MovementOutcome::duplicate:
      return "duplicate";
    case MovementOutcome::superseded:
      return "superseded";
  }
  return "unknown";
}

// --- Interner ---

std::optional<std::uint32_t> AvailabilityEngine::Interner::find(std::string_view name) const {
  if (slots_.empty()) return std::nullopt;
  const std::size_t mask = slots_.size() - 1;
  for (std::size_t i = std::hash<std::string_view>{}(name)&mask;; i = (i + 1) & mask) {
    const std::uint32_t slot = slots_[i];
    if (slot == 0) return std::nullopt;
    if (this->name(slot - 1) == name) return slot - 1;
  }
}

std::uint32_t AvailabilityEngine::Interner::intern(std::string_view name) {
  added = false;
  if (auto id = find(name)) return *id;
  if ((size() + 1) * 2 > slots_.size()) grow();
  const auto id = static_cast<std::uint32_t>(size());
  arena_.append(name);
  offsets_.push_back(static_cast<std::uint32_t>(arena_.size()));
  const std::size_t mask = slots_.size() - 1;
  std::size_t i = std::hash<std::string_view>{}(name)&mask;
  while (slots_[i] != 0) i = (i + 1) & mask;
  slots_[i] = id + 1;
  added = true;
  return id;
}

std::string_view AvailabilityEngine::Interner::name(std::uint32_t id) const {
  return std::string_view(arena_).substr(offsets_[id], offsets_[id + 1] - offsets_[id]);
}

void AvailabilityEngine::Interner::grow() {
  std::vector<std::uint32_t> slots(std::max<std::size_t>(16, slots_.size() * 2), 0);
  const std::size_t mask = slots.size() - 1;
  for (std::uint32_t id = 0; id < size(); ++id) {
    std::size_t i = std::hash<std::string_view>{}(name(id)) & mask;
    while (slots[i] != 0) i = (i + 1) & mask;
    slots[i] = id + 1;
  }
  slots_ = std::move(slots);
}

void AvailabilityEngine::Interner::reserve(std::size_t names, std::size_t bytes) {
  arena_.reserve(bytes);
  offsets_.reserve(names + 1);
  while (names * 2 > slots_.size()) grow();
}

std::size_t AvailabilityEngine::Interner::bytes() const {
  return arena_.capacity() + offsets_.capacity() * sizeof(std::uint32_t) + slots_.capacity() * sizeof(std::uint32_t);
}

// --- rules ---

AvailabilityEngine::AvailabilityEngine(AvailabilityRules rules) {
  auto st = set_rules(std::move(rules));
  if (!st) throw std::invalid_argument("availability rules: " + st.error().message);
}

Status AvailabilityEngine::set_rules(AvailabilityRules rules) {
  if (auto st = validate(rules); !st) return st;
  // Group ids are 16 bits per SKU.
  if (rules.sku_groups.size() >= std::numeric_limits<std::uint16_t>::max())
    return bad("availability.sku_groups: at most 65534 groups");
  std::lock_guard lock(mutex_);
  const std::vector<Channel> old_channels = std::move(channels_);
  rules_ = std::move(rules);

  channels_.clear();
  for (const auto& c : rules_.channels) {
    channels_.push_back(
        Channel{c.code, c.share_percent, c.cap.value_or(std::numeric_limits<std::int64_t>::max()), c.minimum});
  }
  group_of_sku_.clear();
  group_prefixes_.clear();
  for (std::size_t g = 0; g < rules_.sku_groups.size(); ++g) {
    const auto id = static_cast<std::uint16_t>(g + 1);
    for (const auto& sku : rules_.sku_groups[g].skus) group_of_sku_.emplace(sku, id);
    for (const auto& prefix : rules_.sku_groups[g].sku_prefixes) group_prefixes_.emplace_back(prefix, id);
  }
  std::stable_sort(group_prefixes_.begin(), group_prefixes_.end(),
                   [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
  for (SkuId s = 0; s < skus_.size(); ++s) sku_group_[s] = resolve_group(skus_.name(s));

  // Published values follow their channel code.
  const std::size_t n = channels_.size();
  std::vector<std::int64_t> published(skus_.size() * n, kNeverPublished);
  for (std::size_t c = 0; c < n; ++c) {
    for (std::size_t o = 0; o < old_channels.size(); ++o) {
      if (old_channels[o].code != channels_[c].code) continue;
      for (SkuId s = 0; s < skus_.size(); ++s) published[s * n + c] = published_[s * old_channels.size() + o];
    }
  }
  published_ = std::move(published);

  for (const auto& c : rules_.channels)
    for (const auto& l : c.locations) locations_.intern(l);
  rebuild_tables();

  // Every SKU may have changed: queue all, the drain skips the unchanged.
  for (SkuId s = 0; s < skus_.size(); ++s) mark_dirty(s);
  return Ok{};
}

void AvailabilityEngine::rebuild_tables() {
  location_channels_.clear();
  safety_.clear();
  for (LocationId l = 0; l < locations_.size(); ++l) add_location_tables(l);
  for (std::size_t c = 0; c < rules_.channels.size(); ++c) {
    for (const auto& l : rules_.channels[c].locations) location_channels_[*locations_.find(l)] |= std::uint64_t{1} << c;
  }
}

// A new location's row: appended, so interning one does not rebuild the rest.
// Channel locations are interned by set_rules(), so a later one feeds none.
void AvailabilityEngine::add_location_tables(LocationId location) {
  location_channels_.push_back(0);
  const std::string_view name = locations_.name(location);
  safety_.push_back(most_specific(rules_.safety_stock, nullptr, name));
  for (const auto& g : rules_.sku_groups) safety_.push_back(most_specific(rules_.safety_stock, &g.name, name));
}

std::uint16_t AvailabilityEngine::resolve_group(std::string_view sku) const {
  if (auto it = group_of_sku_.find(sku); it != group_of_sku_.end()) return it->second;
  for (const auto& [prefix, id] : group_prefixes_)
    if (sku.starts_with(prefix)) return id;
  return 0;
}

void AvailabilityEngine::reserve(std::size_t skus, std::size_t positions) {
  std::lock_guard lock(mutex_);
  positions_.reserve(positions);
  sku_head_.reserve(skus);
  sku_group_.reserve(skus);
  sku_dirty_.reserve(skus);
  published_.reserve(skus * channels_.size());
  skus_.reserve(skus, skus * 12);
}

// --- positions ---

SkuId AvailabilityEngine::intern_sku(std::string_view sku) {
  const SkuId id = skus_.intern(sku);
  if (skus_.added) {
    sku_head_.push_back(kNone);
    sku_group_.push_back(resolve_group(sku));
    sku_dirty_.push_back(0);
    published_.resize(published_.size() + channels_.size(), kNeverPublished);
  }
  return id;
}

LocationId AvailabilityEngine::intern_location(std::string_view location) {
  const LocationId id = locations_.intern(location);
  if (locations_.added) add_location_tables(id);
  return id;
}

std::uint32_t AvailabilityEngine::find_position(SkuId sku, LocationId location) const {
  for (std::uint32_t p = sku_head_[sku]; p != kNone; p = positions_[p].next)
    if (positions_[p].location == location) return p;
  return kNone;
}

std::uint32_t AvailabilityEngine::position_of(SkuId sku, LocationId location) {
  if (const auto p = find_position(sku, location); p != kNone) return p;
  const auto p = static_cast<std::uint32_t>(positions_.size());
  Position pos;
  pos.location = location;
  pos.next = sku_head_[sku];
  positions_.push_back(pos);
  sku_head_[sku] = p;
  return p;
}

void AvailabilityEngine::mark_dirty(SkuId sku) {
  if (sku_dirty_[sku] != 0) return;
  sku_dirty_[sku] = 1;
  dirty_.push_back(sku);
}

bool AvailabilityEngine::drop_pending(std::string_view movement_id) {
  const auto it = pending_.find(movement_id);
  if (it == pending_.end()) return false;
  positions_[it->second.position].provisional -= it->second.delta;
  mark_dirty(it->second.sku);
  pending_.erase(it);
  return true;
}

std::uint8_t AvailabilityEngine::known(std::string_view movement_id) const {
  const auto it = known_ids_.find(movement_id);
  return it == known_ids_.end() ? 0 : it->second;
}

void AvailabilityEngine::remember(std::string_view movement_id, std::uint8_t flag) {
  if (rules_.confirmed_ids_kept == 0) return;
  auto [it, inserted] = known_ids_.try_emplace(std::string(movement_id), std::uint8_t{0});
  it->second |= flag;
  if (!inserted) return;
  known_order_.push_back(&it->first);
  while (known_order_.size() > rules_.confirmed_ids_kept) {
    known_ids_.erase(known_ids_.find(*known_order_.front()));
    known_order_.pop_front();
  }
}

Status AvailabilityEngine::set_on_hand(std::string_view sku, std::string_view location, std::int64_t on_hand) {
  if (auto st = check_names(sku, location); !st) return st;
  if (auto st = check_units("on-hand", on_hand); !st) return st;
  std::lock_guard lock(mutex_);
  const SkuId s = intern_sku(sku);
  auto& pos = positions_[position_of(s, intern_location(location))];
  if (pos.on_hand != on_hand) {
    pos.on_hand = on_hand;
    mark_dirty(s);
  }
  return Ok{};
}

Result<MovementOutcome> AvailabilityEngine::apply_erp_movement(std::string_view movement_id, std::string_view sku,
                                                               std::string_view location, std::int64_t delta) {
  if (movement_id.empty()) return bad("empty movement id");
  if (auto st = check_names(sku, location); !st) return std::move(st).error();
  if (auto st = check_units("delta", delta); !st) return std::move(st).error();
  std::lock_guard lock(mutex_);
  if ((known(movement_id) & kErpApplied) != 0) return MovementOutcome::duplicate;
  // The ERP's figure replaces the provisional one, whatever either says.
  const auto outcome = drop_pending(movement_id) ? MovementOutcome::replaced : MovementOutcome::applied;
  const SkuId s = intern_sku(sku);
  positions_[position_of(s, intern_location(location))].on_hand += delta;
  mark_dirty(s);
  remember(movement_id, kErpApplied);
  return outcome;
}

Result<MovementOutcome> AvailabilityEngine::apply_erp_transfer(std::string_view movement_id, std::string_view sku,
                                                               std::string_view from, std::string_view to,
                                                               std::int64_t quantity) {
  if (movement_id.empty()) return bad("empty movement id");
  if (auto st = check_names(sku, from); !st) return std::move(st).error();
  if (auto st = check_names(sku, to); !st) return std::move(st).error();
  if (from == to) return bad("transfer " + std::string(movement_id) + ": from and to are the same location");
  if (quantity <= 0) return bad("transfer " + std::string(movement_id) + ": quantity must be > 0");
  if (auto st = check_units("quantity", quantity); !st) return std::move(st).error();
  std::lock_guard lock(mutex_);
  if ((known(movement_id) & kErpApplied) != 0) return MovementOutcome::duplicate;
  const SkuId s = intern_sku(sku);
  const LocationId a = intern_location(from);
  const LocationId b = intern_location(to);
  positions_[position_of(s, a)].on_hand -= quantity;
  positions_[position_of(s, b)].on_hand += quantity;
  mark_dirty(s);
  remember(movement_id, kErpApplied);
  return MovementOutcome::applied;
}

Result<MovementOutcome> AvailabilityEngine::apply_count(std::string_view movement_id, std::string_view sku,
                                                        std::string_view location, std::int64_t counted,
                                                        EventTime counted_at) {
  if (movement_id.empty()) return bad("empty movement id");
  if (auto st = check_names(sku, location); !st) return std::move(st).error();
  if (counted < 0) return bad("count " + std::string(movement_id) + ": counted quantity must be >= 0");
  if (auto st = check_units("counted quantity", counted); !st) return std::move(st).error();
  std::lock_guard lock(mutex_);
  if ((known(movement_id) & kErpApplied) != 0) return MovementOutcome::duplicate;
  const SkuId s = intern_sku(sku);
  const std::uint32_t p = position_of(s, intern_location(location));
  // A count sees the shelf: movements that happened before it are in it.
  // Pending movements are few (only those the ERP has not shown yet).
  std::vector<std::string> settled;
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (it->second.position == p && it->second.occurred_at <= counted_at) {
      positions_[p].provisional -= it->second.delta;
      settled.push_back(it->first);
      it = pending_.erase(it);
    } else {
      ++it;
    }
  }
  for (const auto& id : settled) remember(id, kSettledByCount);
  positions_[p].on_hand = counted;
  mark_dirty(s);
  remember(movement_id, kErpApplied);
  return MovementOutcome::applied;
}

MovementOutcome AvailabilityEngine::confirm(std::string_view movement_id) {
  std::lock_guard lock(mutex_);
  const auto outcome = drop_pending(movement_id) ? MovementOutcome::replaced : MovementOutcome::applied;
  if (!movement_id.empty()) remember(movement_id, kErpApplied);
  return outcome;
}

Result<MovementOutcome> AvailabilityEngine::apply_provisional(std::string_view movement_id, std::string_view sku,
                                                              std::string_view location, std::int64_t delta,
                                                              EventTime occurred_at) {
  if (movement_id.empty()) return bad("empty movement id");
  if (auto st = check_names(sku, location); !st) return std::move(st).error();
  if (auto st = check_units("delta", delta); !st) return std::move(st).error();
  std::lock_guard lock(mutex_);
  if (pending_.contains(movement_id)) return MovementOutcome::duplicate;
  if (known(movement_id) != 0) return MovementOutcome::superseded;
  const SkuId s = intern_sku(sku);
  const std::uint32_t p = position_of(s, intern_location(location));
  positions_[p].provisional += delta;
  pending_.emplace(std::string(movement_id), Pending{p, s, delta, occurred_at});
  mark_dirty(s);
  return MovementOutcome::applied;
}

Result<MovementOutcome> AvailabilityEngine::apply_erp(const model::InventoryMovement& m) {
  using model::MovementKind;
  if (m.kind == MovementKind::count) {
    auto counted = whole_units(m.counted_quantity, m, "counted_quantity");
    if (!counted) return std::move(counted).error();
    return apply_count(m.movement_id, m.sku, m.location, *counted, m.occurred_at.utc());
  }
  auto delta = whole_units(m.quantity_delta, m, "quantity_delta");
  if (!delta) return std::move(delta).error();
  if (m.kind == MovementKind::transfer) {
    if (!m.to_location) return bad("transfer " + m.movement_id + ": to_location is missing");
    return apply_erp_transfer(m.movement_id, m.sku, m.location, *m.to_location, *delta);
  }
  return apply_erp_movement(m.movement_id, m.sku, m.location, *delta);
}

Result<MovementOutcome> AvailabilityEngine::apply_provisional(const model::InventoryMovement& m) {
  using model::MovementKind;
  if (m.kind == MovementKind::count || m.kind == MovementKind::transfer)
    return bad("movement " + m.movement_id + ": a " + std::string(model::to_string(m.kind)) +
               " is the ERP's, not provisional");
  auto delta = whole_units(m.quantity_delta, m, "quantity_delta");
  if (!delta) return std::move(delta).error();
  return apply_provisional(m.movement_id, m.sku, m.location, *delta, m.occurred_at.utc());
}

// --- reservations ---

Status AvailabilityEngine::reserve(std::string_view order_line_key, std::string_view sku, std::string_view location,
                                   std::int64_t quantity) {
  if (order_line_key.empty()) return bad("empty order line key");
  if (auto st = check_names(sku, location); !st) return st;
  if (quantity < 0) return bad("reservation " + std::string(order_line_key) + ": quantity must be >= 0");
  if (auto st = check_units("reserved quantity", quantity); !st) return st;
  std::lock_guard lock(mutex_);
  if (auto it = reservations_.find(order_line_key); it != reservations_.end()) {
    positions_[it->second.position].reserved -= it->second.quantity;
    mark_dirty(it->second.sku);
    reservations_.erase(it);
  }
  if (quantity == 0) return Ok{};
  const SkuId s = intern_sku(sku);
  const std::uint32_t p = position_of(s, intern_location(location));
  positions_[p].reserved += quantity;
  reservations_.emplace(std::string(order_line_key), Reservation{p, s, quantity});
  mark_dirty(s);
  return Ok{};
}

bool AvailabilityEngine::release(std::string_view order_line_key) {
  std::lock_guard lock(mutex_);
  auto it = reservations_.find(order_line_key);
  if (it == reservations_.end()) return false;
  positions_[it->second.position].reserved -= it->second.quantity;
  mark_dirty(it->second.sku);
  reservations_.erase(it);
  return true;
}

// --- reading ---

std::optional<ChannelId> AvailabilityEngine::channel_id(std::string_view code) const {
  std::lock_guard lock(mutex_);
  for (std::size_t c = 0; c < channels_.size(); ++c)
    if (channels_[c].code == code) return static_cast<ChannelId>(c);
  return std::nullopt;
}

std::string AvailabilityEngine::channel_code(ChannelId channel) const {
  std::lock_guard lock(mutex_);
  return channel < channels_.size() ? channels_[channel].code : std::string();
}

SkuId AvailabilityEngine::sku_id(std::string_view sku) {
  std::lock_guard lock(mutex_);
  return intern_sku(sku);
}

std::optional<SkuId> AvailabilityEngine::find_sku(std::string_view sku) const {
  std::lock_guard lock(mutex_);
  return skus_.find(sku);
}

std::string AvailabilityEngine::sku_code(SkuId sku) const {
  std::lock_guard lock(mutex_);
  return sku < skus_.size() ? std::string(skus_.name(sku)) : std::string();
}

AvailabilityCounts AvailabilityEngine::counts() const {
  std::lock_guard lock(mutex_);
  return AvailabilityCounts{channels_.size(), skus_.size(),         locations_.size(), positions_.size(),
                            pending_.size(),  reservations_.size(), dirty_.size()};
}

std::vector<std::string> AvailabilityEngine::pending_before(EventTime before) const {
  std::lock_guard lock(mutex_);
  std::vector<std::pair<EventTime, const std::string*>> old;
  for (const auto& [id, p] : pending_)
    if (p.occurred_at < before) old.emplace_back(p.occurred_at, &id);
  std::sort(old.begin(), old.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<std::string> out;
  out.reserve(old.size());
  for (const auto& [when, id] : old) out.push_back(*id);
  return out;
}

std::int64_t AvailabilityEngine::safety(SkuId sku, LocationId location) const {
  return safety_[location * (rules_.sku_groups.size() + 1) + sku_group_[sku]];
}

std::int64_t AvailabilityEngine::apply_channel_rules(const Channel& c, std::int64_t sum) const {
  // floor(sum × share / 100) without overflowing.
  std::int64_t v = sum / 100 * c.share_percent + sum % 100 * c.share_percent / 100;
  v = std::min(v, c.cap);
  return v < c.minimum ? 0 : v;
}

void AvailabilityEngine::compute(SkuId sku, std::int64_t* out) const {
  std::int64_t sums[kMaxChannels] = {};
  const std::size_t groups = rules_.sku_groups.size() + 1;
  const std::int64_t* safety_column = safety_.data() + sku_group_[sku];
  for (std::uint32_t p = sku_head_[sku]; p != kNone; p = positions_[p].next) {
    const Position& pos = positions_[p];
    std::uint64_t mask = location_channels_[pos.location];
    if (mask == 0) continue;
    const std::int64_t net = pos.on_hand + pos.provisional - pos.reserved - safety_column[pos.location * groups];
    if (net <= 0) continue;
    for (; mask != 0; mask &= mask - 1) sums[std::countr_zero(mask)] += net;
  }
  for (std::size_t c = 0; c < channels_.size(); ++c) out[c] = apply_channel_rules(channels_[c], sums[c]);
}

Result<std::int64_t> AvailabilityEngine::available(std::string_view channel, std::string_view sku) const {
  const auto c = channel_id(channel);
  if (!c) return make_error(Errc::not_found, "no availability channel '" + std::string(channel) + "'");
  std::lock_guard lock(mutex_);
  const auto s = skus_.find(sku);
  if (!s) return std::int64_t{0};
  std::int64_t values[kMaxChannels];
  compute(*s, values);
  return values[*c];
}

std::int64_t AvailabilityEngine::available(ChannelId channel, SkuId sku) const {
  std::lock_guard lock(mutex_);
  if (channel >= channels_.size() || sku >= skus_.size()) return 0;
  std::int64_t values[kMaxChannels];
  compute(sku, values);
  return values[channel];
}

PositionFigures AvailabilityEngine::position(std::string_view sku, std::string_view location) const {
  std::lock_guard lock(mutex_);
  PositionFigures f;
  const auto s = skus_.find(sku);
  const auto l = locations_.find(location);
  if (!s || !l) return f;
  f.safety_stock = safety(*s, *l);
  if (const auto p = find_position(*s, *l); p != kNone) {
    f.on_hand = positions_[p].on_hand;
    f.provisional = positions_[p].provisional;
    f.reserved = positions_[p].reserved;
  }
  return f;
}

std::int64_t AvailabilityEngine::safety_stock(std::string_view sku, std::string_view location) const {
  std::lock_guard lock(mutex_);
  const auto s = skus_.find(sku);
  const std::uint16_t group = s ? sku_group_[*s] : resolve_group(sku);
  if (const auto l = locations_.find(location)) return safety_[*l * (rules_.sku_groups.size() + 1) + group];
  return most_specific(rules_.safety_stock, group == 0 ? nullptr : &rules_.sku_groups[group - 1].name, location);
}

// --- publishing ---

std::vector<AvailabilityChange> AvailabilityEngine::drain_changes(std::size_t max_changes) {
  std::lock_guard lock(mutex_);
  std::vector<AvailabilityChange> out;
  const std::size_t n = channels_.size();
  std::int64_t values[kMaxChannels];
  while (!dirty_.empty() && out.size() < max_changes) {
    const SkuId s = dirty_.front();
    dirty_.pop_front();
    sku_dirty_[s] = 0;
    compute(s, values);
    for (std::size_t c = 0; c < n; ++c) {
      const std::int64_t published = published_[s * n + c];
      if (values[c] != published) out.push_back(AvailabilityChange{static_cast<ChannelId>(c), s, values[c], published});
    }
  }
  return out;
}

void AvailabilityEngine::mark_published(ChannelId channel, SkuId sku, std::int64_t value) {
  std::lock_guard lock(mutex_);
  const std::size_t n = channels_.size();
  if (channel >= n || sku >= skus_.size()) return;
  published_[sku * n + channel] = value;
  std::int64_t values[kMaxChannels];
  compute(sku, values);
  // Changed while the push was under way, or a channel showing something else
  // (drift): the next drain yields the value it should show.
  if (values[channel] != value) mark_dirty(sku);
}

std::int64_t AvailabilityEngine::published(ChannelId channel, SkuId sku) const {
  std::lock_guard lock(mutex_);
  const std::size_t n = channels_.size();
  if (channel >= n || sku >= skus_.size()) return kNeverPublished;
  return published_[sku * n + channel];
}

std::size_t AvailabilityEngine::recompute() {
  std::lock_guard lock(mutex_);
  const std::size_t n = channels_.size();
  std::size_t differing = 0;
  std::int64_t values[kMaxChannels];
  for (SkuId s = 0; s < skus_.size(); ++s) {
    compute(s, values);
    const std::int64_t* published = published_.data() + s * n;
    bool differs = false;
    for (std::size_t c = 0; c < n; ++c) {
      if (values[c] != published[c]) {
        ++differing;
        differs = true;
      }
    }
    if (differs) mark_dirty(s);
  }
  return differing;
}

AvailabilityMemory AvailabilityEngine::memory() const {
  std::lock_guard lock(mutex_);
  AvailabilityMemory m;
  m.positions = positions_.capacity() * sizeof(Position);
  m.per_sku = sku_head_.capacity() * sizeof(std::uint32_t) + sku_group_.capacity() * sizeof(std::uint16_t) +
              sku_dirty_.capacity() + published_.capacity() * sizeof(std::int64_t) + dirty_.size() * sizeof(SkuId) +
              location_channels_.capacity() * sizeof(std::uint64_t) + safety_.capacity() * sizeof(std::int64_t);
  m.names = skus_.bytes() + locations_.bytes();
  // Hash nodes: key string (+ heap text when longer than the inline buffer), value, next pointer, bucket.
  auto table = [](const auto& map, std::size_t value_bytes) {
    std::size_t bytes = map.bucket_count() * sizeof(void*);
    for (const auto& [key, v] : map) {
      (void)v;
      bytes += sizeof(void*) + sizeof(std::string) + value_bytes + sizeof(std::size_t);
      if (key.size() > 15) bytes += key.capacity() + 1;
    }
    return bytes;
  };
  m.side_tables = table(pending_, sizeof(Pending)) + table(reservations_, sizeof(Reservation)) +
                  table(known_ids_, sizeof(std::uint8_t)) + known_order_.size() * sizeof(void*);
  return m;
}

}  // namespace trueup::inventory
