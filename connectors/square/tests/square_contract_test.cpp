// Contract: every official Square example that the connector reads or builds
// (../shared/fixtures/square: the operations of operation-examples.extracted.json
// and every event of webhook-event-examples.extracted.json) is decoded and
// mapped, or rejected for a reason listed in connectors/square/README.md.
// Money and ids are compared with the fixture's own text.

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>

#include "common/exact_json.hpp"
#include "common/tests/fixture_files.hpp"
#include "square_mapping.hpp"
#include "square_payloads.hpp"

namespace trueup::connectors::square {
namespace {

using nlohmann::json;
using testing::MapResolver;
using testing::reason_of;

std::string text(const json& j) { return j.is_string() ? j.get<std::string>() : number_text(j).value_or("?"); }

// Square money in the fixture vs decoded: every digit of the minor units.
void expect_money(const json& raw, const std::optional<Money>& decoded, const std::string& what) {
  ASSERT_TRUE(decoded.has_value()) << what;
  EXPECT_EQ(std::to_string(decoded->minor()), text(raw.at("amount"))) << what;
  EXPECT_EQ(decoded->currency().code(), raw.at("currency").get<std::string>()) << what;
}

void expect_order_matches(const json& raw, const Order& o) {
  if (raw.contains("id")) {
    EXPECT_EQ(o.id, raw["id"].get<std::string>());
  }
  if (raw.contains("total_money")) expect_money(raw["total_money"], o.total_money, "total_money");
  if (raw.contains("total_tax_money")) expect_money(raw["total_tax_money"], o.total_tax_money, "total_tax_money");
  ASSERT_EQ(o.line_items.size(), raw.at("line_items").size());
  for (std::size_t i = 0; i < o.line_items.size(); ++i) {
    const json& rl = raw["line_items"][i];
    const OrderLineItem& l = o.line_items[i];
    EXPECT_EQ(l.quantity.to_string(), rl.at("quantity").get<std::string>());
    if (rl.contains("uid")) {
      EXPECT_EQ(l.uid, rl["uid"].get<std::string>());
    }
    if (rl.contains("catalog_object_id")) {
      EXPECT_EQ(l.catalog_object_id, rl["catalog_object_id"].get<std::string>());
    }
    if (rl.contains("base_price_money")) expect_money(rl["base_price_money"], l.base_price_money, "base_price");
    if (rl.contains("total_money")) expect_money(rl["total_money"], l.total_money, "line total");
  }
}

void expect_counts_match(const json& raw, const std::vector<InventoryCount>& counts) {
  ASSERT_EQ(counts.size(), raw.size());
  for (std::size_t i = 0; i < counts.size(); ++i) {
    EXPECT_EQ(counts[i].catalog_object_id, raw[i].at("catalog_object_id").get<std::string>());
    EXPECT_EQ(counts[i].location_id, raw[i].at("location_id").get<std::string>());
    EXPECT_EQ(counts[i].quantity.to_string(), raw[i].at("quantity").get<std::string>());
  }
}

void expect_payment_matches(const json& raw, const Payment& p) {
  EXPECT_EQ(p.id, raw.at("id").get<std::string>());
  expect_money(raw.at("amount_money"), p.amount_money, "amount_money");
  if (raw.contains("total_money")) expect_money(raw["total_money"], p.total_money, "total_money");
}

void expect_refund_matches(const json& raw, const PaymentRefund& r) {
  EXPECT_EQ(r.id, raw.at("id").get<std::string>());
  EXPECT_EQ(r.payment_id, raw.at("payment_id").get<std::string>());
  expect_money(raw.at("amount_money"), r.amount_money, "amount_money");
}

class SquareContract : public ::testing::Test {
 protected:
  void SetUp() override {
    auto ops = parse_exact(testing::read_fixture("square/operation-examples.extracted.json"));
    ASSERT_TRUE(ops.ok());
    operations_ = ops->at("operations");
    auto events = parse_exact(testing::read_fixture("square/webhook-event-examples.extracted.json"));
    ASSERT_TRUE(events.ok());
    events_ = events->at("events");
  }

  // Outcome of one example: "" when decoded (and mapped), else the reason.
  std::string outcome(const std::string& operation, const std::string& which, const json& example);

  MapResolver everything_{testing::map_everything};
  MappingContext context_{"square-pos", everything_};
  json operations_;
  json events_;
};

std::string SquareContract::outcome(const std::string& op, const std::string& which, const json& example) {
  const std::string body = dump_exact(example);
  const bool request = which == "request_example";
  if (op == "BatchChangeInventory" && request) {
    auto decoded = decode_batch_change_inventory(body);
    if (!decoded) return reason_of(decoded.error());
    auto rebuilt = build_batch_change_inventory(*decoded);
    if (!rebuilt) return reason_of(rebuilt.error());
    EXPECT_EQ(*rebuilt, example) << "the builder must write what Square documents";
    return "";
  }
  if (op == "BatchRetrieveInventoryCounts" && request) {
    BatchRetrieveInventoryCountsRequest r;
    for (const auto& id : example.at("catalog_object_ids")) r.catalog_object_ids.push_back(id.get<std::string>());
    for (const auto& id : example.at("location_ids")) r.location_ids.push_back(id.get<std::string>());
    r.updated_after = *model::Timestamp::parse(example.at("updated_after").get<std::string>());
    json built = build_batch_retrieve_inventory_counts(r);
    // The same instant; Trueup writes the fewest fraction digits that keep it.
    EXPECT_EQ(model::Timestamp::parse(built.at("updated_after").get<std::string>())->compare_instant(*r.updated_after),
              std::strong_ordering::equal);
    built["updated_after"] = example["updated_after"];
    EXPECT_EQ(built, example);
    return "";
  }
  if (op == "SearchOrders" && request) {
    const json& range = example.at("query").at("filter").at("date_time_filter").at("closed_at");
    SearchOrdersRequest r;
    for (const auto& id : example.at("location_ids")) r.location_ids.push_back(id.get<std::string>());
    r.time_field = "CLOSED_AT";
    r.start_at = *model::Timestamp::parse(range.at("start_at").get<std::string>());
    r.end_at = *model::Timestamp::parse(range.at("end_at").get<std::string>());
    r.states = {"COMPLETED"};
    r.sort_order = "DESC";
    r.limit = 3;
    r.return_entries = true;
    auto built = build_search_orders(r);
    if (!built) return reason_of(built.error());
    // The same instants; Trueup writes "Z" where the example wrote "+00:00".
    json& built_range = (*built)["query"]["filter"]["date_time_filter"]["closed_at"];
    for (const char* key : {"start_at", "end_at"}) {
      EXPECT_EQ(model::Timestamp::parse(built_range.at(key).get<std::string>())
                    ->compare_instant(*model::Timestamp::parse(range.at(key).get<std::string>())),
                std::strong_ordering::equal);
      built_range[key] = range.at(key);
    }
    EXPECT_EQ(*built, example);
    return "";
  }
  if (request && (op == "CreateOrder" || op == "UpdateOrder")) {
    auto order = decode_order(example.at("order"), "/order");
    if (!order) return reason_of(order.error());
    expect_order_matches(example.at("order"), *order);
    auto mapped = to_order(*order, context_);
    return mapped ? "" : reason_of(mapped.error());
  }
  if (request) return "not_read: Trueup never reads this request body";
  if (op == "BatchChangeInventory" || op == "BatchRetrieveInventoryCounts") {
    auto page = decode_inventory_counts_response(body);
    if (!page) return reason_of(page.error());
    expect_counts_match(example.at("counts"), page->counts);
    auto mapped = to_count_movements(page->counts, context_);
    if (!mapped) return reason_of(mapped.error());
    EXPECT_EQ(mapped->size(), page->counts.size());
    return "";
  }
  if (op == "BatchRetrieveInventoryChanges") {
    auto page = decode_inventory_changes_response(body);
    if (!page) return reason_of(page.error());
    auto mapped = to_movements(page->changes, context_);
    if (!mapped) return reason_of(mapped.error());
    EXPECT_EQ(mapped->size(), 1u);
    EXPECT_EQ(mapped->at(0).movement_id, "square:change:" + text(example["changes"][0]["physical_count"]["id"]));
    return "";
  }
  if (op == "CreateOrder" || op == "RetrieveOrder" || op == "UpdateOrder") {
    auto order = decode_order_response(body);
    if (!order) return reason_of(order.error());
    expect_order_matches(example.at("order"), *order);
    auto mapped = to_order(*order, context_);
    if (!mapped) return reason_of(mapped.error());
    EXPECT_EQ(mapped->external_reference, example["order"]["id"].get<std::string>());
    EXPECT_EQ(std::to_string(mapped->totals.grand_total.minor()), text(example["order"]["total_money"]["amount"]));
    return "";
  }
  if (op == "SearchOrders") {
    auto page = decode_search_orders_response(body);
    if (!page) return reason_of(page.error());
    EXPECT_EQ(page->order_entries.size(), example.at("order_entries").size());
    EXPECT_EQ(page->cursor, example.at("cursor").get<std::string>());
    return "";
  }
  if (op == "CreatePayment" || op == "GetPayment") {
    auto payment = decode_payment_response(body);
    if (!payment) return reason_of(payment.error());
    expect_payment_matches(example.at("payment"), *payment);
    auto tender = to_tender(*payment);
    return tender ? "" : reason_of(tender.error());
  }
  if (op == "ListPaymentRefunds") {
    auto page = decode_list_refunds_response(body);
    if (!page) return reason_of(page.error());
    EXPECT_EQ(page->refunds.size(), example.at("refunds").size());
    for (std::size_t i = 0; i < page->refunds.size(); ++i) {
      expect_refund_matches(example["refunds"][i], page->refunds[i]);
      auto mapped = to_refund(page->refunds[i], context_);
      if (!mapped) return reason_of(mapped.error());
    }
    return "";
  }
  if (op == "RefundPayment" || op == "GetPaymentRefund") {
    auto refund = decode_refund_response(body);
    if (!refund) return reason_of(refund.error());
    expect_refund_matches(example.at("refund"), *refund);
    auto mapped = to_refund(*refund, context_);
    return mapped ? "" : reason_of(mapped.error());
  }
  return "no decoder for operation " + op;
}

TEST_F(SquareContract, EveryOperationExampleDecodesOrIsRejectedForADocumentedReason) {
  // What each example must come to: "" = decoded and mapped.
  const std::map<std::string, std::string> expected = {
      {"BatchChangeInventory.request_example", ""},
      {"BatchChangeInventory.response_example", ""},
      {"BatchRetrieveInventoryChanges.request_example", "not_read: Trueup never reads this request body"},
      {"BatchRetrieveInventoryChanges.response_example", ""},
      {"BatchRetrieveInventoryCounts.request_example", ""},
      {"BatchRetrieveInventoryCounts.response_example", ""},
      {"CreateOrder.request_example", "invalid_payload: order_without_id: a request body, not a stored order"},
      {"CreateOrder.response_example", ""},
      {"SearchOrders.request_example", ""},
      {"SearchOrders.response_example", ""},
      {"RetrieveOrder.response_example", ""},
      {"UpdateOrder.request_example", "invalid_payload: order_without_id: a request body, not a stored order"},
      {"UpdateOrder.response_example", ""},
      {"CreatePayment.request_example", "not_read: Trueup never reads this request body"},
      {"CreatePayment.response_example", ""},
      {"GetPayment.response_example", ""},
      {"ListPaymentRefunds.response_example", ""},
      {"RefundPayment.request_example", "not_read: Trueup never reads this request body"},
      {"RefundPayment.response_example", ""},
      {"GetPaymentRefund.response_example", ""},
  };
  std::set<std::string> seen;
  int decoded = 0;
  int rejected = 0;
  for (auto it = operations_.begin(); it != operations_.end(); ++it) {
    for (const char* which : {"request_example", "response_example"}) {
      if (!it.value().contains(which)) continue;
      const std::string name = it.key() + "." + which;
      seen.insert(name);
      const std::string got = outcome(it.key(), which, it.value()[which]);
      ASSERT_TRUE(expected.count(name)) << "new fixture example without a decision: " << name << " -> " << got;
      EXPECT_EQ(got, expected.at(name)) << name;
      (got.empty() ? decoded : rejected)++;
    }
  }
  EXPECT_EQ(seen.size(), expected.size());
  EXPECT_EQ(decoded, 15);
  EXPECT_EQ(rejected, 5);
  std::cout << "square operation examples: " << decoded << " decoded and mapped, " << rejected << " rejected\n";
}

TEST_F(SquareContract, EveryWebhookEventDecodesAndMaps) {
  int events = 0;
  for (auto it = events_.begin(); it != events_.end(); ++it) {
    SCOPED_TRACE(it.key());
    const json& raw = it.value();
    auto event = decode_webhook_event(dump_exact(raw));
    ASSERT_TRUE(event.ok()) << event.error().message;
    EXPECT_EQ(event->event_id, raw.at("event_id").get<std::string>());
    EXPECT_EQ(event->merchant_id, raw.at("merchant_id").get<std::string>());
    EXPECT_EQ(event->type, raw.at("type").get<std::string>());
    const json& object = raw["data"]["object"];
    if (const auto* counts = std::get_if<std::vector<InventoryCount>>(&event->payload)) {
      expect_counts_match(object.at("inventory_counts"), *counts);
      auto movements = to_count_movements(*counts, context_);
      ASSERT_TRUE(movements.ok()) << movements.error().message;
      ASSERT_EQ(movements->size(), 1u);
      const auto& m = movements->at(0);
      EXPECT_EQ(m.kind, model::MovementKind::count);
      EXPECT_EQ(m.sku, "SKU-FGQ5JJWT2PYTHF35CKZ2DSKP");
      EXPECT_EQ(m.location, "LOC-YYQR03DGCTXA4");
      EXPECT_EQ(m.counted_quantity->to_string(), "10");
      EXPECT_EQ(m.movement_id, "square:count:FGQ5JJWT2PYTHF35CKZ2DSKP:YYQR03DGCTXA4:2019-10-29T18:38:45.102960Z");
    } else if (const auto* change = std::get_if<OrderChange>(&event->payload)) {
      const json& inner = object.at(raw["data"]["type"].get<std::string>());
      EXPECT_EQ(change->order_id, inner.at("order_id").get<std::string>());
      EXPECT_EQ(std::to_string(change->version), text(inner.at("version")));
    } else if (const auto* payment = std::get_if<Payment>(&event->payload)) {
      expect_payment_matches(object.at("payment"), *payment);
      auto tender = to_tender(*payment);
      ASSERT_TRUE(tender.ok()) << tender.error().message;
      EXPECT_EQ(tender->kind, model::TenderKind::card);
    } else {
      const auto& refund = std::get<PaymentRefund>(event->payload);
      expect_refund_matches(object.at("refund"), refund);
      auto mapped = to_refund(refund, context_);
      ASSERT_TRUE(mapped.ok()) << mapped.error().message;
      EXPECT_EQ(mapped->order_id, "square-pos:" + object["refund"]["order_id"].get<std::string>());
      EXPECT_EQ(std::to_string(mapped->total.minor()), text(object["refund"]["amount_money"]["amount"]));
    }
    ++events;
  }
  EXPECT_EQ(events, 8);
  std::cout << "square webhook examples: " << events << " decoded and mapped\n";
}

TEST_F(SquareContract, OrderMappingFieldByField) {
  auto order = decode_order_response(dump_exact(operations_["CreateOrder"]["response_example"]));
  ASSERT_TRUE(order.ok()) << order.error().message;
  auto mapped = to_order(*order, context_);
  ASSERT_TRUE(mapped.ok()) << mapped.error().message;
  const model::Order& o = *mapped;
  EXPECT_EQ(o.id, "square-pos:CAISENgvlJ6jLWAzERDzjyHVybY");
  EXPECT_EQ(o.status, model::OrderStatus::open);
  EXPECT_EQ(o.location, "LOC-057P5VYJ4A5X1");
  EXPECT_FALSE(o.taxes_included);
  ASSERT_EQ(o.lines.size(), 2u);
  EXPECT_EQ(o.lines[0].sku, "SKU-New York Strip Steak");  // custom item, by name
  EXPECT_EQ(o.lines[1].sku, "SKU-BEMYCSMIJL46OCDV4KYIKXIB");
  EXPECT_EQ(o.lines[1].unit_price->to_decimal_string(), "22.00");
  ASSERT_EQ(o.lines[1].discounts.size(), 3u);
  EXPECT_EQ(o.lines[1].discounts[2].description, "Sale - $1.00 off");
  EXPECT_EQ(o.lines[1].discounts[2].amount.to_decimal_string(), "1.00");
  ASSERT_EQ(o.lines[1].taxes.size(), 1u);
  EXPECT_EQ(o.lines[1].taxes[0].name, "State Sales Tax");
  EXPECT_EQ(o.lines[1].taxes[0].rate->to_string(), "0.09");
  EXPECT_EQ(o.totals.subtotal.to_decimal_string(), "60.99");  // 15.99 + 45.00 gross sales
  EXPECT_EQ(o.totals.discount_total.to_decimal_string(), "4.33");
  EXPECT_EQ(o.totals.tax_total.to_decimal_string(), "5.10");
  EXPECT_EQ(o.totals.grand_total.to_decimal_string(), "61.76");
}

TEST_F(SquareContract, UnmappedIdsAreReportedNotDropped) {
  MapResolver nothing;
  MappingContext context{"square-pos", nothing};
  auto order = decode_order_response(dump_exact(operations_["CreateOrder"]["response_example"]));
  ASSERT_TRUE(order.ok());
  auto mapped = to_order(*order, context);
  ASSERT_FALSE(mapped.ok());
  EXPECT_EQ(mapped.error().kind, MappingErrorKind::unmapped_sku);
  ASSERT_EQ(mapped.error().unmapped.size(), 3u);
  EXPECT_EQ(mapped.error().unmapped[0], (UnmappedId{"custom_item", "New York Strip Steak", "/line_items/0/name"}));
  EXPECT_EQ(mapped.error().unmapped[1],
            (UnmappedId{"item_variation", "BEMYCSMIJL46OCDV4KYIKXIB", "/line_items/1/catalog_object_id"}));
  EXPECT_EQ(mapped.error().unmapped[2], (UnmappedId{"location", "057P5VYJ4A5X1", "/location_id"}));

  MapResolver skus_only;
  skus_only.add("item_variation", "W62UWFY35CWMYGVWK6TWJDNI", "SKU-1");
  MappingContext context2{"square-pos", skus_only};
  auto page =
      decode_inventory_counts_response(dump_exact(operations_["BatchRetrieveInventoryCounts"]["response_example"]));
  ASSERT_TRUE(page.ok());
  auto movements = to_count_movements(page->counts, context2);
  ASSERT_FALSE(movements.ok());
  EXPECT_EQ(movements.error().kind, MappingErrorKind::unmapped_location);
  EXPECT_EQ(movements.error().unmapped.at(0).external_id, "59TNP9SA8VGDA");
}

TEST(SquarePayloads, RejectionsCarryTheirReason) {
  auto unknown = decode_webhook_event(
      R"({"merchant_id":"M","type":"customer.created","event_id":"e","created_at":"2020-01-01T00:00:00Z",)"
      R"("data":{"type":"customer","id":"c","object":{}}})");
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().message, "/type: unsupported_event_type: customer.created");

  auto errors =
      decode_inventory_counts_response(R"({"errors":[{"category":"RATE_LIMIT_ERROR","code":"RATE_LIMITED"}]})");
  ASSERT_FALSE(errors.ok());
  EXPECT_EQ(errors.error().message, "square_errors: RATE_LIMITED");

  auto float_amount =
      decode_payment_response(R"({"payment":{"id":"p","amount_money":{"amount":1.5,"currency":"USD"}}})");
  ASSERT_FALSE(float_amount.ok());
  EXPECT_EQ(float_amount.error().message, "/payment/amount_money/amount: expected a 64-bit integer");

  auto bad_quantity = decode_order(nlohmann::json::parse(R"({"line_items":[{"quantity":"1.234567"}]})"), "/order");
  ASSERT_FALSE(bad_quantity.ok());
  EXPECT_EQ(bad_quantity.error().message.rfind("/order/line_items/0/quantity: ", 0), 0u);

  SearchOrdersRequest no_location;
  EXPECT_FALSE(build_search_orders(no_location).ok());
  SearchOrdersRequest bad_field;
  bad_field.location_ids = {"L"};
  bad_field.time_field = "PAID_AT";
  EXPECT_FALSE(build_search_orders(bad_field).ok());

  BatchChangeInventoryRequest empty{"key", {}, std::nullopt};
  EXPECT_FALSE(build_batch_change_inventory(empty).ok());
  BatchChangeInventoryRequest no_key{"", {PhysicalCount{}}, std::nullopt};
  EXPECT_FALSE(build_batch_change_inventory(no_key).ok());

  PaymentRefund failed;
  failed.id = "r";
  failed.status = "FAILED";
  MapResolver nothing;
  auto mapped = to_refund(failed, MappingContext{"square-pos", nothing});
  ASSERT_FALSE(mapped.ok());
  EXPECT_EQ(mapped.error().kind, MappingErrorKind::unsupported);
}

}  // namespace
}  // namespace trueup::connectors::square
