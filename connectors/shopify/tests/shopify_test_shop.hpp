#pragma once
// The small shop the Shopify tests seed their simulator with: a warehouse
// (655441491) and a store (487838322), the fixtures' pink iPod (variant and
// inventory item 808950810, 10 at the warehouse) and an item whose ids need
// all 64 bits (inventory item 9223372036854775805, 1 at the warehouse).

#include <nlohmann/json.hpp>

namespace trueup::connectors::shopify {

inline nlohmann::json small_seed() {
  return nlohmann::json::parse(R"({
    "shop": {"domain": "test-shop.myshopify.com", "currency": "USD"},
    "locations": [{"id": 655441491, "name": "Warehouse"}, {"id": 487838322, "name": "Store"}],
    "products": [{"id": 632910392, "title": "IPod Nano - 8gb", "variants": [
      {"id": 808950810, "title": "Pink", "sku": "IPOD2008PINK", "price": "199.00", "inventory_item_id": 808950810},
      {"id": 9223372036854775806, "title": "Big", "sku": "BIG", "price": "12345678901.99",
       "inventory_item_id": 9223372036854775805}]}],
    "inventory_levels": [
      {"inventory_item_id": 808950810, "location_id": 655441491, "available": 10},
      {"inventory_item_id": 9223372036854775805, "location_id": 655441491, "available": 1}]
  })");
}

}  // namespace trueup::connectors::shopify
