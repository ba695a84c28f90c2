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

#include <string_view>
#include <vector>

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

}  // namespace trueup::connectors::square
