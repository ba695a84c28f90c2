#include "trueup/inventory/ledger.hpp"

#include "trueup/model/events.hpp"
#include "trueup/model/inventory_movement.hpp"
#include "trueup/model/order.hpp"
#include "trueup/model/stock_position.hpp"

namespace trueup::inventory {
namespace {

// Adds `delta` (or sets `counted`) to a position; returns the new on-hand.
Result<std::int64_t> apply(store::Transaction& tx, const std::string& sku, const std::string& location,
                           std::int64_t quantity_e5, bool set, const std::string& movement_id) {
  const char* sql =
      set ? "INSERT INTO stock_position (sku, location, on_hand_e5, last_movement_id) VALUES ($1, $2, $3, $4)"
            " ON CONFLICT (sku, location) DO UPDATE SET on_hand_e5 = excluded.on_hand_e5,"
            " last_movement_id = excluded.last_movement_id RETURNING on_hand_e5"
          : "INSERT INTO stock_position (sku, location, on_hand_e5, last_movement_id) VALUES ($1, $2, $3, $4)"
            " ON CONFLICT (sku, location) DO UPDATE SET on_hand_e5 = stock_position.on_hand_e5 + excluded.on_hand_e5,"
            " last_movement_id = excluded.last_movement_id RETURNING on_hand_e5";
  auto r = tx.exec(sql, {sku, location, quantity_e5, movement_id});
  if (!r) return std::move(r).error();
  if (r->rows.empty() || !r->rows[0][0]) return make_error(Errc::internal, "stock position not returned");
  return std::stoll(*r->rows[0][0]);
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

workflow::WorkflowType movement_workflow(messaging::Outbox& outbox, std::string source) {
  workflow::Step ledger;
  ledger.name = "ledger";
  ledger.run = [&outbox, source](workflow::StepContext& ctx) -> workflow::StepResult {
    auto movement = model::from_json<model::InventoryMovement>(ctx.input());
    // The input was validated at intake; failing now means a bug or a
    // changed codec: permanent, with the reason.
    if (!movement)
      return make_error(Errc::invalid_argument, "stored movement no longer parses: " + movement.error().message);
    const std::string workflow_id = ctx.workflow_id();
    ctx.on_commit([&outbox, source, workflow_id, m = std::move(movement).value()](store::Transaction& tx) -> Status {
      const bool count = m.kind == model::MovementKind::count;
      const std::int64_t q = count ? m.counted_quantity->scaled() : m.quantity_delta->scaled();
      auto inserted = tx.exec(
          "INSERT INTO inventory_ledger (movement_id, kind, sku, location, to_location, quantity_e5, occurred_at, "
          "workflow_id)"
          " VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (movement_id) DO NOTHING",
          {m.movement_id, std::string(model::to_string(m.kind)), m.sku, m.location,
           m.to_location ? store::Param(*m.to_location) : store::Param(std::monostate{}), q, m.occurred_at.to_string(),
           workflow_id});
      if (!inserted) return std::move(inserted).error();
      if (inserted->affected == 0) return Ok{};  // already in the ledger: never counted twice
      std::vector<std::pair<std::string, std::int64_t>> changed;
      auto first = apply(tx, m.sku, m.location, m.kind == model::MovementKind::transfer ? -q : q, count, m.movement_id);
      if (!first) return std::move(first).error();
      changed.emplace_back(m.location, *first);
      if (m.kind == model::MovementKind::transfer && m.to_location) {
        auto second = apply(tx, m.sku, *m.to_location, q, false, m.movement_id);
        if (!second) return std::move(second).error();
        changed.emplace_back(*m.to_location, *second);
      }
      for (const auto& [location, on_hand] : changed) {
        model::StockPosition p;
        p.sku = m.sku;
        p.location = location;
        p.on_hand = Quantity::from_scaled(on_hand);
        p.committed = Quantity::from_scaled(0);
        p.available = Quantity::from_scaled(on_hand > 0 ? on_hand : 0);
        const auto ectx = new_event_context(source);
        p.as_of = ectx.time;
        p.last_movement_id = m.movement_id;
        auto appended = outbox.append(tx, to_outbox(model::stock_changed(p, ectx)));
        if (!appended) return std::move(appended).error();
      }
      return Ok{};
    });
    return Ok{};
  };
  return workflow::WorkflowType{kMovementWorkflow, {std::move(ledger)}};
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
      if (on_recorded) return on_recorded(tx, o);
      return Ok{};
    });
    return Ok{};
  };
  return workflow::WorkflowType{kOrderWorkflow, {std::move(record)}};
}

}  // namespace trueup::inventory
