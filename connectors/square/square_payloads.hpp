#pragma once
// Square (POS) payloads, Square-Version 2025-08-20: decoding what Square sends
// (webhook events, Order, Payment, PaymentRefund, InventoryCount and
// InventoryChange objects, SearchOrders and BatchRetrieveInventory* responses),
// building what Trueup sends (BatchChangeInventory, BatchRetrieveInventoryCounts
// request bodies), and mapping to the canonical model (square_mapping.hpp).
//
// Money is `{amount: integer minor units, currency}` -> Money, exact;
// quantities are decimal strings -> Quantity (5 decimals). Ids are strings.
// Decoders ignore members they do not read; errors are Errc::invalid_argument
// with the JSON Pointer of the value ("/order/line_items/1/quantity: ...").
// A response with a non-empty `errors` array is rejected as "square_errors".
//
// Thread-safety: pure functions.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "trueup/core/error.hpp"
#include "trueup/core/money.hpp"
#include "trueup/model/timestamp.hpp"

namespace trueup::connectors::square {

// ---- Orders ---------------------------------------------------------------

// An applied_discounts / applied_taxes entry of a line item.
struct AppliedAmount {
  std::string uid;  // discount_uid or tax_uid: the order-level discount/tax
  std::optional<Money> applied_money;
};

struct OrderLineItem {
  std::optional<std::string> uid;
  std::optional<std::string> name;
  std::optional<std::string> catalog_object_id;  // the ITEM_VARIATION
  std::optional<std::string> variation_name;
  Quantity quantity;
  std::optional<Money> base_price_money;
  std::optional<Money> gross_sales_money;
  std::optional<Money> total_discount_money;
  std::optional<Money> total_tax_money;
  std::optional<Money> total_money;
  std::vector<AppliedAmount> applied_discounts;
  std::vector<AppliedAmount> applied_taxes;
};

struct OrderDiscount {  // also used for taxes (OrderLineItemTax)
  std::optional<std::string> uid;
  std::optional<std::string> name;
  std::optional<std::string> catalog_object_id;
  std::optional<std::string> type;     // FIXED_PERCENTAGE, FIXED_AMOUNT, ADDITIVE, INCLUSIVE, ...
  std::optional<std::string> scope;    // ORDER, LINE_ITEM
  std::optional<Quantity> percentage;  // "9" = 9 %
  std::optional<Money> amount_money;
  std::optional<Money> applied_money;
};

struct OrderTender {
  std::string id;
  std::string type;  // CARD, CASH, SQUARE_GIFT_CARD, WALLET, BANK_ACCOUNT, ...
  Money amount_money;
  std::optional<std::string> payment_id;
};

struct Order {
  std::optional<std::string> id;  // absent in request bodies
  std::optional<std::string> location_id;
  std::optional<std::string> reference_id;
  std::optional<std::string> state;  // OPEN, COMPLETED, CANCELED, DRAFT
  std::optional<std::int64_t> version;
  std::optional<model::Timestamp> created_at;
  std::optional<model::Timestamp> updated_at;
  std::optional<model::Timestamp> closed_at;
  std::vector<OrderLineItem> line_items;
  std::vector<OrderDiscount> discounts;
  std::vector<OrderDiscount> taxes;
  std::vector<OrderTender> tenders;
  std::optional<Money> total_money;
  std::optional<Money> total_tax_money;
  std::optional<Money> total_discount_money;
  std::optional<Money> total_tip_money;
  std::optional<Money> total_service_charge_money;
};

// An Order object (`pointer` prefixes reported paths).
Result<Order> decode_order(const nlohmann::json& j, std::string_view pointer = "");
// {"order": {...}}: RetrieveOrder, CreateOrder, UpdateOrder responses.
Result<Order> decode_order_response(std::string_view body);

struct OrderEntry {
  std::string order_id;
  std::optional<std::string> location_id;
  std::optional<std::int64_t> version;
};

struct SearchOrdersResponse {
  std::vector<Order> orders;              // return_entries = false
  std::vector<OrderEntry> order_entries;  // return_entries = true
  std::optional<std::string> cursor;      // next page
};
Result<SearchOrdersResponse> decode_search_orders_response(std::string_view body);

// ---- Payments and refunds -------------------------------------------------

struct Payment {
  std::string id;
  std::optional<std::string> order_id;
  std::optional<std::string> location_id;
  std::optional<std::string> status;       // APPROVED, PENDING, COMPLETED, CANCELED, FAILED
  std::optional<std::string> source_type;  // CARD, CASH, WALLET, BANK_ACCOUNT, EXTERNAL, ...
  Money amount_money;
  std::optional<Money> tip_money;
  std::optional<Money> total_money;
  std::optional<model::Timestamp> created_at;
  std::optional<model::Timestamp> captured_at;  // card_details.card_payment_timeline
  std::optional<std::string> receipt_number;
  std::optional<std::string> reference_id;
};
Result<Payment> decode_payment(const nlohmann::json& j, std::string_view pointer = "");

struct PaymentRefund {
  std::string id;
  std::optional<std::string> payment_id;
  std::optional<std::string> order_id;
  std::optional<std::string> location_id;
  std::optional<std::string> status;  // PENDING, COMPLETED, REJECTED, FAILED
  std::optional<std::string> reason;
  Money amount_money;
  std::optional<model::Timestamp> created_at;
};
Result<PaymentRefund> decode_payment_refund(const nlohmann::json& j, std::string_view pointer = "");

// {"payment": {...}} (CreatePayment, GetPayment) and {"refund": {...}}
// (RefundPayment, GetPaymentRefund) responses; {"refunds": [...], "cursor"}
// (ListPaymentRefunds).
Result<Payment> decode_payment_response(std::string_view body);
Result<PaymentRefund> decode_refund_response(std::string_view body);
struct PaymentRefundsPage {
  std::vector<PaymentRefund> refunds;
  std::optional<std::string> cursor;
};
Result<PaymentRefundsPage> decode_list_refunds_response(std::string_view body);

// ---- Inventory ------------------------------------------------------------

struct InventoryCount {
  std::string catalog_object_id;
  std::optional<std::string> catalog_object_type;  // ITEM_VARIATION
  std::string location_id;
  std::string state;  // IN_STOCK, SOLD, WASTE, ...
  Quantity quantity;
  model::Timestamp calculated_at;
};
Result<InventoryCount> decode_inventory_count(const nlohmann::json& j, std::string_view pointer = "");

struct InventoryCountsPage {
  std::vector<InventoryCount> counts;
  std::optional<std::string> cursor;
};
// BatchRetrieveInventoryCounts and BatchChangeInventory responses.
Result<InventoryCountsPage> decode_inventory_counts_response(std::string_view body);

// What every inventory change names.
struct InventoryChangeFields {
  std::optional<std::string> id;  // assigned by Square
  std::optional<std::string> reference_id;
  std::string catalog_object_id;
  std::string location_id;
  Quantity quantity;
  model::Timestamp occurred_at;
  std::optional<std::string> team_member_id;
};

struct PhysicalCount : InventoryChangeFields {
  std::string state;  // IN_STOCK
};

struct InventoryAdjustment : InventoryChangeFields {
  std::string from_state;  // NONE, IN_STOCK, SOLD, WASTE, ...
  std::string to_state;
};

// An InventoryChange: exactly one of the two, per `type` (TRANSFER is not read).
using InventoryChange = std::variant<PhysicalCount, InventoryAdjustment>;

struct InventoryChangesPage {
  std::vector<InventoryChange> changes;
  std::optional<std::string> cursor;
};
// BatchRetrieveInventoryChanges response.
Result<InventoryChangesPage> decode_inventory_changes_response(std::string_view body);

// POST /v2/inventory/changes/batch-create. The same idempotency_key with other
// changes is an error at Square, so derive the key from what the changes
// stand for (e.g. the canonical movement ids), never from a clock.
struct BatchChangeInventoryRequest {
  std::string idempotency_key;           // 1..128 bytes
  std::vector<InventoryChange> changes;  // 1..100
  std::optional<bool> ignore_unchanged_counts;
};
// The request body; Errc::invalid_argument when the key or the number of
// changes is out of bounds.
Result<nlohmann::json> build_batch_change_inventory(const BatchChangeInventoryRequest& request);
// The inverse, for the simulator and the contract test.
Result<BatchChangeInventoryRequest> decode_batch_change_inventory(std::string_view body);

// POST /v2/inventory/counts/batch-retrieve (the polling fallback).
struct BatchRetrieveInventoryCountsRequest {
  std::vector<std::string> catalog_object_ids;
  std::vector<std::string> location_ids;
  std::optional<model::Timestamp> updated_after;
  std::optional<std::string> cursor;
};
nlohmann::json build_batch_retrieve_inventory_counts(const BatchRetrieveInventoryCountsRequest& request);

// POST /v2/orders/search (the polling fallback for orders): orders of
// `location_ids` (1..10) whose `time_field` lies in [start_at, end_at], in the
// given states, sorted by the same field. Poll with time_field UPDATED_AT,
// sort ASC and a persisted cursor/instant.
struct SearchOrdersRequest {
  std::vector<std::string> location_ids;
  std::string time_field = "UPDATED_AT";  // CREATED_AT, UPDATED_AT, CLOSED_AT
  std::optional<model::Timestamp> start_at;
  std::optional<model::Timestamp> end_at;
  std::vector<std::string> states;  // OPEN, COMPLETED, CANCELED, DRAFT
  std::string sort_order = "ASC";
  std::optional<std::int64_t> limit;
  std::optional<std::string> cursor;
  bool return_entries = false;
};
// Errc::invalid_argument for 0 or more than 10 locations or an unknown time field.
Result<nlohmann::json> build_search_orders(const SearchOrdersRequest& request);

// ---- Webhooks -------------------------------------------------------------

// The order.created / order.updated / order.fulfillment.updated payload: only
// id, state and version. Fetch the order (RetrieveOrder) to map it.
struct OrderChange {
  std::string order_id;
  std::optional<std::string> location_id;
  std::optional<std::string> state;
  std::int64_t version = 0;
  std::optional<model::Timestamp> created_at;
  std::optional<model::Timestamp> updated_at;
};

struct WebhookEvent {
  std::string merchant_id;
  std::string type;      // "inventory.count.updated", "order.updated", ...
  std::string event_id;  // the dedupe key
  model::Timestamp created_at;
  std::string data_type;  // "inventory_counts", "order_updated", "payment", "refund"
  std::optional<std::string> data_id;
  // inventory.count.updated, order.*, payment.*, refund.*
  std::variant<std::vector<InventoryCount>, OrderChange, Payment, PaymentRefund> payload;
};

// The notification body (verify its signature on the raw bytes first). Event
// types other than the four families above are rejected with
// "unsupported_event_type: <type>".
Result<WebhookEvent> decode_webhook_event(std::string_view body);

}  // namespace trueup::connectors::square
