#pragma once
// Refund: money given back for an order, optionally for a Return. Lines may
// restock (with the location, as in Shopify refunds). Amounts are positive
// amounts refunded, in `currency`; `tenders` are the refund payments.
// JSON: docs/schemas/refund.schema.json.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "trueup/core/money.hpp"
#include "trueup/model/codec.hpp"
#include "trueup/model/identifiers.hpp"
#include "trueup/model/tender.hpp"
#include "trueup/model/timestamp.hpp"

namespace trueup::model {

struct RefundLine {
  std::string line_id;  // the order line refunded
  Sku sku;
  Quantity quantity;
  Money amount;  // refunded for this line, tax included when the order's taxes are
  bool restock = false;
  std::optional<LocationCode> location;  // required when restock

  friend bool operator==(const RefundLine&, const RefundLine&) = default;
};

struct Refund {
  std::string id;
  std::string order_id;
  std::optional<std::string> return_id;
  ChannelCode channel;
  Timestamp created_at;
  Currency currency;
  std::optional<std::string> reason;  // free text
  std::vector<RefundLine> lines;      // may be empty (shipping-only or goodwill refund)
  Money shipping;                     // shipping refunded (zero when none)
  Money total;                        // the whole refund
  std::vector<Tender> tenders;

  friend bool operator==(const Refund&, const Refund&) = default;
};

template <>
Result<Refund> from_json<Refund>(const nlohmann::json& j, std::string_view pointer);
nlohmann::json to_json(const Refund& r);

}  // namespace trueup::model
