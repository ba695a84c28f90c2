// Square orders as stock (to_order_movements, decode_order_returns) and the
// outbound inventory changes (to_inventory_change, physical_count, built
// into the BatchChangeInventory body). Orders come from the official
// examples (../shared/fixtures/square/operation-examples.extracted.json);
// the examples hold no COMPLETED order and no return, so the tests complete
// one and add a return shaped as api.json's OrderReturn / OrderReturnLineItem.

#include <gtest/gtest.h>

#include <string>

#include "common/exact_json.hpp"
#include "common/tests/fixture_files.hpp"
#include "square_mapping.hpp"
#include "square_payloads.hpp"

namespace trueup::connectors::square {
namespace {

using nlohmann::json;
using testing::MapResolver;

json operation_response(const std::string& operation) {
  auto doc = parse_exact(testing::read_fixture("square/operation-examples.extracted.json"));
  EXPECT_TRUE(doc.ok());
  return (*doc)["operations"][operation]["response_example"];
}

// CreateOrder's example order (one custom line "New York Strip Steak" x1,
// one catalog line BEMYCSMIJL46OCDV4KYIKXIB x2, location 057P5VYJ4A5X1), closed.
json completed_order() {
  json order = operation_response("CreateOrder")["order"];
  order["state"] = "COMPLETED";
  order["closed_at"] = "2024-03-01T10:15:00.000Z";
  return order;
}

MapResolver resolver() {
  MapResolver r;
  r.add("item_variation", "BEMYCSMIJL46OCDV4KYIKXIB", "SKU-NY-STEAK");
  r.add("custom_item", "New York Strip Steak", "SKU-STRIP");
  r.add("location", "057P5VYJ4A5X1", "STORE-01");
  return r;
}

Mapped<std::vector<model::InventoryMovement>> movements_of(const json& order, const IdResolver& ids) {
  auto decoded = decode_order(order);
  EXPECT_TRUE(decoded.ok()) << decoded.error().message;
  auto returns = decode_order_returns(order);
  EXPECT_TRUE(returns.ok()) << returns.error().message;
  return to_order_movements(*decoded, *returns, MappingContext{"pos", ids});
}

TEST(SquareStock, CompletedOrderBecomesSaleMovementsPerLine) {
  const json order = completed_order();
  const auto ids = resolver();
  auto mapped = movements_of(order, ids);
  ASSERT_TRUE(mapped.ok()) << mapped.error().message;
  ASSERT_EQ(mapped->size(), 2u);
  const std::string order_id = order["id"].get<std::string>();
  for (std::size_t i = 0; i < 2; ++i) {
    const auto& m = (*mapped)[i];
    const json& line = order["line_items"][i];
    EXPECT_EQ(m.movement_id, "square:order:" + order_id + ":" + line["uid"].get<std::string>());
    EXPECT_EQ(m.kind, model::MovementKind::sale);
    EXPECT_EQ(m.location, "STORE-01");
    EXPECT_EQ(m.quantity_delta->to_string(), "-" + line["quantity"].get<std::string>());
    EXPECT_FALSE(m.counted_quantity.has_value());
    EXPECT_EQ(m.occurred_at.to_utc_string(), model::Timestamp::parse("2024-03-01T10:15:00Z")->to_utc_string());
    EXPECT_EQ(m.source_system, "square");
    EXPECT_EQ(m.order_id, "pos:" + order_id);
  }
  EXPECT_EQ((*mapped)[0].sku, "SKU-STRIP");
  EXPECT_EQ((*mapped)[1].sku, "SKU-NY-STEAK");
  // The canonical order of the same payload names the same lines.
  auto canonical = to_order(*decode_order(order), MappingContext{"pos", ids});
  ASSERT_TRUE(canonical.ok()) << canonical.error().message;
  EXPECT_EQ(canonical->status, model::OrderStatus::closed);
  EXPECT_EQ(canonical->lines.size(), 2u);
}

TEST(SquareStock, OrdersInOtherStatesMoveNoStock) {
  const auto ids = resolver();
  // RetrieveOrder's example is OPEN; CreateOrder's too.
  for (const auto& order : {operation_response("RetrieveOrder")["order"], operation_response("CreateOrder")["order"]}) {
    auto mapped = movements_of(order, ids);
    ASSERT_TRUE(mapped.ok()) << mapped.error().message;
    EXPECT_TRUE(mapped->empty()) << order["state"];
  }
  json canceled = completed_order();
  canceled["state"] = "CANCELED";
  auto mapped = movements_of(canceled, ids);
  ASSERT_TRUE(mapped.ok());
  EXPECT_TRUE(mapped->empty());
}

TEST(SquareStock, ReturnLinesBecomeReturnMovements) {
  json order = completed_order();
  order["returns"] =
      json::array({{{"uid", "RET1"},
                    {"source_order_id", "ORIGINAL"},
                    {"return_line_items", json::array({{{"uid", "RL1"},
                                                        {"catalog_object_id", "BEMYCSMIJL46OCDV4KYIKXIB"},
                                                        {"quantity", "1.5"},
                                                        {"source_line_item_uid", "x"}},
                                                       {{"quantity", "1"}, {"name", "New York Strip Steak"}}})}}});
  const auto ids = resolver();
  auto mapped = movements_of(order, ids);
  ASSERT_TRUE(mapped.ok()) << mapped.error().message;
  ASSERT_EQ(mapped->size(), 4u);
  const std::string id = order["id"].get<std::string>();
  EXPECT_EQ((*mapped)[2].movement_id, "square:order:" + id + ":return:RET1:RL1");
  EXPECT_EQ((*mapped)[2].kind, model::MovementKind::return_);
  EXPECT_EQ((*mapped)[2].sku, "SKU-NY-STEAK");
  EXPECT_EQ((*mapped)[2].quantity_delta->to_string(), "1.5");
  // A return line without a uid is named by its position (stable across fetches).
  EXPECT_EQ((*mapped)[3].movement_id, "square:order:" + id + ":return:RET1:l1");
  EXPECT_EQ((*mapped)[3].sku, "SKU-STRIP");
  EXPECT_EQ((*mapped)[3].quantity_delta->to_string(), "1");
}

TEST(SquareStock, EveryUnknownIdIsListed) {
  MapResolver ids;  // knows nothing
  auto mapped = movements_of(completed_order(), ids);
  ASSERT_FALSE(mapped.ok());
  EXPECT_EQ(mapped.error().kind, MappingErrorKind::unmapped_sku);
  ASSERT_EQ(mapped.error().unmapped.size(), 3u);
  // SKUs first, then locations (IdMapping's order).
  EXPECT_EQ(mapped.error().unmapped[0].entity, "custom_item");
  EXPECT_EQ(mapped.error().unmapped[1].external_id, "BEMYCSMIJL46OCDV4KYIKXIB");
  EXPECT_EQ(mapped.error().unmapped[1].pointer, "/line_items/1/catalog_object_id");
  EXPECT_EQ(mapped.error().unmapped[2].entity, "location");

  MapResolver skus_only;
  skus_only.add("item_variation", "BEMYCSMIJL46OCDV4KYIKXIB", "SKU-NY-STEAK");
  skus_only.add("custom_item", "New York Strip Steak", "SKU-STRIP");
  auto location = movements_of(completed_order(), skus_only);
  ASSERT_FALSE(location.ok());
  EXPECT_EQ(location.error().kind, MappingErrorKind::unmapped_location);
}

TEST(SquareStock, MalformedReturnsAreRejectedWithTheirPointer) {
  json order = completed_order();
  order["returns"] = json::array({{{"return_line_items", json::array({{{"quantity", "1.123456"}}})}}});
  auto returns = decode_order_returns(order);
  ASSERT_FALSE(returns.ok());
  EXPECT_NE(returns.error().message.find("/returns/0/return_line_items/0/quantity"), std::string::npos)
      << returns.error().message;
}

model::InventoryMovement movement(model::MovementKind kind, const char* delta) {
  model::InventoryMovement m;
  m.movement_id = "mv-1";
  m.kind = kind;
  m.sku = "SKU-1";
  m.location = "STORE-01";
  m.quantity_delta = *Quantity::parse(delta);
  m.occurred_at = *model::Timestamp::parse("2024-03-01T10:00:00Z");
  m.source_system = "trueup";
  m.source_reference = "r";
  return m;
}

const ChangeTarget kTarget{"W62UWFY35CWMYGVWK6TWJDNI", "C6W5YS5QM06F5",
                           *model::Timestamp::parse("2016-11-16T22:25:24.878Z")};

json change_body(const Result<InventoryChange>& change) {
  EXPECT_TRUE(change.ok()) << change.error().message;
  auto body = build_batch_change_inventory({"key-1", {*change}, std::nullopt});
  EXPECT_TRUE(body.ok());
  return (*body)["changes"][0];
}

TEST(SquareStock, MovementsBecomeAdjustmentsBetweenTheDocumentedStates) {
  struct Case {
    model::MovementKind kind;
    const char* delta;
    const char* from;
    const char* to;
    const char* quantity;
  };
  for (const Case& c : {Case{model::MovementKind::receipt, "3", "NONE", "IN_STOCK", "3"},
                        Case{model::MovementKind::return_, "1.5", "NONE", "IN_STOCK", "1.5"},
                        Case{model::MovementKind::adjustment, "2", "NONE", "IN_STOCK", "2"},
                        Case{model::MovementKind::sale, "-2", "IN_STOCK", "SOLD", "2"},
                        Case{model::MovementKind::adjustment, "-1", "IN_STOCK", "WASTE", "1"},
                        Case{model::MovementKind::receipt, "-4", "IN_STOCK", "WASTE", "4"}}) {
    const json j = change_body(to_inventory_change(movement(c.kind, c.delta), kTarget));
    EXPECT_EQ(j["type"], "ADJUSTMENT");
    const json& a = j["adjustment"];
    EXPECT_EQ(a["from_state"], c.from) << c.delta;
    EXPECT_EQ(a["to_state"], c.to) << c.delta;
    EXPECT_EQ(a["quantity"], c.quantity);
    EXPECT_EQ(a["catalog_object_id"], "W62UWFY35CWMYGVWK6TWJDNI");
    EXPECT_EQ(a["location_id"], "C6W5YS5QM06F5");
    EXPECT_EQ(a["reference_id"], "mv-1");
    EXPECT_EQ(model::Timestamp::parse(a["occurred_at"].get<std::string>())->utc(), kTarget.occurred_at.utc());
  }
}

TEST(SquareStock, CountsBecomePhysicalCountsAndTheRestIsRefused) {
  model::InventoryMovement count = movement(model::MovementKind::count, "0");
  count.quantity_delta.reset();
  count.counted_quantity = *Quantity::parse("53");
  const json j = change_body(to_inventory_change(count, kTarget));
  EXPECT_EQ(j["type"], "PHYSICAL_COUNT");
  EXPECT_EQ(j["physical_count"]["state"], "IN_STOCK");
  EXPECT_EQ(j["physical_count"]["quantity"], "53");

  // The official BatchChangeInventory request example, rebuilt from its values.
  auto doc = parse_exact(testing::read_fixture("square/operation-examples.extracted.json"));
  const json example = (*doc)["operations"]["BatchChangeInventory"]["request_example"]["changes"][0];
  const json built = change_body(physical_count(
      ChangeTarget{"W62UWFY35CWMYGVWK6TWJDNI", "C6W5YS5QM06F5", *model::Timestamp::parse("2016-11-16T22:25:24.878Z")},
      *Quantity::parse("53"), "1536bfbf-efed-48bf-b17d-a197141b2a92"));
  for (const char* key : {"catalog_object_id", "location_id", "quantity", "reference_id", "state"})
    EXPECT_EQ(built["physical_count"][key], example["physical_count"][key]) << key;

  EXPECT_FALSE(to_inventory_change(movement(model::MovementKind::adjustment, "0"), kTarget).ok());
  model::InventoryMovement transfer = movement(model::MovementKind::transfer, "1");
  transfer.to_location = "STORE-02";
  EXPECT_EQ(to_inventory_change(transfer, kTarget).error().code, Errc::invalid_argument);
  EXPECT_FALSE(physical_count(kTarget, *Quantity::parse("-1"), "r").ok());
}

}  // namespace
}  // namespace trueup::connectors::square
