// Codecs for InventoryMovement and StockPosition.

#include "codec_parts.hpp"
#include "trueup/model/inventory_movement.hpp"
#include "trueup/model/stock_position.hpp"

namespace trueup::model {
namespace detail {
namespace {

constexpr std::pair<std::string_view, MovementKind> kMovementKind[] = {
    {"sale", MovementKind::sale},         {"return", MovementKind::return_},        {"receipt", MovementKind::receipt},
    {"transfer", MovementKind::transfer}, {"adjustment", MovementKind::adjustment}, {"count", MovementKind::count},
};

void read_movement(Problems& p, const json& j, const std::string& path, InventoryMovement& m) {
  ObjectReader r(p, j, path);
  r.string("movement_id", m.movement_id, StringKind::identifier);
  r.enumeration<MovementKind>("kind", m.kind, kMovementKind);
  r.string("sku", m.sku, StringKind::identifier);
  r.string("location", m.location, StringKind::code);
  if (!r.failed()) {
    // Which quantity member applies depends on the kind: say so by name.
    const bool transfer = m.kind == MovementKind::transfer;
    const bool count = m.kind == MovementKind::count;
    if (transfer) {
      r.string("to_location", m.to_location, StringKind::code);
      if (!r.failed() && !m.to_location) r.fail("to_location", "required when kind is transfer");
      if (!r.failed() && *m.to_location == m.location) r.fail("to_location", "must differ from location");
    } else if (r.has("to_location")) {
      r.fail("to_location", "allowed only when kind is transfer");
    }
    if (count) {
      if (r.has("quantity_delta")) r.fail("quantity_delta", "not allowed when kind is count (use counted_quantity)");
      r.quantity("counted_quantity", m.counted_quantity);
      if (!r.failed() && !m.counted_quantity) r.fail("counted_quantity", "required when kind is count");
      if (!r.failed() && m.counted_quantity->is_negative()) r.fail("counted_quantity", "must not be negative");
    } else {
      if (r.has("counted_quantity")) r.fail("counted_quantity", "allowed only when kind is count");
      r.quantity("quantity_delta", m.quantity_delta);
      if (!r.failed() && !m.quantity_delta) r.fail("quantity_delta", "required unless kind is count");
      if (!r.failed() && transfer && (m.quantity_delta->is_negative() || m.quantity_delta->is_zero()))
        r.fail("quantity_delta", "must be positive when kind is transfer");
    }
  }
  r.timestamp("occurred_at", m.occurred_at);
  r.string("source_system", m.source_system, StringKind::code);
  r.string("source_reference", m.source_reference, StringKind::identifier);
  r.string("order_id", m.order_id, StringKind::identifier);
  r.string("reason", m.reason, StringKind::text);
  r.finish();
}

void read_position(Problems& p, const json& j, const std::string& path, StockPosition& s) {
  ObjectReader r(p, j, path);
  r.string("sku", s.sku, StringKind::identifier);
  r.string("location", s.location, StringKind::code);
  r.quantity("on_hand", s.on_hand);
  r.quantity("committed", s.committed);
  r.quantity("available", s.available);
  r.timestamp("as_of", s.as_of);
  r.string("last_movement_id", s.last_movement_id, StringKind::identifier);
  r.finish();
}

}  // namespace
}  // namespace detail

std::string_view to_string(MovementKind k) noexcept {
  return detail::enum_name<MovementKind>(detail::kMovementKind, k);
}

template <>
Result<InventoryMovement> from_json<InventoryMovement>(const nlohmann::json& j, std::string_view pointer) {
  return detail::read_document<InventoryMovement>(j, pointer, detail::read_movement);
}

nlohmann::json to_json(const InventoryMovement& m) {
  nlohmann::json j = nlohmann::json::object();
  j["movement_id"] = m.movement_id;
  j["kind"] = to_string(m.kind);
  j["sku"] = m.sku;
  j["location"] = m.location;
  detail::put(j, "to_location", m.to_location);
  if (m.quantity_delta) j["quantity_delta"] = m.quantity_delta->to_string();
  if (m.counted_quantity) j["counted_quantity"] = m.counted_quantity->to_string();
  j["occurred_at"] = m.occurred_at.to_string();
  j["source_system"] = m.source_system;
  j["source_reference"] = m.source_reference;
  detail::put(j, "order_id", m.order_id);
  detail::put(j, "reason", m.reason);
  return j;
}

template <>
Result<StockPosition> from_json<StockPosition>(const nlohmann::json& j, std::string_view pointer) {
  return detail::read_document<StockPosition>(j, pointer, detail::read_position);
}

nlohmann::json to_json(const StockPosition& s) {
  nlohmann::json j = nlohmann::json::object();
  j["sku"] = s.sku;
  j["location"] = s.location;
  j["on_hand"] = s.on_hand.to_string();
  j["committed"] = s.committed.to_string();
  j["available"] = s.available.to_string();
  j["as_of"] = s.as_of.to_string();
  detail::put(j, "last_movement_id", s.last_movement_id);
  return j;
}

}  // namespace trueup::model
