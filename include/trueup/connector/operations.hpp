#pragma once
// The standard outbound operations: names and inputs that the flows (ERP
// posting, availability pushes) send and that every connector type offering
// them accepts, whatever its target. A connector may offer more of its own.
//
//   post_sale      ERP: book a channel sale or POS receipt once per
//                  external_document_number (natural key):
//                  {"order_id": "<canonical order id>",
//                   "external_document_number": "<source reference>",
//                   "location": "<location code>",
//                   "posting_date": "YYYY-MM-DD",   (the sale's local date)
//                   "currency": "EUR",
//                   "lines": [{"sku", "quantity": "<decimal>",
//                              "unit_price": {"amount": "<decimal>", "currency"}}]}
//                  (unit_price absent when the channel gave none). The ERP
//                  connector's ledger movements for the booked document carry
//                  `order_id`, so they replace the provisional sale movements
//                  of that order (inventory/ledger.hpp match keys).
//   post_return    ERP: book a return (units back in stock) once per
//                  external_document_number, as a credit memo: post_sale's
//                  input with the units returned as positive quantities and
//                  `order_id` the order id of the return's movements.
//   set_available  channel: set a SKU's sellable quantity at a location:
//                  {"sku", "location", "available": <integer >= 0>}
//   set_count      POS: set the on-hand count at a location:
//                  {"sku", "location", "quantity": "<decimal>"}
//   set_available_batch
//                  channel: set_available for many SKUs at one location in
//                  one call (Shopify GraphQL inventorySetQuantities):
//                  {"location", "items": [{"sku", "available": <integer >= 0>}]}
//                  with 1..kMaxSetAvailableBatch items, each SKU once. Items
//                  are taken or refused one by one; the answer says which:
//                  {"items": [{"sku", "result": "accepted" | "refused" |
//                  "retry", "error"?}]} (refused: the item cannot be taken as
//                  it is, e.g. an unmapped SKU; retry: not taken now, try
//                  again). An error of perform itself concerns every item
//                  (retryable or not, as for any operation). A connector that
//                  offers it offers set_available too.

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "trueup/model/order.hpp"

namespace trueup::connector {

inline constexpr const char* kPostSale = "post_sale";
inline constexpr const char* kSetAvailable = "set_available";
inline constexpr const char* kSetCount = "set_count";

// The post_sale input of an order; invalid_argument when the order has no
// location (an ERP document needs one) or no lines.
Result<nlohmann::json> post_sale_input(const model::Order& order);

// ---- ERP documents: a receipt, a per-store batch, a return ------------------

inline constexpr const char* kPostReturn = "post_return";

struct DocumentLine {
  std::string sku;
  Quantity quantity;
  std::optional<Money> unit_price;  // absent: the ERP's own price
};

// What post_sale (a receipt, a batch of receipts) or post_return (a return)
// books.
struct DocumentBooking {
  std::string order_id;                  // what the ERP's ledger entries of it carry
  std::string external_document_number;  // the natural key
  std::string location;
  std::string posting_date;  // YYYY-MM-DD
  std::optional<Currency> currency;
  std::vector<DocumentLine> lines;
};

// The post_sale / post_return input of a document; invalid_argument without
// location or lines, or with a unit price in another currency than
// `currency` (or with one and no `currency`).
Result<nlohmann::json> document_input(const DocumentBooking& document);

nlohmann::json set_available_input(const std::string& sku, const std::string& location, std::int64_t available);

// set_available_batch: the input, as the availability service builds it and
// a connector reads it, and the per-item answer.
inline constexpr const char* kSetAvailableBatch = "set_available_batch";
inline constexpr std::size_t kMaxSetAvailableBatch = 250;  // Shopify: 250 quantities per inventorySetQuantities

struct AvailableQuantity {
  std::string sku;
  std::int64_t available = 0;
};

struct SetAvailableBatch {
  std::string location;
  std::vector<AvailableQuantity> items;
};

nlohmann::json set_available_batch_input(const SetAvailableBatch& batch);
// The input checked: invalid_argument naming what is wrong (a missing member,
// a negative or non-integer quantity, a SKU twice, no items or more than
// kMaxSetAvailableBatch).
Result<SetAvailableBatch> read_set_available_batch(const nlohmann::json& input);

enum class ItemResult { accepted, refused, retry };
std::string_view to_string(ItemResult result) noexcept;  // "accepted", "refused", "retry"

struct ItemOutcome {
  std::string sku;
  ItemResult result = ItemResult::accepted;
  std::string error;  // why, when not accepted
};

// {"items": [{"sku", "result", "error"?}]}
nlohmann::json item_outcomes_json(const std::vector<ItemOutcome>& outcomes);
// The answer read back; invalid_argument when it is not of that shape.
Result<std::vector<ItemOutcome>> read_item_outcomes(const nlohmann::json& answer);

}  // namespace trueup::connector
