// Canonical model: codec round trips, strict rejection with JSON Pointer
// paths, timestamps and the event catalogue.

#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <string>

#include "model_samples.hpp"
#include "trueup/model/erp_posting.hpp"
#include "trueup/model/events.hpp"
#include "trueup/model/inventory_movement.hpp"
#include "trueup/model/order.hpp"
#include "trueup/model/refund.hpp"
#include "trueup/model/return.hpp"
#include "trueup/model/settlement_line.hpp"
#include "trueup/model/shipment.hpp"
#include "trueup/model/stock_position.hpp"
#include "trueup/model/tender.hpp"

namespace trueup::model {
namespace {

using nlohmann::json;

// Decode with the codec for `schema` and encode again; the error when decoding fails.
using Codec = std::function<Result<json>(const json&)>;

template <class T>
Codec codec() {
  return [](const json& j) -> Result<json> {
    auto v = from_json<T>(j);
    if (!v) return std::move(v).error();
    // Decoding the output again must give the same value.
    auto again = from_json<T>(to_json(*v));
    if (!again) return make_error(Errc::internal, "re-decoding failed: " + again.error().message);
    if (!(*again == *v)) return make_error(Errc::internal, "re-decoded value differs");
    return to_json(*v);
  };
}

const std::map<std::string, Codec>& codecs() {
  static const std::map<std::string, Codec> m = {
      {"order.schema.json", codec<Order>()},
      {"tender.schema.json", codec<Tender>()},
      {"shipment.schema.json", codec<Shipment>()},
      {"return.schema.json", codec<Return>()},
      {"refund.schema.json", codec<Refund>()},
      {"inventory-movement.schema.json", codec<InventoryMovement>()},
      {"stock-position.schema.json", codec<StockPosition>()},
      {"settlement-line.schema.json", codec<SettlementLine>()},
      {"erp-posting.schema.json", codec<ErpPosting>()},
      {"exception-opened.schema.json", codec<ExceptionOpened>()},
      {"exception-resolved.schema.json", codec<ExceptionResolved>()},
      {"instance-started.schema.json", codec<InstanceStarted>()},
  };
  return m;
}

TEST(ModelCodec, CanonicalDocumentsRoundTripExactly) {
  for (const auto& s : samples::all()) {
    auto out = codecs().at(s.schema)(s.doc);
    ASSERT_TRUE(out.ok()) << s.name << ": " << out.error().message;
    EXPECT_EQ(*out, s.doc) << s.name << "\nwrote:    " << out->dump() << "\nexpected: " << s.doc.dump();
  }
}

TEST(ModelCodec, ValuesSurviveExactly) {
  const auto all = samples::all();
  auto order = from_json<Order>(all[0].doc);
  ASSERT_TRUE(order.ok()) << order.error().message;
  EXPECT_EQ(order->external_reference, "9223372036854775807");
  EXPECT_EQ(order->lines[0].line_id, "18446744073709551615");
  EXPECT_EQ(order->lines[0].unit_price->minor(), 1999);
  EXPECT_EQ(order->lines[1].quantity.scaled(), 150000);
  EXPECT_EQ(order->lines[0].taxes[0].rate->scaled(), 8875);
  EXPECT_EQ(order->placed_at.offset_minutes(), 60);
  EXPECT_EQ(order->placed_at.to_utc_string(), "2026-03-01T09:15:00.123Z");
  EXPECT_EQ(order->tenders[0].tender_id, "9007199254740993");
  EXPECT_EQ(order->totals.grand_total.currency().code(), "USD");

  auto jpy = from_json<Order>(all[1].doc);
  ASSERT_TRUE(jpy.ok());
  EXPECT_EQ(jpy->lines[0].unit_price->minor(), 1000);
  auto kwd = from_json<Order>(all[2].doc);
  ASSERT_TRUE(kwd.ok());
  EXPECT_FALSE(kwd->lines[0].unit_price.has_value());
  EXPECT_EQ(kwd->lines[1].unit_price->minor(), -500);
  EXPECT_EQ(kwd->placed_at.offset_minutes(), -210);
}

TEST(ModelCodec, NonCanonicalButValidInputIsNormalised) {
  auto j = samples::all()[7].doc;  // movement_sale
  j["quantity_delta"] = -3;        // integers are fine for quantities
  j["occurred_at"] = "2026-03-01t10:15:00+00:00";
  auto m = from_json<InventoryMovement>(j);
  ASSERT_TRUE(m.ok()) << m.error().message;
  auto out = to_json(*m);
  EXPECT_EQ(out["quantity_delta"], "-3");
  EXPECT_EQ(out["occurred_at"], "2026-03-01T10:15:00Z");

  auto o = samples::all()[0].doc;
  o["lines"][0]["unit_price"] = "19.990";  // exact, extra zero
  o.erase("taxes_included");
  o.erase("shipping_lines");
  auto order = from_json<Order>(o);
  ASSERT_TRUE(order.ok()) << order.error().message;
  EXPECT_EQ(to_json(*order)["lines"][0]["unit_price"], "19.99");
  EXPECT_EQ(to_json(*order)["taxes_included"], false);
  EXPECT_EQ(to_json(*order)["shipping_lines"], json::array());
}

struct Rejection {
  const char* what;
  std::size_t sample;  // index in samples::all()
  std::function<void(json&)> mutate;
  const char* message;  // expected error message prefix (path + reason)
};

TEST(ModelCodec, StrictRejectionNamesThePath) {
  const Rejection cases[] = {
      {"money as float", 0, [](json& j) { j["lines"][1]["unit_price"] = 3.33; },
       "/lines/1/unit_price: expected a decimal string"},
      {"money as integer", 0, [](json& j) { j["totals"]["grand_total"] = 49; },
       "/totals/grand_total: expected a decimal string"},
      {"money with exponent", 0, [](json& j) { j["totals"]["tax_total"] = "3.19e0"; },
       "/totals/tax_total: expected a decimal string"},
      {"too many decimals", 0, [](json& j) { j["lines"][0]["unit_price"] = "19.999"; },
       "/lines/0/unit_price: \"19.999\" has more decimals than USD allows (2)"},
      {"JPY decimals", 1, [](json& j) { j["lines"][0]["unit_price"] = "1000.5"; },
       "/lines/0/unit_price: \"1000.5\" has more decimals than JPY allows (0)"},
      {"unknown member", 0, [](json& j) { j["lines"][1]["colour"] = "red"; }, "/lines/1/colour: unknown member"},
      {"unknown top-level member", 0, [](json& j) { j["Id"] = "x"; }, "/Id: unknown member"},
      {"missing member", 0, [](json& j) { j["lines"][0].erase("sku"); }, "/lines/0/sku: required member is missing"},
      {"missing totals", 0, [](json& j) { j.erase("totals"); }, "/totals: required member is missing"},
      {"null optional", 0, [](json& j) { j["location"] = nullptr; }, "/location: omit the member instead of null"},
      {"id as number", 0, [](json& j) { j["external_reference"] = 9223372036854775807LL; },
       "/external_reference: expected an identifier string"},
      {"sku with control char", 0, [](json& j) { j["lines"][0]["sku"] = "A\tB"; },
       "/lines/0/sku: expected an identifier"},
      {"sku with trailing space", 0, [](json& j) { j["lines"][0]["sku"] = "AB "; },
       "/lines/0/sku: expected an identifier"},
      {"empty lines", 0, [](json& j) { j["lines"] = json::array(); }, "/lines: expected at least 1 element"},
      {"lines not array", 0, [](json& j) { j["lines"] = json::object(); }, "/lines: expected an array"},
      {"line not object", 0, [](json& j) { j["lines"][1] = "x"; }, "/lines/1: expected an object"},
      {"bad status", 0, [](json& j) { j["status"] = "Shipped"; }, "/status: expected one of: pending open"},
      {"bad currency", 0, [](json& j) { j["currency"] = "usd"; }, "/currency: \"usd\" is not an ISO 4217"},
      {"bad channel code", 0, [](json& j) { j["channel"] = "shopify us"; }, "/channel: expected a code string"},
      {"quantity float", 0, [](json& j) { j["lines"][0]["quantity"] = 2.0; },
       "/lines/0/quantity: expected a decimal string"},
      {"quantity 6 decimals", 0, [](json& j) { j["lines"][0]["quantity"] = "0.000001"; },
       "/lines/0/quantity: \"0.000001\" has more than 5 decimals"},
      {"timestamp without offset", 0, [](json& j) { j["placed_at"] = "2026-03-01T10:15:00"; },
       "/placed_at: \"2026-03-01T10:15:00\" is not an RFC 3339 timestamp"},
      {"timestamp bad date", 0, [](json& j) { j["placed_at"] = "2026-02-30T10:15:00Z"; }, "/placed_at: "},
      {"boolean as string", 0, [](json& j) { j["taxes_included"] = "false"; },
       "/taxes_included: expected true or false"},
      {"tender money float", 0, [](json& j) { j["tenders"][0]["amount"] = 49.11; },
       "/tenders/0/amount: expected a decimal string"},
      {"key escaping", 0, [](json& j) { j["lines"][0]["a/b~c"] = 1; }, "/lines/0/a~1b~0c: unknown member"},
      {"not an object", 0, [](json& j) { j = json::array(); }, "(root): expected an object"},
      {"restock without location", 5, [](json& j) { j["lines"][0].erase("location"); },
       "/lines/0/location: required when restock is true"},
      {"shipped without shipped_at", 4, [](json& j) { j.erase("shipped_at"); },
       "/shipped_at: required when status is shipped or delivered"},
      {"sale without delta", 7, [](json& j) { j.erase("quantity_delta"); },
       "/quantity_delta: required unless kind is count"},
      {"sale with to_location", 7, [](json& j) { j["to_location"] = "X"; },
       "/to_location: allowed only when kind is transfer"},
      {"transfer without to_location", 8, [](json& j) { j.erase("to_location"); },
       "/to_location: required when kind is transfer"},
      {"transfer to itself", 8, [](json& j) { j["to_location"] = "WH-EAST"; },
       "/to_location: must differ from location"},
      {"transfer negative", 8, [](json& j) { j["quantity_delta"] = "-1"; },
       "/quantity_delta: must be positive when kind is transfer"},
      {"count with delta", 9, [](json& j) { j["quantity_delta"] = "1"; },
       "/quantity_delta: not allowed when kind is count"},
      {"count negative", 9, [](json& j) { j["counted_quantity"] = "-1"; }, "/counted_quantity: must not be negative"},
      {"refund line money float", 6, [](json& j) { j["lines"][0]["amount"] = 12.345; },
       "/lines/0/amount: expected a decimal string"},
      {"KWD too precise", 6, [](json& j) { j["total"] = "12.3456"; },
       "/total: \"12.3456\" has more decimals than KWD allows (3)"},
      {"posted without posted_at", 12, [](json& j) { j.erase("posted_at"); },
       "/posted_at: required when status is posted or reversed"},
      {"settlement amount overflow", 11, [](json& j) { j["amount"] = "9223372036854775808"; },
       "/amount: \"9223372036854775808\" is out of range for JPY"},
      {"port out of range", 15, [](json& j) { j["http_port"] = 70000; },
       "/http_port: expected an integer from 0 to 65535"},
  };
  const auto all = samples::all();
  for (const auto& c : cases) {
    json doc = all.at(c.sample).doc;
    c.mutate(doc);
    auto out = codecs().at(all.at(c.sample).schema)(doc);
    ASSERT_FALSE(out.ok()) << c.what << ": accepted " << doc.dump();
    EXPECT_EQ(out.error().code, Errc::invalid_argument) << c.what;
    EXPECT_EQ(out.error().message.rfind(c.message, 0), 0u)
        << c.what << ": got \"" << out.error().message << "\", want prefix \"" << c.message << "\"";
  }
}

TEST(ModelCodec, BatchAcceptsArrayOrSingleObjectWithElementPaths) {
  const auto all = samples::all();
  auto one = batch_from_json<InventoryMovement>(all[7].doc);
  ASSERT_TRUE(one.ok()) << one.error().message;
  EXPECT_EQ(one->size(), 1u);

  json arr = json::array({all[7].doc, all[8].doc, all[9].doc});
  auto three = batch_from_json<InventoryMovement>(arr);
  ASSERT_TRUE(three.ok()) << three.error().message;
  ASSERT_EQ(three->size(), 3u);
  EXPECT_EQ((*three)[1].kind, MovementKind::transfer);

  arr[2]["sku"] = 42;
  auto bad = batch_from_json<InventoryMovement>(arr);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message.rfind("/2/sku: expected an identifier", 0), 0u) << bad.error().message;

  EXPECT_FALSE(batch_from_json<InventoryMovement>(json::array()).ok());
  EXPECT_FALSE(batch_from_json<InventoryMovement>(json("x")).ok());
  auto too_many = batch_from_json<InventoryMovement>(json::array({all[7].doc, all[8].doc}), 1);
  ASSERT_FALSE(too_many.ok());
  EXPECT_NE(too_many.error().message.find("at most 1"), std::string::npos);
}

TEST(ModelTimestamp, KeepsOffsetAndComparesByInstant) {
  auto a = Timestamp::parse("2026-03-01T10:15:00+01:00");
  auto b = Timestamp::parse("2026-03-01T09:15:00Z");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->to_string(), "2026-03-01T10:15:00+01:00");
  EXPECT_EQ(a->to_utc_string(), "2026-03-01T09:15:00Z");
  EXPECT_EQ(a->compare_instant(*b), std::strong_ordering::equal);
  EXPECT_FALSE(*a == *b);  // same instant, different offset
  EXPECT_EQ(Timestamp::parse("2024-02-29T23:59:59.5-00:30")->to_utc_string(), "2024-03-01T00:29:59.500Z");
  EXPECT_EQ(Timestamp::parse("2026-01-01T00:00:00+00:00")->to_string(), "2026-01-01T00:00:00Z");
  EXPECT_EQ(Timestamp::parse("2026-01-01T00:00:00.1234Z")->to_string(), "2026-01-01T00:00:00.123400Z");
  for (const char* bad :
       {"", "2026-01-01", "2026-01-01T00:00:00", "2026-01-01 00:00:00Z", "2025-02-29T00:00:00Z", "2026-13-01T00:00:00Z",
        "2026-01-01T24:00:00Z", "2026-01-01T23:59:60Z", "2026-01-01T00:00:00.Z", "2026-01-01T00:00:00.1234567891Z",
        "2026-01-01T00:00:00+24:00", "2026-01-01T00:00:00+0100", "2026-01-01T00:00:00Z ", "0000-01-01T00:00:00Z"}) {
    EXPECT_FALSE(Timestamp::parse(bad).ok()) << bad;
  }
}

TEST(ModelEvents, CatalogueIsVersionedAndComplete) {
  const auto cat = event_catalogue();
  ASSERT_EQ(cat.size(), 6u);
  for (const auto& spec : cat) {
    EXPECT_TRUE(spec.type.starts_with("com.trueup.")) << spec.type;
    EXPECT_TRUE(spec.type.ends_with(".v1")) << spec.type;
    EXPECT_TRUE(spec.topic.ends_with(".v1")) << spec.topic;
    EXPECT_TRUE(spec.schema.ends_with(".schema.json")) << spec.schema;
    EXPECT_EQ(find_event(spec.type), &spec);
  }
  EXPECT_EQ(events::kStockChanged.topic, "retail.inventory.v1");
  EXPECT_EQ(events::kInventoryMovementAccepted.topic, "retail.inventory.v1");
  EXPECT_EQ(events::kOrderAccepted.topic, "retail.orders.v1");
  EXPECT_EQ(events::kExceptionOpened.topic, "trueup.exceptions.v1");
  EXPECT_EQ(events::kExceptionResolved.type, "com.trueup.exception.resolved.v1");
  EXPECT_EQ(find_event("com.trueup.nothing.v1"), nullptr);
}

TEST(ModelEvents, RecordsCarryCloudEventsHeadersAndPartitionKey) {
  const auto all = samples::all();
  auto movement = from_json<InventoryMovement>(all[7].doc);
  ASSERT_TRUE(movement.ok());
  EventContext ctx{"0192f6c0-1111-7000-8000-000000000001", "/trueup/instances/a",
                   *Timestamp::parse("2026-03-01T10:15:00.123+01:00"),
                   "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"};
  auto rec = inventory_movement_accepted(*movement, ctx);
  EXPECT_EQ(rec.topic, "retail.inventory.v1");
  EXPECT_EQ(rec.key, "SCALE ÜBER 5kg");
  EXPECT_EQ(json::parse(rec.value), all[7].doc);
  std::map<std::string, std::string> h(rec.headers.begin(), rec.headers.end());
  EXPECT_EQ(h["ce_specversion"], "1.0");
  EXPECT_EQ(h["ce_id"], ctx.id);
  EXPECT_EQ(h["ce_source"], "/trueup/instances/a");
  EXPECT_EQ(h["ce_type"], "com.trueup.inventory.movement.accepted.v1");
  EXPECT_EQ(h["ce_time"], "2026-03-01T09:15:00.123Z");
  EXPECT_EQ(h["ce_subject"], "SCALE ÜBER 5kg");
  EXPECT_EQ(h["content-type"], "application/json");
  EXPECT_EQ(h["traceparent"], ctx.traceparent);

  auto order = from_json<Order>(all[0].doc);
  ASSERT_TRUE(order.ok());
  ctx.traceparent.clear();
  auto orec = order_accepted(*order, ctx);
  EXPECT_EQ(orec.topic, "retail.orders.v1");
  EXPECT_EQ(orec.key, "ord-450789469");
  for (const auto& [name, value] : orec.headers) EXPECT_NE(name, "traceparent");

  auto pos = from_json<StockPosition>(all[10].doc);
  ASSERT_TRUE(pos.ok());
  EXPECT_EQ(stock_changed(*pos, ctx).key, "MUG-01");
  EXPECT_EQ(stock_changed(*pos, ctx).headers[3].second, "com.trueup.stock.changed.v1");
}

}  // namespace
}  // namespace trueup::model
