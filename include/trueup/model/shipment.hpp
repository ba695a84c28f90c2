#pragma once
// Shipment: goods of one order leaving one location.
// JSON: docs/schemas/shipment.schema.json. `shipped_at` is required when the
// status is shipped or delivered.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "trueup/core/money.hpp"
#include "trueup/model/codec.hpp"
#include "trueup/model/identifiers.hpp"
#include "trueup/model/timestamp.hpp"

namespace trueup::model {

enum class ShipmentStatus { pending, shipped, delivered, cancelled };
std::string_view to_string(ShipmentStatus s) noexcept;

struct ShipmentLine {
  std::string line_id;  // the order line shipped
  Sku sku;
  Quantity quantity;

  friend bool operator==(const ShipmentLine&, const ShipmentLine&) = default;
};

struct Shipment {
  std::string id;        // identifier
  std::string order_id;  // canonical order id
  ChannelCode channel;
  LocationCode location;  // shipped from
  ShipmentStatus status = ShipmentStatus::pending;
  std::optional<Timestamp> shipped_at;
  std::optional<std::string> carrier;          // free text
  std::optional<std::string> tracking_number;  // identifier
  std::vector<ShipmentLine> lines;             // at least one

  friend bool operator==(const Shipment&, const Shipment&) = default;
};

template <>
Result<Shipment> from_json<Shipment>(const nlohmann::json& j, std::string_view pointer);
nlohmann::json to_json(const Shipment& s);

}  // namespace trueup::model
