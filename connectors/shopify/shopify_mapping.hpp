#pragma once
// Shopify payloads -> canonical model (field by field in README.md).
//
// Ids go through the IdResolver (common/id_resolver.hpp) with these entities:
//   variant         line item variant_id -> SKU
//   sku             line item `sku` text, for lines without variant_id -> SKU
//   custom_item     title of a line with neither (custom line items) -> SKU
//   inventory_item  inventory_item_id of an inventory level -> SKU
//   location        location_id (order location, refund restock, level) -> location code
// Anything unresolved fails the mapping with unmapped_sku / unmapped_location
// listing every missing id; nothing is dropped. Canonical amounts are shop
// money (the order's `currency`).
//
// Thread-safety: pure functions (apart from the resolver calls).

#include <string_view>

#include "common/id_resolver.hpp"
#include "shopify_payloads.hpp"
#include "trueup/model/inventory_movement.hpp"
#include "trueup/model/order.hpp"
#include "trueup/model/refund.hpp"
#include "trueup/model/tender.hpp"

namespace trueup::connectors::shopify {

inline constexpr std::string_view kSystem = "shopify";
inline constexpr std::string_view kVariantEntity = "variant";
inline constexpr std::string_view kSkuEntity = "sku";
inline constexpr std::string_view kCustomItemEntity = "custom_item";
inline constexpr std::string_view kInventoryItemEntity = "inventory_item";
inline constexpr std::string_view kLocationEntity = "location";

using connectors::MappingContext;

// A complete order resource (id, created_at, currency, total_price, lines);
// a fields= selection is invalid_payload.
Mapped<model::Order> to_order(const Order& order, const MappingContext& context);

// A refund (id, created_at, a currency): lines from refund_line_items (SKU from
// the embedded line_item, amount = subtotal, restock unless no_restock, at
// location_id), shipping from refund_shipping_lines, tenders and total from
// the successful `refund` transactions. refunds/calculate answers carry no id:
// invalid_payload "refund_without_id".
Mapped<model::Refund> to_refund(const Refund& refund, const MappingContext& context);

// A successful sale or capture transaction as a tender (tender_id = id,
// kind from the card company or gateway, provider = gateway, reference =
// payment_id). Other kinds (authorization, void, refund, ...) and failed
// transactions are `unsupported` "not_a_payment".
Mapped<model::Tender> to_tender(const Transaction& transaction);

// An inventory level as a `count` movement of `available` (null = untracked:
// unsupported). movement_id = "shopify:level:<inventory_item_id>:
// <location_id>:<updated_at UTC>".
Mapped<model::InventoryMovement> to_count_movement(const InventoryLevel& level, const MappingContext& context);

}  // namespace trueup::connectors::shopify
