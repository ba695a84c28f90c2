#pragma once
// Return: goods coming back from a customer. Each line says whether the goods
// go back to stock (`restock`) and where (`location`, required when restock
// is true). The money side is a Refund (refund.hpp).
// JSON: docs/schemas/return.schema.json.

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

enum class ReturnStatus { requested, in_transit, received, closed, cancelled };
std::string_view to_string(ReturnStatus s) noexcept;

struct ReturnLine {
  std::string line_id;  // the order line returned
  Sku sku;
  Quantity quantity;
  std::optional<std::string> reason;  // free text
  bool restock = false;
  std::optional<LocationCode> location;  // required when restock

  friend bool operator==(const ReturnLine&, const ReturnLine&) = default;
};

struct Return {
  std::string id;
  std::string order_id;
  ChannelCode channel;
  ReturnStatus status = ReturnStatus::requested;
  Timestamp created_at;
  std::optional<Timestamp> received_at;
  std::vector<ReturnLine> lines;  // at least one

  friend bool operator==(const Return&, const Return&) = default;
};

template <>
Result<Return> from_json<Return>(const nlohmann::json& j, std::string_view pointer);
nlohmann::json to_json(const Return& r);

}  // namespace trueup::model
