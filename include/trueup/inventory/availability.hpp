#pragma once
// AvailabilityEngine: what each sales channel may show, per SKU, computed in
// memory from the stock positions and the availability rules.
//
// Per (SKU, location) position it keeps
//   on_hand      the ERP's figure (authoritative)
//   provisional  the sum of pending POS/channel movements (sales, returns) the
//                ERP ledger has not shown yet, kept per movement id in a side
//                table only while pending
//   reserved     the sum of open channel order lines allocated to it
// and for each channel
//   available(channel, SKU) = Σ over the channel's locations of
//       max(0, on_hand + provisional − reserved − safety_stock(SKU, location))
//   then floor(· × share_percent / 100), then min(·, cap), then 0 if < minimum.
//
// Provisional and confirmed, never counted twice (matched by movement id, the
// ERP's external document number):
//   - apply_provisional(id) then apply_erp_movement(id): the ERP delta is
//     applied and the provisional delta dropped (outcome `replaced`);
//   - apply_erp_movement(id) then apply_provisional(id): the late POS event
//     is ignored (`superseded`), for as long as the id is remembered
//     (AvailabilityRules::confirmed_ids_kept, oldest forgotten first);
//   - confirm(id): the ERP figure given with set_on_hand() includes it: the
//     provisional delta is dropped;
//   - apply_count(): an ERP count replaces on-hand and drops the pending
//     provisional deltas of that position that occurred at or before the count.
// Applying the same provisional movement twice is a no-op (`duplicate`); so is
// the same ERP entry, for as long as its id is remembered (the store's ledger
// dedupes for good: feed the engine after the ledger accepted the entry).
//
// Quantities are whole units (int64), within ±kMaxUnits. The canonical model's
// Quantity is a decimal; the model-level overloads refuse fractional values
// with Errc::invalid_argument instead of rounding them.
//
// Change tracking: every update marks its SKU dirty; drain_changes() computes
// the dirty SKUs' channel values and yields those that differ from the value
// last marked published — many updates of a SKU give one change per channel,
// and an update that nets out gives none. After a channel accepted a value,
// mark_published(). For drift repair, mark_published(channel, sku, what the
// channel shows) makes the next drain yield the correction. Values never
// published (kNeverPublished) always differ.
//
// Memory: positions in one flat array (32 bytes each) chained per SKU, SKUs
// and locations interned to dense ids, per-SKU arrays of published values;
// memory() accounts for it (docs/availability.md has measured figures).
//
// Thread-safety: all members are safe to call from any thread; one mutex
// serialises them (each call is short: a walk over one SKU's positions, or
// one full pass for recompute()). Errors are values (Errc::invalid_argument
// for bad input); nothing throws after construction except std::bad_alloc.

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <limits>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "trueup/core/error.hpp"
#include "trueup/inventory/availability_rules.hpp"
#include "trueup/model/inventory_movement.hpp"

namespace trueup::inventory {

using SkuId = std::uint32_t;                    // dense, 0..sku_count()-1, stable for the engine's lifetime
using ChannelId = std::uint16_t;                // index into AvailabilityRules::channels
using LocationId = std::uint32_t;               // dense
using EventTime = model::Timestamp::TimePoint;  // when a movement or count happened (UTC)

inline constexpr std::int64_t kNeverPublished = -1;
inline constexpr std::int64_t kMaxUnits = 1'000'000'000'000;  // |quantity| accepted per call

enum class MovementOutcome {
  applied,     // the position changed
  replaced,    // an ERP entry replaced the pending provisional delta of the same id
  duplicate,   // already applied; nothing changed
  superseded,  // a provisional movement the ERP already has (or a count settled); nothing changed
};
std::string_view to_string(MovementOutcome o) noexcept;

struct AvailabilityChange {
  ChannelId channel = 0;
  SkuId sku = 0;
  std::int64_t available = 0;
  std::int64_t published = kNeverPublished;  // the value it replaces
  friend bool operator==(const AvailabilityChange&, const AvailabilityChange&) = default;
};

// One position as the engine sees it (zeros for a position it does not hold).
struct PositionFigures {
  std::int64_t on_hand = 0;
  std::int64_t provisional = 0;
  std::int64_t reserved = 0;
  std::int64_t safety_stock = 0;
  friend bool operator==(const PositionFigures&, const PositionFigures&) = default;
};

struct AvailabilityCounts {
  std::size_t channels = 0;
  std::size_t skus = 0;
  std::size_t locations = 0;
  std::size_t positions = 0;
  std::size_t pending_provisional = 0;  // provisional movements the ERP has not shown yet
  std::size_t reservations = 0;         // open order lines
  std::size_t dirty_skus = 0;           // queued for drain_changes()
};

// Bytes held, by container capacity.
struct AvailabilityMemory {
  std::size_t positions = 0;    // the position array
  std::size_t per_sku = 0;      // chain heads, groups, dirty flags, published values, dirty queue
  std::size_t names = 0;        // interned SKU and location codes
  std::size_t side_tables = 0;  // pending provisionals, reservations, remembered ids (estimate)
  std::size_t total() const { return positions + per_sku + names + side_tables; }
};

class AvailabilityEngine {
 public:
  // `rules` must pass validate() (std::invalid_argument otherwise: a start-up error).
  explicit AvailabilityEngine(AvailabilityRules rules);
  AvailabilityEngine(const AvailabilityEngine&) = delete;
  AvailabilityEngine& operator=(const AvailabilityEngine&) = delete;

  // Replaces the rules (validated; Errc::invalid_argument otherwise) and
  // recomputes. Published values are kept for channels whose code stays.
  Status set_rules(AvailabilityRules rules);
  // Pre-sizes the arrays (a load of a known estate).
  void reserve(std::size_t skus, std::size_t positions);

  // --- ERP (authoritative) ---
  // The ERP's on-hand balance (initial load, restart, read-back). Pending
  // provisional movements stay: the ERP ledger has not shown them.
  Status set_on_hand(std::string_view sku, std::string_view location, std::int64_t on_hand);
  // An ERP ledger entry (sale, return, receipt, adjustment) with its movement id.
  Result<MovementOutcome> apply_erp_movement(std::string_view movement_id, std::string_view sku,
                                             std::string_view location, std::int64_t delta);
  // An ERP transfer: `quantity` > 0 from `from` to `to`, one movement id.
  Result<MovementOutcome> apply_erp_transfer(std::string_view movement_id, std::string_view sku, std::string_view from,
                                             std::string_view to, std::int64_t quantity);
  // An ERP count: on-hand becomes `counted`; provisional deltas of this
  // position that occurred at or before `counted_at` are dropped.
  Result<MovementOutcome> apply_count(std::string_view movement_id, std::string_view sku, std::string_view location,
                                      std::int64_t counted, EventTime counted_at);
  // The ERP figure already includes this movement (given by set_on_hand):
  // drops its provisional delta, or remembers the id so a later POS event is
  // ignored. `replaced` when a delta was dropped, else `applied`.
  MovementOutcome confirm(std::string_view movement_id);

  // --- POS and channels (provisional until the ERP shows them) ---
  Result<MovementOutcome> apply_provisional(std::string_view movement_id, std::string_view sku,
                                            std::string_view location, std::int64_t delta, EventTime occurred_at);

  // --- canonical movements: kind decides (count → apply_count, transfer → apply_erp_transfer) ---
  // Fractional quantities are Errc::invalid_argument (never rounded).
  Result<MovementOutcome> apply_erp(const model::InventoryMovement& m);
  // Sales, returns and adjustments only (a count or transfer is the ERP's).
  Result<MovementOutcome> apply_provisional(const model::InventoryMovement& m);

  // --- reservations of open channel order lines ---
  // Reserves `quantity` (>= 0) for an order line at a location; a later call
  // with the same key replaces the earlier reservation (0 releases it).
  Status reserve(std::string_view order_line_key, std::string_view sku, std::string_view location,
                 std::int64_t quantity);
  // Shipped or cancelled: false when nothing was reserved under the key.
  bool release(std::string_view order_line_key);

  // --- reading ---
  std::optional<ChannelId> channel_id(std::string_view code) const;
  std::string channel_code(ChannelId channel) const;
  // Interns (a SKU with no positions is fine: it shows 0 everywhere).
  SkuId sku_id(std::string_view sku);
  std::optional<SkuId> find_sku(std::string_view sku) const;
  std::string sku_code(SkuId sku) const;
  AvailabilityCounts counts() const;
  // Movement ids still provisional that occurred before `before` (the ERP has
  // not shown them for that long: a reason to look), oldest first.
  std::vector<std::string> pending_before(EventTime before) const;

  // Errc::not_found for an unknown channel; an unknown SKU shows 0.
  Result<std::int64_t> available(std::string_view channel, std::string_view sku) const;
  std::int64_t available(ChannelId channel, SkuId sku) const;
  PositionFigures position(std::string_view sku, std::string_view location) const;
  std::int64_t safety_stock(std::string_view sku, std::string_view location) const;

  // --- publishing ---
  // Changes since the last published values, for dirty SKUs in the order they
  // were first touched; stops after the SKU that reaches `max_changes`.
  std::vector<AvailabilityChange> drain_changes(std::size_t max_changes = std::numeric_limits<std::size_t>::max());
  // The channel now shows `value` for the SKU.
  void mark_published(ChannelId channel, SkuId sku, std::int64_t value);
  std::int64_t published(ChannelId channel, SkuId sku) const;
  // Recomputes every (channel, SKU); those differing from their published
  // value are queued for drain_changes(). Returns how many differ.
  std::size_t recompute();

  AvailabilityMemory memory() const;

 private:
  static constexpr std::uint32_t kNone = std::numeric_limits<std::uint32_t>::max();

  // Codes to dense ids: one string arena, open addressing over ids.
  class Interner {
   public:
    std::optional<std::uint32_t> find(std::string_view name) const;
    std::uint32_t intern(std::string_view name);  // sets `added` when new
    std::string_view name(std::uint32_t id) const;
    std::size_t size() const { return offsets_.size() - 1; }
    void reserve(std::size_t names, std::size_t bytes);
    std::size_t bytes() const;
    bool added = false;

   private:
    void grow();
    std::string arena_;
    std::vector<std::uint32_t> offsets_{0};
    std::vector<std::uint32_t> slots_;  // id + 1; 0 = empty
  };

  struct Position {  // 32 bytes
    std::int64_t on_hand = 0;
    std::int64_t provisional = 0;
    std::int64_t reserved = 0;
    LocationId location = 0;
    std::uint32_t next = kNone;  // next position of the same SKU
  };
  static_assert(sizeof(Position) == 32);

  struct Pending {  // a provisional movement not yet in the ERP ledger
    std::uint32_t position;
    SkuId sku;
    std::int64_t delta;
    EventTime occurred_at;
  };
  struct Reservation {
    std::uint32_t position;
    SkuId sku;
    std::int64_t quantity;
  };
  // What is known about a movement id (bit flags).
  enum : std::uint8_t { kErpApplied = 1, kSettledByCount = 2 };

  struct TextHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
  };
  template <class V>
  using TextMap = std::unordered_map<std::string, V, TextHash, std::equal_to<>>;

  struct Channel {
    std::string code;
    std::int64_t share_percent;
    std::int64_t cap;  // max int64 when none
    std::int64_t minimum;
  };

  SkuId intern_sku(std::string_view sku);
  LocationId intern_location(std::string_view location);
  std::uint32_t position_of(SkuId sku, LocationId location);  // creates it
  std::uint32_t find_position(SkuId sku, LocationId location) const;
  std::uint16_t resolve_group(std::string_view sku) const;
  void rebuild_tables();
  void add_location_tables(LocationId location);
  void mark_dirty(SkuId sku);
  // Removes a pending provisional movement (its delta leaves the position); false when none.
  bool drop_pending(std::string_view movement_id);
  void remember(std::string_view movement_id, std::uint8_t flag);
  std::uint8_t known(std::string_view movement_id) const;
  std::int64_t safety(SkuId sku, LocationId location) const;
  // Fills out[0..channels) with the SKU's channel values.
  void compute(SkuId sku, std::int64_t* out) const;
  std::int64_t apply_channel_rules(const Channel& c, std::int64_t sum) const;

  mutable std::mutex mutex_;
  AvailabilityRules rules_;
  std::vector<Channel> channels_;
  TextMap<std::uint16_t> group_of_sku_;                                // exact SKU → 1-based group
  std::vector<std::pair<std::string, std::uint16_t>> group_prefixes_;  // longest first

  Interner skus_;
  Interner locations_;
  std::vector<Position> positions_;
  std::vector<std::uint32_t> sku_head_;
  std::vector<std::uint16_t> sku_group_;
  std::vector<std::uint8_t> sku_dirty_;
  std::deque<SkuId> dirty_;
  std::vector<std::int64_t> published_;           // [sku * channels + channel]
  std::vector<std::uint64_t> location_channels_;  // channel bit mask per location
  std::vector<std::int64_t> safety_;              // [location * (groups + 1) + group], group 0 = none

  TextMap<Pending> pending_;
  TextMap<Reservation> reservations_;
  TextMap<std::uint8_t> known_ids_;
  std::deque<const std::string*> known_order_;  // oldest first, keys of known_ids_
};

}  // namespace trueup::inventory
