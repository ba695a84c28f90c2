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
//   set_available  channel: set a SKU's sellable quantity at a location:
//                  {"sku", "location", "available": <integer >= 0>}
//   set_count      POS: set the on-hand count at a location:
//                  {"sku", "location", "quantity": "<decimal>"}

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "trueup/model/order.hpp"

namespace trueup::connector {

inline constexpr const char* kPostSale = "post_sale";
inline constexpr const char* kSetAvailable = "set_available";
inline constexpr const char* kSetCount = "set_count";

// The post_sale input of an order; invalid_argument when the order has no
// location (an ERP document needs one) or no lines.
Result<nlohmann::json> post_sale_input(const model::Order& order);

nlohmann::json set_available_input(const std::string& sku, const std::string& location, std::int64_t available);

}  // namespace trueup::connector
