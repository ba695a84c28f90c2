#pragma once
// StockPosition: stock of one SKU at one location at an instant.
//   on_hand    physically there
//   committed  promised to open orders
//   available  what may be sold (on_hand - committed - safety stock, after
//              availability rules); may be negative when oversold
// JSON: docs/schemas/stock-position.schema.json.

#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "trueup/core/money.hpp"
#include "trueup/model/codec.hpp"
#include "trueup/model/identifiers.hpp"
#include "trueup/model/timestamp.hpp"

namespace trueup::model {

struct StockPosition {
  Sku sku;
  LocationCode location;
  Quantity on_hand;
  Quantity committed;
  Quantity available;
  Timestamp as_of;
  std::optional<std::string> last_movement_id;  // the movement that produced it

  friend bool operator==(const StockPosition&, const StockPosition&) = default;
};

template <>
Result<StockPosition> from_json<StockPosition>(const nlohmann::json& j, std::string_view pointer);
nlohmann::json to_json(const StockPosition& p);

}  // namespace trueup::model
