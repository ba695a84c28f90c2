#pragma once
// Shopify Admin REST 2026-07 payloads: orders (webhooks orders/create and
// orders/updated carry the bare REST order), refunds (refunds/create),
// inventory levels (inventory_levels/update), transactions (tenders), and the
// variant, inventory item and location resources used to fill the crosswalk;
// the body of `POST inventory_levels/set.json`. Mapping to the canonical model is in
// shopify_mapping.hpp.
//
// Ids are int64 and exceed 2^53 in real shops: documents are parsed with
// parse_exact and ids are kept as their exact decimal text (an id given as a
// string is accepted too). Money: a decimal string ("598.94") or number
// (refund `subtotal: 0.0`), with `<name>_set` {shop_money, presentment_money}
// pairs; when both forms are present they must agree (shop money). Amounts
// are in the shop currency (the order's `currency`), presentment amounts are
// kept beside them.
//
// Every decoder accepts the three forms Shopify uses: {"orders": [...]} (a
// list response), {"order": {...}} (a single response) and the bare resource
// (a webhook body). Errors are Errc::invalid_argument with the JSON Pointer of
// the value.
//
// Thread-safety: pure functions.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "trueup/core/error.hpp"
#include "trueup/core/money.hpp"
#include "trueup/model/timestamp.hpp"

namespace trueup::connectors::shopify {

// An amount in the shop currency and, when given, in the presentment currency.
struct MoneyPair {
  Money shop;
  std::optional<Money> presentment;
};

struct TaxLine {
  std::string title;
  std::optional<Quantity> rate;  // fraction, 0.06 = 6 % (a JSON number, read exactly)
  MoneyPair price;
};

struct DiscountAllocation {
  MoneyPair amount;
  std::int64_t discount_application_index = 0;
};

struct DiscountApplication {
  std::string type;  // discount_code, manual, script, automatic
  std::optional<std::string> code;
  std::optional<std::string> title;
  std::optional<std::string> description;
  std::optional<std::string> target_type;  // line_item, shipping_line
};

struct LineItem {
  std::string id;
  std::optional<std::string> variant_id;  // null for custom line items
  std::optional<std::string> product_id;
  std::optional<std::string> sku;
  std::optional<std::string> title;
  std::optional<std::string> name;
  Quantity quantity;
  MoneyPair price;
  std::vector<TaxLine> tax_lines;
  std::vector<DiscountAllocation> discount_allocations;
};

struct ShippingLine {
  std::optional<std::string> id;
  std::string title;
  std::optional<std::string> code;
  MoneyPair price;
  std::vector<TaxLine> tax_lines;
  std::vector<DiscountAllocation> discount_allocations;
};

struct Order {
  std::string id;
  std::optional<std::string> name;  // "#1001"
  std::optional<model::Timestamp> created_at;
  std::optional<model::Timestamp> updated_at;
  std::optional<model::Timestamp> cancelled_at;
  std::optional<model::Timestamp> closed_at;
  std::optional<Currency> currency;  // shop currency
  std::optional<Currency> presentment_currency;
  std::optional<std::string> financial_status;
  std::optional<std::string> fulfillment_status;  // null, partial, fulfilled
  bool taxes_included = false;
  std::optional<std::string> location_id;  // POS orders
  std::vector<LineItem> line_items;
  std::vector<ShippingLine> shipping_lines;
  std::vector<TaxLine> tax_lines;
  std::vector<DiscountApplication> discount_applications;
  std::optional<MoneyPair> total_line_items_price;
  std::optional<MoneyPair> subtotal_price;
  std::optional<MoneyPair> total_discounts;
  std::optional<MoneyPair> total_tax;
  std::optional<MoneyPair> total_shipping_price;  // total_shipping_price_set only
  std::optional<MoneyPair> total_price;
};
Result<std::vector<Order>> decode_orders(std::string_view body);

struct RefundLineItem {
  std::optional<std::string> id;
  std::string line_item_id;
  Quantity quantity;
  std::string restock_type;  // no_restock, cancel, return, legacy_restock
  std::optional<std::string> location_id;
  std::optional<MoneyPair> subtotal;
  std::optional<MoneyPair> total_tax;
  std::optional<LineItem> line_item;  // the order line, embedded in responses
};

struct Transaction {
  std::optional<std::string> id;      // absent in suggested_refund transactions
  std::string kind;                   // refund, sale, capture, ...
  std::optional<std::string> status;  // success, failure, pending, error
  std::optional<std::string> gateway;
  std::optional<std::string> authorization;
  std::optional<std::string> payment_id;
  Money amount;  // in `currency`
  std::optional<model::Timestamp> processed_at;
  std::optional<std::string> card_company;  // payment_details.credit_card_company
};
// GET/POST orders/{id}/transactions answers.
Result<std::vector<Transaction>> decode_transactions(std::string_view body);

struct Refund {
  std::optional<std::string> id;        // absent in refunds/calculate answers
  std::optional<std::string> order_id;  // likewise
  std::optional<model::Timestamp> created_at;
  std::optional<std::string> note;
  std::optional<Currency> currency;  // shop currency, from `currency` or the first *_set seen
  std::vector<RefundLineItem> refund_line_items;
  std::vector<MoneyPair> refund_shipping_lines;  // subtotal_amount_set
  std::vector<Transaction> transactions;
};
Result<std::vector<Refund>> decode_refunds(std::string_view body);

struct InventoryLevel {
  std::string inventory_item_id;
  std::string location_id;
  std::optional<std::int64_t> available;  // null when the item is not tracked
  std::optional<model::Timestamp> updated_at;
};
Result<std::vector<InventoryLevel>> decode_inventory_levels(std::string_view body);

struct Variant {
  std::string id;
  std::optional<std::string> product_id;
  std::optional<std::string> sku;
  std::optional<std::string> inventory_item_id;
  std::optional<std::string> title;
  std::optional<std::string> price;  // decimal string in the shop currency (the variant does not name it)
};
Result<std::vector<Variant>> decode_variants(std::string_view body);

struct InventoryItem {
  std::string id;
  std::optional<std::string> sku;
  std::optional<bool> tracked;
};
Result<std::vector<InventoryItem>> decode_inventory_items(std::string_view body);

struct Location {
  std::string id;
  std::string name;
  std::optional<bool> active;
};
Result<std::vector<Location>> decode_locations(std::string_view body);

// POST /admin/api/2026-07/inventory_levels/set.json: set-to-value, so
// naturally idempotent. Ids must be decimal digits (written as JSON integers,
// exactly).
struct InventoryLevelSet {
  std::string location_id;
  std::string inventory_item_id;
  std::int64_t available = 0;
};
Result<nlohmann::json> build_inventory_level_set(const InventoryLevelSet& request);
Result<InventoryLevelSet> decode_inventory_level_set(std::string_view body);

// GraphQL Admin API `inventorySetQuantities` (POST graphql.json), API
// 2026-04 rules: the `@idempotent(key:)` directive is required (the same key
// with the same input is applied once), and every quantity names
// `changeFromQuantity` (null: set without comparing, which is what a
// set-to-value push wants). Name "available", reason "correction", at most
// kMaxSetQuantities quantities a call. Ids are decimal digits, written as
// gid://shopify/InventoryItem/<id> and gid://shopify/Location/<id>.
inline constexpr std::size_t kMaxSetQuantities = 250;

struct QuantitySet {
  std::string inventory_item_id;
  std::string location_id;
  std::int64_t quantity = 0;
};
// {"query": <the mutation>, "variables": {"input": {...}, "idempotencyKey": key}}
Result<nlohmann::json> build_inventory_set_quantities(const std::vector<QuantitySet>& quantities,
                                                      const std::string& idempotency_key);

// What graphql.json answered to inventorySetQuantities.
struct SetQuantitiesAnswer {
  struct UserError {
    std::optional<std::size_t> quantity;  // the index in input.quantities the error names, if any
    std::string code;
    std::string message;
  };
  struct TopLevelError {
    std::string code;  // extensions.code: THROTTLED, IDEMPOTENCY_CONFLICT, BAD_REQUEST, ...
    std::string message;
  };
  // extensions.cost (GraphQL's cost-based limit), when given.
  struct Cost {
    double requested = 0;
    double currently_available = 0;
    double maximum_available = 0;
    double restore_rate = 0;
  };
  bool applied = false;  // data.inventorySetQuantities present (userErrors may still refuse it)
  std::vector<UserError> user_errors;
  std::vector<TopLevelError> errors;
  std::optional<Cost> cost;

  bool throttled() const;
};
// invalid_argument when the body is not a GraphQL answer (no data, no errors).
Result<SetQuantitiesAnswer> decode_inventory_set_quantities_answer(std::string_view body);

}  // namespace trueup::connectors::shopify
