#include "trueup/inventory/ledger.hpp"

#include "trueup/model/events.hpp"
#include "trueup/model/inventory_movement.hpp"
#include "trueup/model/order.hpp"
#include "trueup/model/stock_position.hpp"

namespace trueup::inventory {
namespace {

struct Position {
  std::int64_t confirmed = 0, provisional = 0, on_hand = 0;
};

// Changes a position: confirmed += (or =, when `set`) `confirmed_e5`,
// provisional += `provisional_e5`; on_hand = confirmed + provisional.
// `sale_time`: the movement is a sale or return seen at a POS or channel, so
// its occurred_at starts the sale-to-channel latency (an ERP entry's time is
// its posting date, a count's is not a sale).
Result<Position> apply(store::Transaction& tx, const std::string& sku, const std::string& location,
                       std::int64_t confirmed_e5, bool set, std::int64_t provisional_e5, const std::string& movement_id,
                       bool sale_time) {
  const std::string new_confirmed =
      set ? "excluded.confirmed_e5" : "stock_position.confirmed_e5 + excluded.confirmed_e5";
  const std::string sql =
      "INSERT INTO stock_position (sku, location, confirmed_e5, provisional_e5, on_hand_e5, last_movement_id)"
      " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (sku, location) DO UPDATE SET confirmed_e5 = " +
      new_confirmed +
      ", provisional_e5 = stock_position.provisional_e5 + excluded.provisional_e5, on_hand_e5 = " + new_confirmed +
      " + stock_position.provisional_e5 + excluded.provisional_e5, last_movement_id = excluded.last_movement_id"
      " RETURNING confirmed_e5, provisional_e5, on_hand_e5";
  auto r = tx.exec(sql, {sku, location, confirmed_e5, provisional_e5, confirmed_e5 + provisional_e5, movement_id});
  if (!r) return std::move(r).error();
  if (r->rows.empty() || !r->rows[0][0] || !r->rows[0][1] || !r->rows[0][2])
    return make_error(Errc::internal, "stock position not returned");
  const Position out{std::stoll(*r->rows[0][0]), std::stoll(*r->rows[0][1]), std::stoll(*r->rows[0][2])};
  // For the availability service (stock_dirty in migrations/*/0008), with
  // the earliest occurred_at of the movements behind the mark (*/0012: the
  // sale-to-channel latency starts there).
  auto dirty = tx.exec(
      "INSERT INTO stock_dirty (sku, location, on_hand_e5, earliest_occurred_jd) VALUES ($1, $2, $3, (SELECT "
      "julianday(occurred_at) FROM inventory_ledger WHERE movement_id = $4 AND $5 = 1)) ON CONFLICT (sku, location) "
      "DO UPDATE SET on_hand_e5 = excluded.on_hand_e5, earliest_occurred_jd = CASE WHEN "
      "stock_dirty.earliest_occurred_jd IS "
      "NULL OR excluded.earliest_occurred_jd < stock_dirty.earliest_occurred_jd THEN excluded.earliest_occurred_jd "
      "ELSE stock_dirty.earliest_occurred_jd END",
      {sku, location, out.on_hand, movement_id, std::int64_t{sale_time ? 1 : 0}});
  if (!dirty) return std::move(dirty).error();
  return out;
}

// Marks the provisional rows chosen by `where` (with `params` after $1 =
// the new status) and returns the sum of their quantities.
Result<std::int64_t> retire_provisional(store::Transaction& tx, const std::string& status, const std::string& where,
                                        std::vector<store::Param> params) {
  params.insert(params.begin(), status);
  auto r = tx.exec(
      "UPDATE inventory_ledger SET status = $1 WHERE status = 'provisional' AND " + where + " RETURNING quantity_e5",
      params);
  if (!r) return std::move(r).error();
  std::int64_t sum = 0;
  for (const auto& row : r->rows)
    if (row[0]) sum += std::stoll(*row[0]);
  return sum;
}

// The provisional rows of a position that happened at or before `at` (an
// ERP count covers them): their movement ids.
Result<std::vector<std::string>> provisional_before(store::Transaction& tx, const std::string& sku,
                                                    const std::string& location, const model::Timestamp& at) {
  auto r = tx.exec(
      "SELECT movement_id, occurred_at FROM inventory_ledger WHERE status = 'provisional' AND sku = $1 AND "
      "location = $2",
      {sku, location});
  if (!r) return std::move(r).error();
  std::vector<std::string> out;
  for (const auto& row : r->rows) {
    if (!row[0] || !row[1]) continue;
    auto when = model::Timestamp::parse(*row[1]);
    if (when && when->compare_instant(at) <= 0) out.push_back(*row[0]);
  }
  return out;
}

}  // namespace

messaging::OutboxEvent to_outbox(const model::EventRecord& record) {
  messaging::OutboxEvent e;
  e.topic = record.topic;
  e.key = record.key;
  e.data = record.value;
  for (const auto& [name, value] : record.headers) {
    if (name == "ce_id")
      e.id = value;
    else if (name == "ce_type")
      e.type = value;
    else if (name == "ce_source")
      e.source = value;
    else if (name == "ce_subject")
      e.subject = value;
    else if (name == "ce_time")
      e.time = value;
    else if (name == "traceparent")
      e.traceparent = value;
  }
  return e;
}

model::EventContext new_event_context(std::string source, std::string traceparent) {
  model::EventContext ctx;
  ctx.id = messaging::make_uuid_v4();
  ctx.source = std::move(source);
  ctx.time = model::Timestamp::from_system(std::chrono::system_clock::now());
  ctx.traceparent = std::move(traceparent);
  return ctx;
}

std::string_view classify(const model::InventoryMovement& m, const LedgerSettings& settings) noexcept {
  if (settings.authoritative_system.empty() || m.source_system == settings.authoritative_system) return "applied";
  return m.kind == model::MovementKind::count ? "observed" : "provisional";
}

std::string match_key(const model::InventoryMovement& m) {
  if (!m.order_id || (m.kind != model::MovementKind::sale && m.kind != model::MovementKind::return_)) return {};
  return *m.order_id + "|" + m.sku + "|" + m.location;
}

namespace {

// The match key without its order id: "|<sku>|<location>".
std::string key_suffix(const model::InventoryMovement& m) { return "|" + m.sku + "|" + m.location; }

// The ledger step's writes (see ledger.hpp): the row, then the positions.
Status record_movement(store::Transaction& tx, messaging::Outbox& outbox, const std::string& source,
                       const LedgerSettings& settings, const MovementRecorded& recorded, const std::string& workflow_id,
                       const model::InventoryMovement& m) {
  const bool count = m.kind == model::MovementKind::count;
  const std::int64_t q = count ? m.counted_quantity->scaled() : m.quantity_delta->scaled();
  // Movements of one position are decided one at a time: lock its row first
  // (created empty if new), so a POS sale and its ERP twin committing at once
  // cannot both miss each other (PostgreSQL runs READ COMMITTED).
  // It also returns the position's counted_at (below).
  auto locked = tx.exec(
      "INSERT INTO stock_position (sku, location, confirmed_e5, provisional_e5, on_hand_e5, last_movement_id) VALUES "
      "($1, $2, 0, 0, 0, $3) ON CONFLICT (sku, location) DO UPDATE SET sku = excluded.sku RETURNING counted_at",
      {m.sku, m.location, m.movement_id});
  if (!locked) return std::move(locked).error();
  std::string status(classify(m, settings));
  const std::string key = match_key(m);
  const std::string kind(model::to_string(m.kind));
  // A provisional sale or return whose ERP twin is already in the ledger:
  // counted there. The twin carries the order's id, or the id of the ERP
  // document that booked it with others (erp_booked_order).
  if (status == "provisional" && !key.empty()) {
    auto twin = tx.exec(
        "SELECT 1 FROM inventory_ledger WHERE status = 'applied' AND kind = $2 AND match_key IN (SELECT $1 UNION ALL "
        "SELECT document_id || $3 FROM erp_booked_order WHERE order_id = $4) LIMIT 1",
        {key, kind, key_suffix(m), *m.order_id});
    if (!twin) return std::move(twin).error();
    if (!twin->rows.empty()) status = "already_confirmed";
  }
  // Without an ERP, counts carry the sales they saw (migrations/*/0009).
  std::optional<model::Timestamp> counted_at;
  if (settings.authoritative_system.empty()) {
    if (!locked->rows.empty() && locked->rows[0][0]) {
      auto t = model::Timestamp::parse(*locked->rows[0][0]);
      if (t) counted_at = *t;
    }
    if (counted_at) {
      const auto order = m.occurred_at.compare_instant(*counted_at);
      if (count && order < 0) status = "stale_count";
      if (!count && order <= 0) status = "counted";
    }
  }
  auto inserted = tx.exec(
      "INSERT INTO inventory_ledger (movement_id, kind, sku, location, to_location, quantity_e5, occurred_at, "
      "workflow_id, status, source_system, match_key)"
      " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (movement_id) DO NOTHING",
      {m.movement_id, std::string(model::to_string(m.kind)), m.sku, m.location,
       m.to_location ? store::Param(*m.to_location) : store::Param(std::monostate{}), q, m.occurred_at.to_string(),
       workflow_id, status, m.source_system, key.empty() ? store::Param(std::monostate{}) : store::Param(key)});
  if (!inserted) return std::move(inserted).error();
  if (inserted->affected == 0) return Ok{};  // already in the ledger: never counted twice
  if (status == "observed" || status == "already_confirmed" || status == "counted" || status == "stale_count")
    return recorded ? recorded(tx, m, status) : Status(Ok{});

  // A count without an ERP: the deltas applied here that happened after it
  // are not in it.
  std::int64_t later = 0;
  if (count && settings.authoritative_system.empty()) {
    auto r = tx.exec(
        "SELECT quantity_e5, occurred_at, kind, location FROM inventory_ledger WHERE sku = $1 AND location = $2 AND "
        "status = 'applied' AND kind <> 'count' AND movement_id <> $3 UNION ALL SELECT quantity_e5, occurred_at, kind, "
        "location FROM inventory_ledger WHERE sku = $1 AND to_location = $2 AND status = 'applied'",
        {m.sku, m.location, m.movement_id});
    if (!r) return std::move(r).error();
    for (const auto& row : r->rows) {
      auto when = model::Timestamp::parse(*row[1]);
      if (!when || when->compare_instant(m.occurred_at) <= 0) continue;
      const std::int64_t qty = std::stoll(*row[0]);
      later += *row[2] == "transfer" && *row[3] == m.location ? -qty : qty;
    }
  }

  const bool provisional = status == "provisional";
  // What an ERP movement replaces: the provisional rows of its match key, or
  // (a count) those of its position that happened before it.
  std::int64_t replaced = 0;
  if (!provisional && !settings.authoritative_system.empty()) {
    if (count) {
      auto before = provisional_before(tx, m.sku, m.location, m.occurred_at);
      if (!before) return std::move(before).error();
      if (!before->empty()) {
        std::vector<store::Param> ids(before->begin(), before->end());
        auto sum =
            retire_provisional(tx, "superseded", "movement_id IN " + store::values_tuples(1, ids.size(), 2), ids);
        if (!sum) return std::move(sum).error();
        replaced = *sum;
      }
    } else if (!key.empty()) {
      // The entry of a document that booked several orders replaces the
      // provisional movements of each of them. (IN over a UNION, not an OR:
      // PostgreSQL then looks each key up in the match_key index.)
      auto sum = retire_provisional(tx, "matched",
                                    "kind = $3 AND match_key IN (SELECT $2 UNION ALL SELECT order_id || $4 FROM "
                                    "erp_booked_order WHERE document_id = $5)",
                                    {key, kind, key_suffix(m), *m.order_id});
      if (!sum) return std::move(sum).error();
      replaced = *sum;
    }
  }
  std::vector<std::pair<std::string, Position>> changed;
  const std::int64_t from_delta = m.kind == model::MovementKind::transfer ? -q : q;
  const bool sale_time = (m.kind == model::MovementKind::sale || m.kind == model::MovementKind::return_) &&
                         m.source_system != settings.authoritative_system;
  auto first = provisional
                   ? apply(tx, m.sku, m.location, 0, false, from_delta, m.movement_id, sale_time)
                   : apply(tx, m.sku, m.location, from_delta + later, count, -replaced, m.movement_id, sale_time);
  if (!first) return std::move(first).error();
  changed.emplace_back(m.location, *first);
  if (count && settings.authoritative_system.empty()) {
    auto mark = tx.exec("UPDATE stock_position SET counted_at = $3 WHERE sku = $1 AND location = $2",
                        {m.sku, m.location, m.occurred_at.to_utc_string()});
    if (!mark) return std::move(mark).error();
  }
  if (m.kind == model::MovementKind::transfer && m.to_location) {
    auto second = provisional ? apply(tx, m.sku, *m.to_location, 0, false, q, m.movement_id, false)
                              : apply(tx, m.sku, *m.to_location, q, false, 0, m.movement_id, false);
    if (!second) return std::move(second).error();
    changed.emplace_back(*m.to_location, *second);
  }
  for (const auto& [location, position] : changed) {
    model::StockPosition p;
    p.sku = m.sku;
    p.location = location;
    p.on_hand = Quantity::from_scaled(position.on_hand);
    p.committed = Quantity::from_scaled(0);
    p.available = Quantity::from_scaled(position.on_hand > 0 ? position.on_hand : 0);
    const auto ectx = new_event_context(source);
    p.as_of = ectx.time;
    p.last_movement_id = m.movement_id;
    auto appended = outbox.append(tx, to_outbox(model::stock_changed(p, ectx)));
    if (!appended) return std::move(appended).error();
  }
  return recorded ? recorded(tx, m, status) : Status(Ok{});
}

}  // namespace

workflow::WorkflowType movement_workflow(messaging::Outbox& outbox, std::string source, LedgerSettings settings,
                                         MovementRecorded recorded) {
  workflow::Step ledger;
  ledger.name = "ledger";
  ledger.run = [&outbox, source, settings, recorded](workflow::StepContext& ctx) -> workflow::StepResult {
    auto movement = model::from_json<model::InventoryMovement>(ctx.input());
    // The input was validated at intake; failing now means a bug or a
    // changed codec: permanent, with the reason.
    if (!movement)
      return make_error(Errc::invalid_argument, "stored movement no longer parses: " + movement.error().message);
    const std::string workflow_id = ctx.workflow_id();
    ctx.on_commit(
        [&outbox, source, settings, recorded, workflow_id, m = std::move(movement).value()](store::Transaction& tx) {
          return record_movement(tx, outbox, source, settings, recorded, workflow_id, m);
        });
    return Ok{};
  };
  workflow::WorkflowType type{kMovementWorkflow, {std::move(ledger)}};
  // The step locks its position (stock_position, stock_dirty) first.
  type.record_order = [](const nlohmann::json& input) {
    return input.value("sku", std::string()) + '|' + input.value("location", std::string());
  };
  return type;
}

namespace {

// The order version's reservations (stock_reservation, migrations/*/0010).
Status hold_stock(store::Transaction& tx, const model::Order& o) {
  auto cleared = tx.exec("DELETE FROM stock_reservation WHERE order_id = $1", {o.id});
  if (!cleared) return std::move(cleared).error();
  if (holds_stock(o.status)) {
    for (const auto& line : o.lines) {
      auto r = tx.exec(
          "INSERT INTO stock_reservation (order_id, line_id, channel, sku, location, quantity_e5) VALUES ($1, $2, $3, "
          "$4, $5, $6) ON CONFLICT (order_id, line_id) DO UPDATE SET sku = excluded.sku, location = excluded.location, "
          "quantity_e5 = excluded.quantity_e5",
          {o.id, line.line_id, o.channel, line.sku,
           o.location ? store::Param(*o.location) : store::Param(std::monostate{}), line.quantity.scaled()});
      if (!r) return std::move(r).error();
    }
  }
  if (cleared->affected == 0 && !holds_stock(o.status)) return Ok{};
  auto dirty =
      tx.exec("INSERT INTO reservation_dirty (order_id) VALUES ($1) ON CONFLICT (order_id) DO NOTHING", {o.id});
  if (!dirty) return std::move(dirty).error();
  return Ok{};
}

}  // namespace

bool holds_stock(model::OrderStatus status) noexcept {
  return status == model::OrderStatus::pending || status == model::OrderStatus::open ||
         status == model::OrderStatus::on_hold || status == model::OrderStatus::partially_fulfilled;
}

workflow::WorkflowType order_workflow(OrderRecorded on_recorded) {
  workflow::Step record;
  record.name = "record";
  record.run = [on_recorded](workflow::StepContext& ctx) -> workflow::StepResult {
    auto order = model::from_json<model::Order>(ctx.input());
    if (!order) return make_error(Errc::invalid_argument, "stored order no longer parses: " + order.error().message);
    const std::string workflow_id = ctx.workflow_id();
    ctx.on_commit([workflow_id, on_recorded, o = std::move(order).value()](store::Transaction& tx) -> Status {
      auto r = tx.exec(
          "INSERT INTO channel_order (id, channel, status, document, workflow_id) VALUES ($1, $2, $3, $4, $5)"
          " ON CONFLICT (id) DO UPDATE SET channel = excluded.channel, status = excluded.status,"
          " document = excluded.document, workflow_id = excluded.workflow_id",
          {o.id, o.channel, std::string(model::to_string(o.status)), model::to_json(o).dump(), workflow_id});
      if (!r) return std::move(r).error();
      if (auto held = hold_stock(tx, o); !held) return held;
      if (on_recorded) return on_recorded(tx, o);
      return Ok{};
    });
    return Ok{};
  };
  return workflow::WorkflowType{kOrderWorkflow, {std::move(record)}};
}

}  // namespace trueup::inventory
