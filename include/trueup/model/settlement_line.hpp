#pragma once
// SettlementLine: one amount component of a marketplace or payment provider
// settlement (Amazon settlement report row, Shopify payout transaction).
// `amount` is signed from the merchant's view: fees and refunds negative.
// JSON: docs/schemas/settlement-line.schema.json.

#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "trueup/core/money.hpp"
#include "trueup/model/codec.hpp"
#include "trueup/model/identifiers.hpp"
#include "trueup/model/timestamp.hpp"

namespace trueup::model {

enum class SettlementCategory { sale, refund, fee, shipping, tax, promotion, adjustment, reserve, payout, other };
std::string_view to_string(SettlementCategory c) noexcept;

struct SettlementLine {
  std::string settlement_id;  // identifier of the settlement
  std::string line_id;        // identifier, unique within the settlement
  ChannelCode channel;
  SettlementCategory category = SettlementCategory::other;
  std::optional<std::string> description;  // source's type/description, e.g. "ItemFees/Commission"
  std::optional<std::string> order_id;     // canonical order id when mapped
  std::optional<std::string> external_order_reference;
  std::optional<Sku> sku;
  std::optional<Quantity> quantity;
  Money amount;
  Timestamp posted_at;

  friend bool operator==(const SettlementLine&, const SettlementLine&) = default;
};

template <>
Result<SettlementLine> from_json<SettlementLine>(const nlohmann::json& j, std::string_view pointer);
nlohmann::json to_json(const SettlementLine& s);

}  // namespace trueup::model
