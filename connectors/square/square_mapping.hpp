#pragma once
// Square payloads -> canonical model (field by field in README.md).
//
// Ids go through the IdResolver (common/id_resolver.hpp) with these entities:
//   item_variation  catalog_object_id of a line item or inventory count -> SKU
//   custom_item     name of a line item without catalog_object_id -> SKU
//   location        location_id -> location code
// Anything unresolved fails the mapping with unmapped_sku / unmapped_location
// listing every missing id; nothing is dropped.
//
// Thread-safety: pure functions (apart from the resolver calls).

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/id_resolver.hpp"
#include "square_payloads.hpp"
#include "trueup/model/inventory_movement.hpp"
#include "trueup/model/order.hpp"
#include "trueup/model/refund.hpp"
#include "trueup/model/tender.hpp"

namespace trueup::connectors::square {

inline constexpr std::string_view kSystem = "square";
inline constexpr std::string_view kItemVariationEntity = "item_variation";
inline constexpr std::string_view kCustomItemEntity = "custom_item";
inline constexpr std::string_view kLocationEntity = "location";

using connectors::MappingContext;

// A stored order (id, created_at, state, total_money and line uids present).
Mapped<model::Order> to_order(const Order& order, const MappingContext& context);

// A payment as a tender (tender_id = payment id, amount = total_money).
Mapped<model::Tender> to_tender(const Payment& payment);

// A PENDING or COMPLETED refund of an order's payment: no lines (Square
// refunds by amount), total = amount_money, one tender naming the payment.
// REJECTED / FAILED refunds are `unsupported`; a refund without order_id is
// invalid_payload.
Mapped<model::Refund> to_refund(const PaymentRefund& refund, const MappingContext& context);

// IN_STOCK counts as `count` movements (other states are not stock on hand
// and are skipped). movement_id = "square:count:<catalog_object_id>:
// <location_id>:<calculated_at>", identical whether the count came from a
// webhook or a poll, so the inbox dedupes the two paths.
Mapped<std::vector<model::InventoryMovement>> to_count_movements(const std::vector<InventoryCount>& counts,
                                                                 const MappingContext& context);

// Physical counts become `count` movements; adjustments into or out of
// IN_STOCK become signed deltas (to SOLD: sale, from SOLD: return, from NONE:
// receipt, else adjustment); adjustments between other states are skipped.
// movement_id = "square:change:<id>" (changes without an id are invalid).
Mapped<std::vector<model::InventoryMovement>> to_movements(const std::vector<InventoryChange>& changes,
                                                           const MappingContext& context);

// ---- Orders as stock ---------------------------------------------------------

// One line of an order's returns[].return_line_items[] (the Order decoder of
// square_payloads.hpp does not read returns; decode_order_returns does).
struct OrderReturnLine {
  std::string return_uid;  // returns[].uid, else "r<index>"
  std::string uid;         // the line's uid, else "l<index>"
  std::optional<std::string> catalog_object_id;
  std::optional<std::string> name;
  Quantity quantity;
  std::string pointer;  // "/returns/0/return_line_items/1"
};
// Reads the returns of an Order object (absent: none). Errors as the decoders'.
Result<std::vector<OrderReturnLine>> decode_order_returns(const nlohmann::json& order);

// The stock a COMPLETED order moved: one `sale` movement per line item
// (-quantity at the order's location_id) and one `return` movement per return
// line item (+quantity). movement_id "square:order:<order id>:<line uid>" and
// "square:order:<order id>:return:<return uid>:<line uid>", so the webhook and
// the poll path give the same ids; occurred_at = closed_at, else updated_at,
// else created_at; order_id = the canonical order id. Lines name their SKU as
// in to_order (item_variation, else custom_item by name). Orders in other
// states moved no stock: empty. Zero quantities are skipped.
Mapped<std::vector<model::InventoryMovement>> to_order_movements(const Order& order,
                                                                 const std::vector<OrderReturnLine>& returns,
                                                                 const MappingContext& context);

// ---- Canonical -> Square (outbound) ------------------------------------------

// The Square ids and the time of an outbound inventory change.
struct ChangeTarget {
  std::string catalog_object_id;  // the ITEM_VARIATION
  std::string location_id;
  model::Timestamp occurred_at;  // Square refuses times older than 24 h or in the future
};

// A PHYSICAL_COUNT (state IN_STOCK) of `quantity` (>= 0), reference_id = `reference`.
Result<InventoryChange> physical_count(const ChangeTarget& target, Quantity quantity, std::string reference);

// The change that applies a canonical movement to Square's stock on hand:
//   count                                    PHYSICAL_COUNT IN_STOCK of counted_quantity
//   delta > 0 (receipt, return, adjustment)  ADJUSTMENT NONE -> IN_STOCK
//   delta < 0, sale                          ADJUSTMENT IN_STOCK -> SOLD
//   delta < 0, any other kind                ADJUSTMENT IN_STOCK -> WASTE
// reference_id = movement_id. invalid_argument for a transfer (two locations:
// not one change) and for a zero delta (Square takes positive quantities).
Result<InventoryChange> to_inventory_change(const model::InventoryMovement& movement, const ChangeTarget& target);

}  // namespace trueup::connectors::square
