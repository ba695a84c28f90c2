// The Shopify simulator in-process on port 0, driven through the shared
// outbound client: cursor pagination, the leaky bucket, inventory writes and
// inspection, signed webhooks to an in-test receiver, and the faults (fixed
// seed, changed at run time). The bucket runs on a frozen clock, so no
// result depends on how fast the test runs.
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/exact_json.hpp"
#include "shopify_payloads.hpp"
#include "simulator.hpp"
#include "support/webhook_receiver.hpp"
#include "tests/shopify_test_shop.hpp"
#include "trueup/connector/signature.hpp"
#include "trueup/http/outbound.hpp"
#include "trueup/http/server.hpp"
#include "trueup/metrics/registry.hpp"
#include "trueup/model/timestamp.hpp"

namespace trueup::connectors::shopify {
namespace {

using nlohmann::json;
constexpr const char* kToken = "shpat_sim_token";
constexpr const char* kSecret = "sim-app-secret";
constexpr auto kBound = std::chrono::seconds(20);

using trueup::testing::WebhookReceiver;

class ShopifySimulatorTest : public ::testing::Test {
 protected:
  void start(ShopifySimulatorSettings settings = {}, json seed = small_seed()) {
    settings.access_token = kToken;
    settings.app_secret = kSecret;
    settings.faults.latency = std::chrono::milliseconds(0);
    settings.webhooks.retry_delay = std::chrono::milliseconds(10);
    // Frozen: the bucket never leaks unless the test advances the clock.
    settings.clock = [this] { return std::chrono::steady_clock::time_point(std::chrono::nanoseconds(now_ns_.load())); };
    auto created = ShopifySimulator::create(std::move(settings), seed);
    ASSERT_TRUE(created.ok()) << created.error().describe();
    sim_ = std::move(created).value();
    ASSERT_TRUE(sim_->start().ok());
  }
  void TearDown() override {
    if (sim_) sim_->stop();
  }

  void advance(std::chrono::milliseconds d) { now_ns_ += std::chrono::nanoseconds(d).count(); }

  http::OutboundReply call(const std::string& method, const std::string& path, const std::string& body = "",
                           bool with_token = true) {
    http::OutboundRequest r;
    r.method = method;
    r.url = path.starts_with("http") ? path : sim_->base_url() + path;
    r.body = body;
    if (with_token) r.headers.add("X-Shopify-Access-Token", kToken);
    if (!body.empty()) r.headers.add("Content-Type", "application/json");
    auto reply = client_.send(r);
    EXPECT_TRUE(reply.ok()) << method << " " << path << ": " << (reply ? "" : reply.error().describe());
    return reply ? *reply : http::OutboundReply{};
  }
  json inspect() { return json::parse(call("GET", "/_sim/inspect").body); }

  std::atomic<std::int64_t> now_ns_{1'000'000'000'000};
  std::unique_ptr<ShopifySimulator> sim_;
  http::OutboundClient client_{http::OutboundSettings{}};
};

TEST_F(ShopifySimulatorTest, PaginatesOrdersByLinkHeaderAndSeesEachOnce) {
  start();
  auto created =
      call("POST", "/_sim/orders", R"({"count": 301, "line_items": [{"variant_id": 808950810, "quantity": 1}]})");
  ASSERT_EQ(created.status, 201) << created.body;
  std::set<std::string> seen;
  std::string next = "/admin/api/2026-07/orders.json?status=any&limit=250&updated_at_min=2000-01-01T00:00:00Z";
  int pages = 0;
  while (!next.empty() && pages < 10) {
    auto page = call("GET", next);
    ASSERT_EQ(page.status, 200) << page.body;
    ++pages;
    auto orders = decode_orders(page.body);
    ASSERT_TRUE(orders.ok()) << orders.error().message;
    EXPECT_LE(orders->size(), 250u);
    for (const auto& o : *orders) EXPECT_TRUE(seen.insert(o.id).second) << "order " << o.id << " seen twice";
    next.clear();
    const std::string link = page.headers.get("Link");
    const auto rel = link.find(">; rel=\"next\"");
    if (rel != std::string::npos) {
      const auto open = link.rfind('<', rel);
      next = link.substr(open + 1, rel - open - 1);
      EXPECT_NE(next.find("page_info="), std::string::npos);
    }
  }
  EXPECT_EQ(pages, 2);
  EXPECT_EQ(seen.size(), 301u);
  // Ids start beyond 2^53 and keep every digit.
  EXPECT_TRUE(seen.contains("9007199254740993"));
  // A page_info with other filters is refused like the real API does.
  auto mixed = call("GET", "/admin/api/2026-07/orders.json?status=any&page_info=00");
  EXPECT_EQ(mixed.status, 400);
  // A forged cursor is refused, the simulator stays up.
  const std::string forged = "7b2263223a2278222c2264223a226e657874222c2266223a7b7d7d";  // {"c":"x","d":"next","f":{}}
  EXPECT_EQ(call("GET", "/admin/api/2026-07/orders.json?page_info=" + forged).status, 400);
  // updated_at_min in the future: nothing.
  auto none = call("GET", "/admin/api/2026-07/orders.json?status=any&updated_at_min=2200-01-01T00:00:00Z");
  EXPECT_EQ(json::parse(none.body)["orders"].size(), 0u);
}

TEST_F(ShopifySimulatorTest, LeakyBucketAnswers429WithRetryAfterWhenFull) {
  start();
  for (int i = 1; i <= 40; ++i) {
    auto r = call("GET", "/admin/api/2026-07/locations.json");
    ASSERT_EQ(r.status, 200);
    EXPECT_EQ(r.headers.get("X-Shopify-Shop-Api-Call-Limit"), std::to_string(i) + "/40");
  }
  auto throttled = call("GET", "/admin/api/2026-07/locations.json");
  EXPECT_EQ(throttled.status, 429);
  EXPECT_EQ(throttled.headers.get("X-Shopify-Shop-Api-Call-Limit"), "40/40");
  const std::string retry_after = throttled.headers.get("Retry-After");
  ASSERT_FALSE(retry_after.empty());
  EXPECT_GT(std::stod(retry_after), 0.0);
  EXPECT_EQ(inspect()["throttled_429"], 1);
  // One second leaks two calls.
  advance(std::chrono::milliseconds(1000));
  auto after = call("GET", "/admin/api/2026-07/locations.json");
  EXPECT_EQ(after.status, 200);
  EXPECT_EQ(after.headers.get("X-Shopify-Shop-Api-Call-Limit"), "39/40");
  // Without the token: 401, and the bucket is untouched.
  EXPECT_EQ(call("GET", "/admin/api/2026-07/locations.json", "", false).status, 401);
}

TEST_F(ShopifySimulatorTest, InventorySetIsSetToValueAndCounted) {
  start();
  const std::string set = "/admin/api/2026-07/inventory_levels/set.json";
  for (int available : {42, 42, 7}) {
    auto r = call("POST", set,
                  R"({"location_id": 655441491, "inventory_item_id": 808950810, "available": )" +
                      std::to_string(available) + "}");
    ASSERT_EQ(r.status, 200) << r.body;
    auto levels = decode_inventory_levels(r.body);
    ASSERT_TRUE(levels.ok());
    EXPECT_EQ(levels->at(0).available, available);
  }
  auto big =
      call("POST", set, R"({"location_id": 655441491, "inventory_item_id": 9223372036854775805, "available": 3})");
  ASSERT_EQ(big.status, 200) << big.body;
  EXPECT_NE(big.body.find("9223372036854775805"), std::string::npos);
  EXPECT_EQ(call("POST", set, R"({"location_id": 1, "inventory_item_id": 808950810, "available": 1})").status, 404);

  auto levels =
      call("GET", "/admin/api/2026-07/inventory_levels.json?inventory_item_ids=808950810&location_ids=655441491");
  ASSERT_EQ(levels.status, 200);
  auto decoded = decode_inventory_levels(levels.body);
  ASSERT_TRUE(decoded.ok());
  ASSERT_EQ(decoded->size(), 1u);
  EXPECT_EQ(decoded->at(0).available, 7);

  auto variant = call("GET", "/admin/api/2026-07/variants/9223372036854775806.json");
  ASSERT_EQ(variant.status, 200);
  auto variants = decode_variants(variant.body);
  ASSERT_TRUE(variants.ok());
  EXPECT_EQ(variants->at(0).inventory_item_id, "9223372036854775805");
  EXPECT_EQ(variants->at(0).price, "12345678901.99");

  auto seen = inspect();
  EXPECT_EQ(seen["writes"]["inventory_levels/set"], 4);
  EXPECT_EQ(seen["keys"]["inventory_item_location"]["808950810@655441491"], 3);
  EXPECT_EQ(seen["keys"]["inventory_item_location"]["9223372036854775805@655441491"], 1);
  EXPECT_EQ(seen["requests"]["inventory_levels/set"], 5);
}

TEST_F(ShopifySimulatorTest, WebhooksAreSignedFullResourcesWithShopifyHeaders) {
  WebhookReceiver receiver;
  ShopifySimulatorSettings settings;
  settings.webhooks.url = receiver.url();
  start(settings);
  auto created = call("POST", "/_sim/orders",
                      R"({"line_items": [{"variant_id": 808950810, "quantity": 2}], "location_id": 655441491})");
  ASSERT_EQ(created.status, 201) << created.body;
  const std::string order_id = std::to_string(json::parse(created.body)["orders"][0]["id"].get<std::int64_t>());
  // orders/create and the stock it took (inventory_levels/update).
  auto got = receiver.wait_for(2);
  ASSERT_EQ(got.size(), 2u);
  const connector::SecretSet secrets({kSecret});
  std::set<std::string> topics, webhook_ids;
  for (const auto& d : got) {
    auto lookup = connector::header_lookup(d.headers);
    EXPECT_EQ(connector::verify_shopify_webhook(d.body, connector::shopify_hmac_header(lookup), secrets),
              connector::SignatureCheck::ok);
    EXPECT_EQ(connector::verify_shopify_webhook(d.body + " ", connector::shopify_hmac_header(lookup), secrets),
              connector::SignatureCheck::bad_signature);
    topics.insert(d.headers.at("x-shopify-topic"));
    webhook_ids.insert(d.headers.at("x-shopify-webhook-id"));
    EXPECT_EQ(d.headers.at("x-shopify-shop-domain"), "test-shop.myshopify.com");
    EXPECT_EQ(d.headers.at("x-shopify-api-version"), "2026-07");
    EXPECT_FALSE(d.headers.at("x-shopify-event-id").empty());
    EXPECT_FALSE(d.headers.at("x-shopify-triggered-at").empty());
    if (d.headers.at("x-shopify-topic") == "orders/create") {
      auto orders = decode_orders(d.body);
      ASSERT_TRUE(orders.ok()) << orders.error().message;
      EXPECT_EQ(orders->at(0).id, order_id);
      EXPECT_EQ(orders->at(0).total_price->shop.to_decimal_string(), "398.00");
    } else {
      auto levels = decode_inventory_levels(d.body);
      ASSERT_TRUE(levels.ok());
      EXPECT_EQ(levels->at(0).available, 8);
    }
  }
  EXPECT_EQ(topics, (std::set<std::string>{"orders/create", "inventory_levels/update"}));
  EXPECT_EQ(webhook_ids.size(), 2u);

  // A refund with restock: refunds/create, orders/updated, inventory_levels/update.
  const auto line_id = json::parse(created.body)["orders"][0]["line_items"][0]["id"].get<std::int64_t>();
  auto refund =
      call("POST", "/_sim/refunds",
           R"({"order_id": )" + order_id + R"(, "refund_line_items": [{"line_item_id": )" + std::to_string(line_id) +
               R"(, "quantity": 1, "restock_type": "return", "location_id": 655441491}]})");
  ASSERT_EQ(refund.status, 201) << refund.body;
  got = receiver.wait_for(5);
  ASSERT_EQ(got.size(), 5u);
  EXPECT_EQ(got[2].headers.at("x-shopify-topic"), "refunds/create");
  auto refunds = decode_refunds(got[2].body);
  ASSERT_TRUE(refunds.ok()) << refunds.error().message;
  EXPECT_EQ(refunds->at(0).refund_line_items.at(0).restock_type, "return");
  auto order = call("GET", "/admin/api/2026-07/orders/" + order_id + ".json");
  EXPECT_EQ(json::parse(order.body)["order"]["financial_status"], "partially_refunded");
  ASSERT_TRUE(sim_->core().webhooks().wait_idle(kBound));
  EXPECT_EQ(inspect()["webhooks"]["delivered"], 5);
}

TEST_F(ShopifySimulatorTest, UnprefixedHeadersAndRetriesKeepTheDeliveryId) {
  WebhookReceiver receiver(/*fail_first=*/1);
  ShopifySimulatorSettings settings;
  settings.webhooks.url = receiver.url();
  settings.unprefixed_webhook_headers = true;
  start(settings);
  ASSERT_EQ(call("PUT", "/_sim/inventory_levels",
                 R"({"location_id": 487838322, "inventory_item_id": 808950810, "available": 4})")
                .status,
            200);
  auto got = receiver.wait_for(2);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].headers.count("x-shopify-topic"), 0u);
  EXPECT_EQ(got[0].headers.at("shopify-topic"), "inventory_levels/update");
  // The retry after the 500 is the same delivery: same id, same body, same signature.
  EXPECT_EQ(got[0].headers.at("shopify-webhook-id"), got[1].headers.at("shopify-webhook-id"));
  EXPECT_EQ(got[0].headers.at("shopify-hmac-sha256"), got[1].headers.at("shopify-hmac-sha256"));
  EXPECT_EQ(got[0].body, got[1].body);
  auto lookup = connector::header_lookup(got[1].headers);
  EXPECT_EQ(connector::verify_shopify_webhook(got[1].body, connector::shopify_hmac_header(lookup),
                                              connector::SecretSet({kSecret})),
            connector::SignatureCheck::ok);
  ASSERT_TRUE(sim_->core().webhooks().wait_idle(kBound));
  auto attempts = inspect()["webhooks"]["attempts"];
  ASSERT_EQ(attempts.size(), 2u);
  EXPECT_EQ(attempts[0]["status"], 500);
  EXPECT_EQ(attempts[1]["attempt"], 2);
  EXPECT_EQ(attempts[1]["status"], 200);
}

TEST_F(ShopifySimulatorTest, DuplicateWebhooksChangedAtRunTime) {
  WebhookReceiver receiver;
  ShopifySimulatorSettings settings;
  settings.webhooks.url = receiver.url();
  start(settings);
  auto faults = call("PUT", "/_sim/faults", R"({"webhooks": {"duplicate_share": 1}})");
  ASSERT_EQ(faults.status, 200) << faults.body;
  EXPECT_EQ(json::parse(faults.body)["webhooks"]["duplicate_share"], 1.0);
  const std::string level = R"({"location_id": 487838322, "inventory_item_id": 808950810, "available": )";
  ASSERT_EQ(call("PUT", "/_sim/inventory_levels", level + "1}").status, 200);
  auto got = receiver.wait_for(2);
  ASSERT_EQ(got.size(), 2u);
  // A redelivery: the same event and the same delivery id (the dedupe key).
  EXPECT_EQ(got[0].headers.at("x-shopify-event-id"), got[1].headers.at("x-shopify-event-id"));
  EXPECT_EQ(got[0].headers.at("x-shopify-webhook-id"), got[1].headers.at("x-shopify-webhook-id"));

  ASSERT_EQ(call("PUT", "/_sim/faults", R"({"webhooks": {"duplicate_new_id": true}})").status, 200);
  ASSERT_EQ(call("PUT", "/_sim/inventory_levels", level + "2}").status, 200);
  got = receiver.wait_for(4);
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(got[2].headers.at("x-shopify-event-id"), got[3].headers.at("x-shopify-event-id"));
  EXPECT_NE(got[2].headers.at("x-shopify-webhook-id"), got[3].headers.at("x-shopify-webhook-id"));
  EXPECT_NE(got[0].headers.at("x-shopify-event-id"), got[2].headers.at("x-shopify-event-id"));

  // Dropping everything: published, never sent.
  ASSERT_EQ(call("PUT", "/_sim/faults", R"({"webhooks": {"duplicate_share": 0, "drop_share": 1}})").status, 200);
  ASSERT_EQ(call("PUT", "/_sim/inventory_levels", level + "3}").status, 200);
  ASSERT_TRUE(sim_->core().webhooks().wait_idle(kBound));
  auto seen = inspect()["webhooks"];
  EXPECT_EQ(seen["published"], 3);
  EXPECT_EQ(seen["dropped"], 1);
  EXPECT_EQ(seen["delivered"], 4);
  // Each copy is a delivery of its own: its first attempt is attempt 1.
  for (const auto& a : seen["attempts"]) EXPECT_EQ(a["attempt"], 1) << a.dump();
  // Bad patches change nothing.
  EXPECT_EQ(call("PUT", "/_sim/faults", R"({"error_share": 2})").status, 400);
  EXPECT_EQ(call("PUT", "/_sim/faults", R"({"webhooks": {"nope": 1}})").status, 400);
  EXPECT_EQ(json::parse(call("GET", "/_sim/faults").body)["error_share"], 0.0);
}

TEST_F(ShopifySimulatorTest, InjectedErrorsFollowTheSeed) {
  start();
  auto run = [this] {
    EXPECT_EQ(call("PUT", "/_sim/faults", R"({"seed": 7, "error_share": 0.5, "rate_limit": false})").status, 200);
    std::string statuses;
    for (int i = 0; i < 30; ++i) {
      auto r = call("GET", "/admin/api/2026-07/locations.json");
      EXPECT_TRUE(r.status == 200 || r.status == 503) << r.status;
      statuses += r.status == 200 ? '.' : 'E';
    }
    return statuses;
  };
  const std::string first = run();
  const std::string second = run();
  EXPECT_EQ(first, second);  // same seed, same requests: same faults
  const auto errors = std::count(first.begin(), first.end(), 'E');
  EXPECT_GT(errors, 0);
  EXPECT_LT(errors, 30);
  EXPECT_EQ(inspect()["injected_5xx"], 2 * errors);
  // Rate limiting was off: 60 calls and no 429.
  EXPECT_EQ(inspect()["throttled_429"], 0);
  // Reset clears the record.
  EXPECT_EQ(call("POST", "/_sim/reset").status, 200);
  EXPECT_EQ(inspect()["injected_5xx"], 0);
}

TEST_F(ShopifySimulatorTest, TimeoutHoldsTheAnswerButTheWriteHappens) {
  start();
  ASSERT_EQ(call("PUT", "/_sim/faults", R"({"timeout_share": 1, "timeout_hold_ms": 5000})").status, 200);
  http::OutboundRequest r;
  r.method = "POST";
  r.url = sim_->base_url() + "/admin/api/2026-07/inventory_levels/set.json";
  r.headers.add("X-Shopify-Access-Token", kToken);
  r.body = R"({"location_id": 655441491, "inventory_item_id": 808950810, "available": 77})";
  r.timeout = std::chrono::milliseconds(200);
  auto reply = client_.send(r);
  ASSERT_FALSE(reply.ok());
  EXPECT_EQ(reply.error().code, Errc::timeout);
  ASSERT_EQ(call("PUT", "/_sim/faults", R"({"timeout_share": 0})").status, 200);
  auto levels = decode_inventory_levels(
      call("GET", "/admin/api/2026-07/inventory_levels.json?inventory_item_ids=808950810&location_ids=655441491").body);
  ASSERT_TRUE(levels.ok());
  EXPECT_EQ(levels->at(0).available, 77);
  auto seen = inspect();
  EXPECT_EQ(seen["timeouts"], 1);
  EXPECT_EQ(seen["writes"]["inventory_levels/set"], 1);
}

TEST_F(ShopifySimulatorTest, LateAndOutOfOrderDeliveries) {
  WebhookReceiver receiver;
  ShopifySimulatorSettings settings;
  settings.webhooks.url = receiver.url();
  settings.webhooks.reorder_window = std::chrono::seconds(30);  // the next event always comes first
  start(settings);
  ASSERT_EQ(call("PUT", "/_sim/faults", R"({"webhooks": {"out_of_order": true, "late_share": 1, "late_delay_ms": 20}})")
                .status,
            200);
  const std::string level = R"({"location_id": 487838322, "inventory_item_id": 808950810, "available": )";
  ASSERT_EQ(call("PUT", "/_sim/inventory_levels", level + "1}").status, 200);
  ASSERT_EQ(call("PUT", "/_sim/inventory_levels", level + "2}").status, 200);
  auto got = receiver.wait_for(2);
  ASSERT_EQ(got.size(), 2u);
  auto first = decode_inventory_levels(got[0].body);
  auto second = decode_inventory_levels(got[1].body);
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(first->at(0).available, 2);  // the newer state arrives first
  EXPECT_EQ(second->at(0).available, 1);
}

TEST_F(ShopifySimulatorTest, GraphqlInventorySetQuantitiesWithIdempotencyKeyAndCompareQuantity) {
  start();
  const std::string path = "/admin/api/2026-07/graphql.json";
  auto mutation = [](const std::string& directive, const std::string& change_from, int quantity) {
    json quantities = json::array({json{{"inventoryItemId", "gid://shopify/InventoryItem/808950810"},
                                        {"locationId", "gid://shopify/Location/655441491"},
                                        {"quantity", quantity}}});
    if (change_from != "absent") quantities[0]["changeFromQuantity"] = json::parse(change_from);
    return json{
        {"query",
         "mutation Set($input: InventorySetQuantitiesInput!, $key: String!) { inventorySetQuantities("
         "input: $input) " +
             directive + " { inventoryAdjustmentGroup { changes { name delta } } userErrors { code } } }"},
        {"variables",
         {{"key", "k-1"}, {"input", {{"name", "available"}, {"reason", "correction"}, {"quantities", quantities}}}}}}
        .dump();
  };
  auto errors_of = [](const http::OutboundReply& r) { return json::parse(r.body); };
  // 2026-04 and later: no idempotency key, no mutation.
  auto no_key = errors_of(call("POST", path, mutation("", "10", 5)));
  ASSERT_TRUE(no_key.contains("errors")) << no_key.dump();

  auto applied = call("POST", path, mutation("@idempotent(key: $key)", "10", 5));
  ASSERT_EQ(applied.status, 200);
  auto a = json::parse(applied.body)["data"]["inventorySetQuantities"];
  EXPECT_EQ(a["userErrors"].size(), 0u) << applied.body;
  EXPECT_EQ(a["inventoryAdjustmentGroup"]["changes"][0]["delta"], -5);
  // The same key and input: the first answer again, applied once (only the
  // cost extension tells the two apart).
  auto replay = call("POST", path, mutation("@idempotent(key: $key)", "10", 5));
  EXPECT_EQ(json::parse(replay.body)["data"], json::parse(applied.body)["data"]);
  // The same key with other input: refused.
  auto conflict = errors_of(call("POST", path, mutation("@idempotent(key: $key)", "10", 6)));
  ASSERT_TRUE(conflict.contains("errors"));
  EXPECT_EQ(conflict["errors"][0]["extensions"]["code"], "IDEMPOTENCY_CONFLICT");
  // A new key with a stale compare quantity: a user error, nothing changes.
  auto stale = json::parse(call("POST", path, mutation("@idempotent(key: \"k-2\")", "10", 1)).body);
  EXPECT_EQ(stale["data"]["inventorySetQuantities"]["userErrors"][0]["code"], "CHANGE_FROM_QUANTITY_STALE");
  // changeFromQuantity must be named; null skips the check.
  auto absent = json::parse(call("POST", path, mutation("@idempotent(key: \"k-3\")", "absent", 1)).body);
  EXPECT_EQ(absent["data"]["inventorySetQuantities"]["userErrors"][0]["code"], "CHANGE_FROM_QUANTITY_REQUIRED");
  auto unchecked = json::parse(call("POST", path, mutation("@idempotent(key: \"k-4\")", "null", 3)).body);
  EXPECT_EQ(unchecked["data"]["inventorySetQuantities"]["userErrors"].size(), 0u);

  auto levels = decode_inventory_levels(
      call("GET", "/admin/api/2026-07/inventory_levels.json?inventory_item_ids=808950810&location_ids=655441491").body);
  ASSERT_TRUE(levels.ok());
  EXPECT_EQ(levels->at(0).available, 3);
  auto seen = inspect();
  EXPECT_EQ(seen["keys"]["idempotency_key"]["k-1"], 3);
  EXPECT_EQ(seen["writes"]["inventorySetQuantities"], 2);
}

// A mutation over `quantities` (item ids) at the warehouse, key `key`.
std::string set_quantities(const std::string& key, const std::vector<std::pair<std::string, int>>& quantities) {
  json list = json::array();
  for (const auto& [item, quantity] : quantities)
    list.push_back({{"inventoryItemId", "gid://shopify/InventoryItem/" + item},
                    {"locationId", "gid://shopify/Location/655441491"},
                    {"quantity", quantity},
                    {"changeFromQuantity", nullptr}});
  return json{{"query",
               "mutation Set($input: InventorySetQuantitiesInput!) { inventorySetQuantities(input: $input) "
               "@idempotent(key: \"" +
                   key + "\") { userErrors { field code } } }"},
              {"variables", {{"input", {{"name", "available"}, {"reason", "correction"}, {"quantities", list}}}}}}
      .dump();
}

TEST_F(ShopifySimulatorTest, GraphqlCostLimitAnswersThrottledUntilPointsAreRestored) {
  ShopifySimulatorSettings settings;
  settings.graphql_bucket_size = 25;
  settings.graphql_restore_rate = 5;
  settings.graphql_mutation_cost = 10;
  start(settings);
  const std::string path = "/admin/api/2026-07/graphql.json";
  auto first = json::parse(call("POST", path, set_quantities("c-1", {{"808950810", 4}})).body);
  EXPECT_EQ(first["extensions"]["cost"]["requestedQueryCost"], 10);
  EXPECT_EQ(first["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"], 15);
  EXPECT_EQ(first["extensions"]["cost"]["throttleStatus"]["maximumAvailable"], 25.0);
  EXPECT_EQ(first["extensions"]["cost"]["throttleStatus"]["restoreRate"], 5.0);
  ASSERT_EQ(call("POST", path, set_quantities("c-2", {{"808950810", 3}})).status, 200);
  // 5 points left, 10 needed: THROTTLED, nothing runs, the key is not taken.
  auto throttled = json::parse(call("POST", path, set_quantities("c-3", {{"808950810", 2}})).body);
  ASSERT_TRUE(throttled.contains("errors")) << throttled.dump();
  EXPECT_EQ(throttled["errors"][0]["extensions"]["code"], "THROTTLED");
  EXPECT_FALSE(throttled.contains("data"));
  EXPECT_TRUE(throttled["extensions"]["cost"]["actualQueryCost"].is_null());
  EXPECT_EQ(throttled["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"], 5);
  EXPECT_EQ(inspect()["keys"]["idempotency_key"].value("c-3", 0), 0);
  // One second restores 5 points: enough again.
  advance(std::chrono::milliseconds(1000));
  auto later = json::parse(call("POST", path, set_quantities("c-3", {{"808950810", 2}})).body);
  EXPECT_EQ(later["data"]["inventorySetQuantities"]["userErrors"].size(), 0u) << later.dump();
  const json seen = inspect();
  EXPECT_EQ(seen["throttled_429"], 1);
  EXPECT_EQ(seen["writes"]["inventorySetQuantities"], 3);
  // Each write is logged with its input and the time the shop applied it.
  const json& last = seen["write_log"].back();
  EXPECT_EQ(last["operation"], "inventorySetQuantities");
  EXPECT_EQ(last["body"]["idempotency_key"], "c-3");
  EXPECT_EQ(last["body"]["input"]["quantities"][0]["quantity"], 2);
  EXPECT_TRUE(model::Timestamp::parse(last["body"]["applied_at"].get<std::string>()).ok()) << last.dump();
}

TEST_F(ShopifySimulatorTest, GraphqlNamesEveryFaultyQuantityAndAppliesNothing) {
  start();
  const std::string path = "/admin/api/2026-07/graphql.json";
  auto refused = json::parse(
      call("POST", path, set_quantities("u-1", {{"808950810", 7}, {"1", 1}, {"9223372036854775805", 2}, {"2", 3}}))
          .body);
  const json& errors = refused["data"]["inventorySetQuantities"]["userErrors"];
  ASSERT_EQ(errors.size(), 2u) << refused.dump();
  EXPECT_EQ(errors[0]["field"], json::array({"input", "quantities", "1", "inventoryItemId"}));
  EXPECT_EQ(errors[0]["code"], "INVALID_INVENTORY_ITEM");
  EXPECT_EQ(errors[1]["field"], json::array({"input", "quantities", "3", "inventoryItemId"}));
  EXPECT_TRUE(refused["data"]["inventorySetQuantities"]["inventoryAdjustmentGroup"].is_null());
  EXPECT_EQ(inspect()["writes"].value("inventorySetQuantities", 0), 0);
  // More than 250 quantities: refused as a whole.
  std::vector<std::pair<std::string, int>> many(251, {"808950810", 1});
  auto too_many = json::parse(call("POST", path, set_quantities("u-2", many)).body);
  ASSERT_TRUE(too_many.contains("errors")) << too_many.dump();
  EXPECT_EQ(too_many["errors"][0]["extensions"]["code"], "MAX_INPUT_SIZE_EXCEEDED");
}

TEST_F(ShopifySimulatorTest, SeedErrorsNameThePointer) {
  auto seed = small_seed();
  seed["products"][0]["variants"][0]["price"] = 19.99;
  ShopifySimulatorSettings settings;
  settings.access_token = kToken;
  auto created = ShopifySimulator::create(settings, seed);
  ASSERT_FALSE(created.ok());
  EXPECT_NE(created.error().message.find("/products/0/variants/0/price"), std::string::npos) << created.error().message;
  seed = small_seed();
  seed["warehouses"] = json::array();
  created = ShopifySimulator::create(settings, seed);
  ASSERT_FALSE(created.ok());
  EXPECT_NE(created.error().message.find("/warehouses"), std::string::npos);
}

}  // namespace
}  // namespace trueup::connectors::shopify
