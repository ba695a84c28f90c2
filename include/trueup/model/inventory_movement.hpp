#pragma once
// InventoryMovement: one change of stock of one SKU at one location, with a
// movement id (the dedupe key) and the system and reference it came from.
//
// Quantities by kind:
//   sale, return, receipt, adjustment  `quantity_delta` (signed change;
//                                      sales are normally negative)
//   transfer                           `quantity_delta` > 0 moved from
//                                      `location` to `to_location` (required,
//                                      different from location)
//   count                              `counted_quantity` >= 0: the absolute
//                                      quantity counted (replaces on hand)
// The member that does not apply must be absent; `to_location` only with
// transfer. JSON: docs/schemas/inventory-movement.schema.json.

#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "trueup/core/money.hpp"
#include "trueup/model/codec.hpp"
#include "trueup/model/identifiers.hpp"
#include "trueup/model/timestamp.hpp"

namespace trueup::model {

enum class MovementKind { sale, return_, receipt, transfer, adjustment, count };
std::string_view to_string(MovementKind k) noexcept;  // "return" for return_

struct InventoryMovement {
  std::string movement_id;  // identifier, unique per movement (dedupe key)
  MovementKind kind = MovementKind::adjustment;
  Sku sku;
  LocationCode location;
  std::optional<LocationCode> to_location;   // transfer only
  std::optional<Quantity> quantity_delta;    // all kinds but count
  std::optional<Quantity> counted_quantity;  // count only
  Timestamp occurred_at;
  SystemCode source_system;      // e.g. "square"
  std::string source_reference;  // identifier in the source system
  std::optional<std::string> order_id;
  std::optional<std::string> reason;  // free text

  friend bool operator==(const InventoryMovement&, const InventoryMovement&) = default;
};

template <>
Result<InventoryMovement> from_json<InventoryMovement>(const nlohmann::json& j, std::string_view pointer);
nlohmann::json to_json(const InventoryMovement& m);

}  // namespace trueup::model
