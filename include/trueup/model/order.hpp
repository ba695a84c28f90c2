#pragma once
// Order: a customer order as accepted from a channel (marketplace, web shop,
// POS). All amounts are in the order's `currency` (decimal strings in JSON);
// tenders carry their own currency. Totals are as the channel stated them:
// the codec does not recompute them (reconciliation does).
//
// JSON: docs/schemas/order.schema.json. Required: id, channel,
// external_reference, placed_at, status, currency, lines (at least one),
// totals. Optional (default empty/false): updated_at, location,
// taxes_included, shipping_lines, discounts, taxes, tenders.
// Line `unit_price` is optional: Amazon items of a Pending order carry no
// price.

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

enum class OrderStatus { pending, open, on_hold, partially_fulfilled, fulfilled, cancelled, closed };
std::string_view to_string(OrderStatus s) noexcept;
std::optional<OrderStatus> parse_order_status(std::string_view text) noexcept;

struct Discount {
  std::optional<std::string> code;         // identifier, e.g. the coupon code
  std::optional<std::string> description;  // free text
  Money amount;                            // positive = reduces the price

  friend bool operator==(const Discount&, const Discount&) = default;
};

struct TaxLine {
  std::string name;              // free text, e.g. "VAT", "NY State Tax"
  std::optional<Quantity> rate;  // fraction, "0.2" = 20 %
  Money amount;

  friend bool operator==(const TaxLine&, const TaxLine&) = default;
};

struct OrderLine {
  std::string line_id;  // identifier, unique within the order
  Sku sku;
  std::optional<std::string> title;
  Quantity quantity;
  std::optional<Money> unit_price;
  std::vector<Discount> discounts;
  std::vector<TaxLine> taxes;

  friend bool operator==(const OrderLine&, const OrderLine&) = default;
};

struct ShippingLine {
  std::optional<std::string> line_id;
  std::string method;  // free text, e.g. "Standard"
  Money price;
  std::vector<Discount> discounts;
  std::vector<TaxLine> taxes;

  friend bool operator==(const ShippingLine&, const ShippingLine&) = default;
};

struct OrderTotals {
  Money subtotal;  // lines before order-level discounts, shipping and tax
  Money discount_total;
  Money shipping_total;
  Money tax_total;
  Money grand_total;  // what the customer pays

  friend bool operator==(const OrderTotals&, const OrderTotals&) = default;
};

struct Order {
  std::string id;  // canonical order id (identifier)
  ChannelCode channel;
  std::string external_reference;  // the channel's order id or number (identifier)
  Timestamp placed_at;
  std::optional<Timestamp> updated_at;
  OrderStatus status = OrderStatus::pending;
  Currency currency;
  std::optional<LocationCode> location;  // selling location (POS store), if any
  bool taxes_included = false;           // prices include tax
  std::vector<OrderLine> lines;
  std::vector<ShippingLine> shipping_lines;
  std::vector<Discount> discounts;  // order-level
  std::vector<TaxLine> taxes;       // order-level
  std::vector<Tender> tenders;
  OrderTotals totals;

  friend bool operator==(const Order&, const Order&) = default;
};

template <>
Result<Order> from_json<Order>(const nlohmann::json& j, std::string_view pointer);
nlohmann::json to_json(const Order& o);

}  // namespace trueup::model
