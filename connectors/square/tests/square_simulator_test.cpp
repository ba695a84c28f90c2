// The Square simulator in-process on port 0, driven through the shared
// outbound client: BatchChangeInventory with idempotency keys, counts after
// sales, adjustments and returns, cursor pagination, 401 and RATE_LIMITED,
// signed webhooks to an in-test receiver (verified with the real signature
// check and a known-answer vector from openssl), and faults. Every answer is
// decoded with the connector's own decoders (square_payloads.hpp), which
// proves the shapes are the ones the connector reads. The bucket runs on a
// frozen clock, so no result depends on how fast the test runs.
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/exact_json.hpp"
#include "simulator.hpp"
#include "square_payloads.hpp"
#include "support/webhook_receiver.hpp"
#include "trueup/connector/signature.hpp"
#include "trueup/http/outbound.hpp"
#include "trueup/http/server.hpp"
#include "trueup/metrics/registry.hpp"

namespace trueup::connectors::square {
namespace {

using nlohmann::json;
constexpr const char* kToken = "EAAAl-sim-token";
constexpr const char* kKey = "sim-signature-key";
constexpr auto kBound = std::chrono::seconds(20);

json small_seed() {
  return json::parse(R"({
    "merchant": {"id": "MLTESTMERCHANT", "currency": "USD"},
    "locations": [{"id": "L1STORE0000001", "name": "Main Street"}, {"id": "L2WAREHOUSE001", "name": "Warehouse"}],
    "items": [{"id": "ITEMTSHIRT00000000000001", "name": "T-shirt", "variations": [
      {"id": "VARTSHIRTS00000000000001", "name": "Small", "sku": "TS-S", "price_money": {"amount": 1999, "currency": "USD"}},
      {"id": "VARTSHIRTM00000000000001", "name": "Medium", "sku": "TS-M", "price_money": {"amount": 2099}}]}],
    "inventory_counts": [
      {"catalog_object_id": "VARTSHIRTS00000000000001", "location_id": "L1STORE0000001", "quantity": "10"},
      {"catalog_object_id": "VARTSHIRTM00000000000001", "location_id": "L1STORE0000001", "quantity": "4"},
      {"catalog_object_id": "VARTSHIRTS00000000000001", "location_id": "L2WAREHOUSE001", "quantity": "100"}]
  })");
}

using trueup::testing::WebhookReceiver;

// base64(HMAC-SHA256(key, text)) computed by the openssl command line, not by
// Trueup's code; "" when openssl cannot be run.
std::string openssl_hmac_base64(const std::string& key, const std::string& text) {
  const std::string dir = ::testing::TempDir();
  const std::string input = dir + "/square-sim-hmac-input";
  if (FILE* f = std::fopen(input.c_str(), "wb")) {
    std::fwrite(text.data(), 1, text.size(), f);
    std::fclose(f);
  } else {
    return "";
  }
  const std::string command = "openssl dgst -sha256 -hmac '" + key + "' -binary < '" + input + "' | base64 -w0";
  FILE* p = popen(command.c_str(), "r");
  if (p == nullptr) return "";
  std::string out;
  char buffer[256];
  while (std::size_t n = std::fread(buffer, 1, sizeof buffer, p)) out.append(buffer, n);
  pclose(p);
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

class SquareSimulatorTest : public ::testing::Test {
 protected:
  void start(SquareSimulatorSettings settings = {}, json seed = small_seed()) {
    settings.access_token = kToken;
    settings.signature_key = kKey;
    settings.webhooks.retry_delay = std::chrono::milliseconds(10);
    // Frozen: the bucket never refills unless the test advances the clock.
    settings.clock = [this] { return std::chrono::steady_clock::time_point(std::chrono::nanoseconds(now_ns_.load())); };
    auto created = SquareSimulator::create(std::move(settings), seed);
    ASSERT_TRUE(created.ok()) << created.error().describe();
    sim_ = std::move(created).value();
    ASSERT_TRUE(sim_->start().ok());
  }
  void TearDown() override {
    if (sim_) sim_->stop();
  }

  void advance(std::chrono::milliseconds d) { now_ns_ += std::chrono::nanoseconds(d).count(); }

  http::OutboundReply call(const std::string& method, const std::string& path, const std::string& body = "",
                           std::string token = kToken) {
    http::OutboundRequest r;
    r.method = method;
    r.url = sim_->base_url() + path;
    r.body = body;
    if (!token.empty()) r.headers.add("Authorization", "Bearer " + token);
    r.headers.add("Square-Version", "2025-08-20");
    if (!body.empty()) r.headers.add("Content-Type", "application/json");
    auto reply = client_.send(r);
    EXPECT_TRUE(reply.ok()) << method << " " << path << ": " << (reply ? "" : reply.error().describe());
    return reply ? *reply : http::OutboundReply{};
  }
  json inspect() { return json::parse(call("GET", "/_sim/inspect").body); }

  // The IN_STOCK count of a variation at a location, read through the API.
  std::string in_stock(const std::string& variation, const std::string& location) {
    BatchRetrieveInventoryCountsRequest request;
    request.catalog_object_ids = {variation};
    request.location_ids = {location};
    auto reply =
        call("POST", "/v2/inventory/counts/batch-retrieve", build_batch_retrieve_inventory_counts(request).dump());
    EXPECT_EQ(reply.status, 200) << reply.body;
    auto page = decode_inventory_counts_response(reply.body);
    EXPECT_TRUE(page.ok()) << page.error().message;
    if (!page) return "?";
    for (const auto& c : page->counts)
      if (c.state == "IN_STOCK") return c.quantity.to_string();
    return "none";
  }

  static std::string physical_count_body(const std::string& key, const std::string& quantity) {
    PhysicalCount count;
    count.catalog_object_id = "VARTSHIRTS00000000000001";
    count.location_id = "L1STORE0000001";
    count.quantity = *Quantity::parse(quantity);
    count.occurred_at = *model::Timestamp::parse("2026-11-27T03:00:00.000Z");
    count.reference_id = "movement-1";
    count.state = "IN_STOCK";
    BatchChangeInventoryRequest request{key, {count}, std::nullopt};
    return dump_exact(*build_batch_change_inventory(request));
  }

  std::atomic<std::int64_t> now_ns_{1'000'000'000'000};
  std::unique_ptr<SquareSimulator> sim_;
  http::OutboundClient client_{http::OutboundSettings{}};
};

TEST_F(SquareSimulatorTest, IdempotencyKeyReplaysTheFirstAnswerAndRefusesOtherData) {
  start();
  const std::string path = "/v2/inventory/changes/batch-create";
  auto first = call("POST", path, physical_count_body("key-1", "53"));
  ASSERT_EQ(first.status, 200) << first.body;
  auto counts = decode_inventory_counts_response(first.body);
  ASSERT_TRUE(counts.ok()) << counts.error().message;
  ASSERT_EQ(counts->counts.size(), 1u);
  EXPECT_EQ(counts->counts[0].quantity.to_string(), "53");
  EXPECT_EQ(counts->counts[0].catalog_object_type, "ITEM_VARIATION");
  auto changes = decode_inventory_changes_response(first.body);
  ASSERT_TRUE(changes.ok()) << changes.error().message;
  ASSERT_EQ(changes->changes.size(), 1u);
  EXPECT_TRUE(std::get<PhysicalCount>(changes->changes[0]).id.has_value());

  // A count set in between; the replay must not set 53 again.
  ASSERT_EQ(
      call("PUT", "/_sim/inventory_counts",
           R"({"catalog_object_id": "VARTSHIRTS00000000000001", "location_id": "L1STORE0000001", "quantity": "7"})")
          .status,
      200);
  auto replay = call("POST", path, physical_count_body("key-1", "53"));
  ASSERT_EQ(replay.status, 200);
  EXPECT_EQ(replay.body, first.body);
  EXPECT_EQ(in_stock("VARTSHIRTS00000000000001", "L1STORE0000001"), "7");

  auto reused = call("POST", path, physical_count_body("key-1", "54"));
  EXPECT_EQ(reused.status, 400);
  auto error = json::parse(reused.body)["errors"][0];
  EXPECT_EQ(error["code"], "IDEMPOTENCY_KEY_REUSED");
  EXPECT_EQ(error["category"], "INVALID_REQUEST_ERROR");
  EXPECT_FALSE(decode_inventory_counts_response(reused.body).ok());  // the connector sees square_errors
  EXPECT_EQ(in_stock("VARTSHIRTS00000000000001", "L1STORE0000001"), "7");

  // An adjustment IN_STOCK -> WASTE takes 2.5 units; a fractional quantity stays exact.
  InventoryAdjustment waste;
  waste.catalog_object_id = "VARTSHIRTS00000000000001";
  waste.location_id = "L1STORE0000001";
  waste.quantity = *Quantity::parse("2.5");
  waste.occurred_at = *model::Timestamp::parse("2026-11-27T03:01:00Z");
  waste.from_state = "IN_STOCK";
  waste.to_state = "WASTE";
  auto adjusted = call("POST", path, dump_exact(*build_batch_change_inventory({"key-2", {waste}, std::nullopt})));
  ASSERT_EQ(adjusted.status, 200) << adjusted.body;
  auto after = decode_inventory_counts_response(adjusted.body);
  ASSERT_TRUE(after.ok());
  std::map<std::string, std::string> by_state;
  for (const auto& c : after->counts) by_state[c.state] = c.quantity.to_string();
  EXPECT_EQ(by_state["IN_STOCK"], "4.5");
  EXPECT_EQ(by_state["WASTE"], "2.5");

  // Unknown variation: 400 naming the field, nothing applied.
  auto unknown = physical_count_body("key-3", "1");
  unknown.replace(unknown.find("VARTSHIRTS00000000000001"), 24, "NOSUCHVARIATION000000000");
  auto refused = call("POST", path, unknown);
  EXPECT_EQ(refused.status, 400);
  EXPECT_EQ(json::parse(refused.body)["errors"][0]["field"], "changes[0].physical_count.catalog_object_id");

  auto seen = inspect();
  EXPECT_EQ(seen["keys"]["idempotency_key"]["key-1"], 3);
  EXPECT_EQ(seen["writes"]["inventory.batch_change"], 2);
  EXPECT_EQ(seen["requests"]["inventory.batch_change"], 5);
}

TEST_F(SquareSimulatorTest, SaleTakesStockAndSendsSignedWebhooksWithOnlyIdStateVersion) {
  WebhookReceiver receiver;
  SquareSimulatorSettings settings;
  settings.webhooks.url = receiver.url();
  start(settings);
  auto sale = call("POST", "/_sim/sales",
                   R"({"location_id": "L1STORE0000001", "line_items": [{"sku": "TS-S", "quantity": "2"},
                       {"catalog_object_id": "VARTSHIRTM00000000000001", "quantity": 1}], "tender": {"type": "CASH"}})");
  ASSERT_EQ(sale.status, 201) << sale.body;
  const std::string order_id = json::parse(sale.body)["orders"][0]["id"].get<std::string>();

  auto got = receiver.wait_for(3);
  ASSERT_EQ(got.size(), 3u);
  const connector::SecretSet keys({kKey});
  std::vector<std::string> types;
  std::set<std::string> event_ids;
  for (const auto& d : got) {
    const auto header = d.headers.find("x-square-hmacsha256-signature");
    ASSERT_NE(header, d.headers.end());
    EXPECT_EQ(connector::verify_square_webhook(receiver.url(), d.body, header->second, keys),
              connector::SignatureCheck::ok);
    EXPECT_EQ(connector::verify_square_webhook(receiver.url() + "x", d.body, header->second, keys),
              connector::SignatureCheck::bad_signature);
    // Known answer from the openssl command line over notification URL + body.
    const std::string expected = openssl_hmac_base64(kKey, receiver.url() + d.body);
    if (!expected.empty()) {
      EXPECT_EQ(header->second, expected);
    }
    auto event = decode_webhook_event(d.body);
    ASSERT_TRUE(event.ok()) << event.error().message << "\n" << d.body;
    EXPECT_EQ(event->merchant_id, "MLTESTMERCHANT");
    types.push_back(event->type);
    event_ids.insert(event->event_id);
    const json body = json::parse(d.body);
    if (event->type.starts_with("order.")) {
      const auto& change = std::get<OrderChange>(event->payload);
      EXPECT_EQ(change.order_id, order_id);
      EXPECT_EQ(event->data_id, order_id);
      const json object = body["data"]["object"][event->data_type];
      for (const auto& [name, value] : object.items())
        EXPECT_TRUE((std::set<std::string>{"order_id", "location_id", "state", "version", "created_at", "updated_at"})
                        .contains(name))
            << name;
      if (event->type == "order.created") {
        EXPECT_EQ(change.state, "OPEN");
        EXPECT_EQ(change.version, 1);
      } else {
        EXPECT_EQ(change.state, "COMPLETED");
        EXPECT_EQ(change.version, 2);
      }
    } else {
      const auto& counts = std::get<std::vector<InventoryCount>>(event->payload);
      ASSERT_EQ(counts.size(), 2u);
      std::map<std::string, std::string> quantities;
      for (const auto& c : counts) quantities[c.catalog_object_id] = c.quantity.to_string();
      EXPECT_EQ(quantities["VARTSHIRTS00000000000001"], "8");
      EXPECT_EQ(quantities["VARTSHIRTM00000000000001"], "3");
    }
  }
  EXPECT_EQ(types, (std::vector<std::string>{"order.created", "order.updated", "inventory.count.updated"}));
  EXPECT_EQ(event_ids.size(), 3u);

  // The full order comes from RetrieveOrder.
  auto order = decode_order_response(call("GET", "/v2/orders/" + order_id).body);
  ASSERT_TRUE(order.ok()) << order.error().message;
  EXPECT_EQ(order->state, "COMPLETED");
  EXPECT_EQ(order->version, 2);
  ASSERT_EQ(order->line_items.size(), 2u);
  EXPECT_EQ(order->line_items[0].catalog_object_id, "VARTSHIRTS00000000000001");
  EXPECT_EQ(order->line_items[0].quantity.to_string(), "2");
  EXPECT_EQ(order->total_money->minor(), 2 * 1999 + 2099);
  ASSERT_EQ(order->tenders.size(), 1u);
  EXPECT_EQ(order->tenders[0].type, "CASH");
  EXPECT_EQ(in_stock("VARTSHIRTS00000000000001", "L1STORE0000001"), "8");
  EXPECT_EQ(in_stock("VARTSHIRTS00000000000001", "L2WAREHOUSE001"), "100");  // another location
  EXPECT_EQ(call("GET", "/v2/orders/NOSUCHORDER").status, 404);

  // A return of one unit: refund.created (PENDING), refund.updated (COMPLETED), the restock.
  const std::string uid = json::parse(sale.body)["orders"][0]["line_items"][0]["uid"].get<std::string>();
  auto refund = call("POST", "/_sim/refunds",
                     R"({"order_id": ")" + order_id + R"(", "return_line_items": [{"source_line_item_uid": ")" + uid +
                         R"(", "quantity": "1"}]})");
  ASSERT_EQ(refund.status, 201) << refund.body;
  got = receiver.wait_for(6);
  ASSERT_EQ(got.size(), 6u);
  auto created = decode_webhook_event(got[3].body);
  auto updated = decode_webhook_event(got[4].body);
  ASSERT_TRUE(created.ok() && updated.ok());
  EXPECT_EQ(created->type, "refund.created");
  EXPECT_EQ(std::get<PaymentRefund>(created->payload).status, "PENDING");
  EXPECT_EQ(updated->type, "refund.updated");
  const auto& r = std::get<PaymentRefund>(updated->payload);
  EXPECT_EQ(r.status, "COMPLETED");
  EXPECT_EQ(r.amount_money.minor(), 1999);
  EXPECT_EQ(in_stock("VARTSHIRTS00000000000001", "L1STORE0000001"), "9");
  auto fetched = decode_refund_response(call("GET", "/v2/refunds/" + r.id).body);
  ASSERT_TRUE(fetched.ok()) << fetched.error().message;
  EXPECT_EQ(fetched->payment_id, order->tenders[0].payment_id);
  // The refund belongs to the return order, whose return points at the sale.
  auto return_order = call("GET", "/v2/orders/" + *r.order_id);
  ASSERT_EQ(return_order.status, 200);
  EXPECT_EQ(json::parse(return_order.body)["order"]["returns"][0]["source_order_id"], order_id);
  // More than sold and not yet returned: refused.
  EXPECT_EQ(call("POST", "/_sim/refunds",
                 R"({"order_id": ")" + order_id + R"(", "return_line_items": [{"source_line_item_uid": ")" + uid +
                     R"(", "quantity": "2"}]})")
                .status,
            400);
  ASSERT_TRUE(sim_->core().webhooks().wait_idle(kBound));
  EXPECT_EQ(inspect()["webhooks"]["delivered"], 6);
}

TEST_F(SquareSimulatorTest, SignatureKnownAnswerVector) {
  // Computed by hand: printf '%s' 'https://trueup.example/v1/webhooks/square-pos{"hello":"world"}' |
  //   openssl dgst -sha256 -hmac 'sim-signature-key' -binary | base64
  EXPECT_EQ(connector::sign_square("https://trueup.example/v1/webhooks/square-pos", R"({"hello":"world"})", kKey),
            "xVPEMonuQl7/9Sa/P7VEHS7cvN0sFJXOmxGA50t1fmE=");
  // The same vector from openssl at test time (the check the webhook test makes per delivery).
  const std::string from_openssl =
      openssl_hmac_base64(kKey, std::string("https://trueup.example/v1/webhooks/square-pos") + R"({"hello":"world"})");
  if (!from_openssl.empty()) {
    EXPECT_EQ(from_openssl, "xVPEMonuQl7/9Sa/P7VEHS7cvN0sFJXOmxGA50t1fmE=");
  }
}

TEST_F(SquareSimulatorTest, SearchOrdersAndCountsPaginateByCursorAndSeeEachOnce) {
  start();
  auto created =
      call("POST", "/_sim/sales",
           R"({"count": 120, "location_id": "L2WAREHOUSE001", "line_items": [{"sku": "TS-S", "quantity": 1}]})");
  ASSERT_EQ(created.status, 201) << created.body;
  SearchOrdersRequest search;
  search.location_ids = {"L2WAREHOUSE001"};
  search.start_at = *model::Timestamp::parse("2000-01-01T00:00:00Z");
  search.limit = 50;
  std::set<std::string> seen;
  int pages = 0;
  std::optional<std::string> cursor;
  do {
    search.cursor = cursor;
    auto page = call("POST", "/v2/orders/search", dump_exact(*build_search_orders(search)));
    ASSERT_EQ(page.status, 200) << page.body;
    auto decoded = decode_search_orders_response(page.body);
    ASSERT_TRUE(decoded.ok()) << decoded.error().message;
    EXPECT_LE(decoded->orders.size(), 50u);
    for (const auto& o : decoded->orders) EXPECT_TRUE(seen.insert(*o.id).second) << *o.id << " seen twice";
    cursor = decoded->cursor;
    ++pages;
  } while (cursor && pages < 10);
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(seen.size(), 120u);
  // The other location has none; updated_at in the future: none (Square answers {}).
  search.location_ids = {"L1STORE0000001"};
  search.cursor.reset();
  EXPECT_EQ(call("POST", "/v2/orders/search", dump_exact(*build_search_orders(search))).body, "{}");
  search.location_ids = {"L2WAREHOUSE001"};
  search.start_at = *model::Timestamp::parse("2200-01-01T00:00:00Z");
  EXPECT_EQ(call("POST", "/v2/orders/search", dump_exact(*build_search_orders(search))).body, "{}");
  // return_entries: OrderEntry objects.
  search.start_at.reset();
  search.return_entries = true;
  search.limit = 5;
  auto entries =
      decode_search_orders_response(call("POST", "/v2/orders/search", dump_exact(*build_search_orders(search))).body);
  ASSERT_TRUE(entries.ok());
  EXPECT_EQ(entries->order_entries.size(), 5u);
  EXPECT_TRUE(entries->orders.empty());
  // A cursor of another query is refused.
  search.return_entries = false;
  search.cursor = cursor.value_or("bm90IGEgY3Vyc29y");
  auto bad = call("POST", "/v2/orders/search", dump_exact(*build_search_orders(search)));
  EXPECT_EQ(bad.status, 400);
  // Batch retrieve: missing ids are left out.
  const std::string some_id = *seen.begin();
  auto batch = call("POST", "/v2/orders/batch-retrieve", json{{"order_ids", {some_id, "NOSUCHORDER"}}}.dump());
  ASSERT_EQ(batch.status, 200);
  EXPECT_EQ(json::parse(batch.body)["orders"].size(), 1u);

  // Counts: 3 in the seed, the 120 sales changed one; pages of 2.
  std::set<std::string> keys;
  std::optional<std::string> count_cursor;
  pages = 0;
  do {
    json body{{"limit", 2}};
    if (count_cursor) body["cursor"] = *count_cursor;
    auto page = call("POST", "/v2/inventory/counts/batch-retrieve", body.dump());
    ASSERT_EQ(page.status, 200) << page.body;
    auto decoded = decode_inventory_counts_response(page.body);
    ASSERT_TRUE(decoded.ok()) << decoded.error().message;
    for (const auto& c : decoded->counts) keys.insert(c.catalog_object_id + "@" + c.location_id + "/" + c.state);
    count_cursor = decoded->cursor;
    ++pages;
  } while (count_cursor && pages < 10);
  EXPECT_EQ(pages, 2);
  EXPECT_EQ(keys.size(), 3u);
  EXPECT_EQ(in_stock("VARTSHIRTS00000000000001", "L2WAREHOUSE001"), "-20");  // Square lets counts go negative
  // updated_after: only what changed after the instant.
  json after{{"updated_after", "2200-01-01T00:00:00Z"}};
  EXPECT_EQ(call("POST", "/v2/inventory/counts/batch-retrieve", after.dump()).body, "{}");
}

TEST_F(SquareSimulatorTest, UnauthorizedAndRateLimitedAnswersAreSquaresOwn) {
  start();
  for (const char* token : {"", "wrong"}) {
    auto refused = call("GET", "/v2/locations", "", token);
    EXPECT_EQ(refused.status, 401);
    auto e = json::parse(refused.body)["errors"][0];
    EXPECT_EQ(e["category"], "AUTHENTICATION_ERROR");
    EXPECT_EQ(e["code"], "UNAUTHORIZED");
  }
  // The bucket holds 20 and refills 10/s; the clock is frozen.
  for (int i = 0; i < 20; ++i) ASSERT_EQ(call("GET", "/v2/locations").status, 200) << i;
  auto throttled = call("GET", "/v2/locations");
  EXPECT_EQ(throttled.status, 429);
  EXPECT_EQ(json::parse(throttled.body)["errors"][0]["code"], "RATE_LIMITED");
  EXPECT_EQ(json::parse(throttled.body)["errors"][0]["category"], "RATE_LIMIT_ERROR");
  EXPECT_EQ(throttled.headers.get("Retry-After"), "");
  EXPECT_EQ(inspect()["throttled_429"], 1);
  advance(std::chrono::milliseconds(200));  // two tokens
  EXPECT_EQ(call("GET", "/v2/locations").status, 200);
  EXPECT_EQ(call("GET", "/v2/locations").status, 200);
  EXPECT_EQ(call("GET", "/v2/locations").status, 429);
  // Rate limiting off at run time.
  ASSERT_EQ(call("PUT", "/_sim/faults", R"({"rate_limit": false})").status, 200);
  auto locations = call("GET", "/v2/locations");
  ASSERT_EQ(locations.status, 200);
  EXPECT_EQ(json::parse(locations.body)["locations"].size(), 2u);
  EXPECT_EQ(inspect()["unauthorized"], 2);
}

TEST_F(SquareSimulatorTest, CatalogVariationCarriesSkuAndInjectedErrorsAreSquareShaped) {
  start();
  auto variation = call("GET", "/v2/catalog/object/VARTSHIRTM00000000000001?include_related_objects=true");
  ASSERT_EQ(variation.status, 200) << variation.body;
  const json object = json::parse(variation.body);
  EXPECT_EQ(object["object"]["type"], "ITEM_VARIATION");
  EXPECT_EQ(object["object"]["item_variation_data"]["sku"], "TS-M");
  EXPECT_EQ(object["object"]["item_variation_data"]["item_id"], "ITEMTSHIRT00000000000001");
  EXPECT_EQ(object["object"]["item_variation_data"]["price_money"]["amount"], 2099);
  EXPECT_EQ(object["related_objects"][0]["item_data"]["name"], "T-shirt");
  EXPECT_EQ(call("GET", "/v2/catalog/object/NOPE").status, 404);

  ASSERT_EQ(call("PUT", "/_sim/faults", R"({"error_share": 1, "error_status": 503})").status, 200);
  auto failed = call("GET", "/v2/locations");
  EXPECT_EQ(failed.status, 503);
  EXPECT_EQ(json::parse(failed.body)["errors"][0]["code"], "SERVICE_UNAVAILABLE");
  // A write under an injected error does nothing.
  EXPECT_EQ(call("POST", "/v2/inventory/changes/batch-create", physical_count_body("k-err", "1")).status, 503);
  ASSERT_EQ(call("PUT", "/_sim/faults", R"({"error_share": 0})").status, 200);
  EXPECT_EQ(in_stock("VARTSHIRTS00000000000001", "L1STORE0000001"), "10");
  EXPECT_EQ(inspect()["injected_5xx"], 2);
}

TEST_F(SquareSimulatorTest, DuplicateWebhooksRepeatTheEventId) {
  WebhookReceiver receiver;
  SquareSimulatorSettings settings;
  settings.webhooks.url = receiver.url();
  start(settings);
  ASSERT_EQ(call("PUT", "/_sim/faults", R"({"webhooks": {"duplicate_share": 1}})").status, 200);
  ASSERT_EQ(
      call("PUT", "/_sim/inventory_counts", R"({"sku": "TS-M", "location_id": "L2WAREHOUSE001", "quantity": "12"})")
          .status,
      200);
  auto got = receiver.wait_for(2);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].body, got[1].body);  // Square's dedupe key is the body's event_id
  auto event = decode_webhook_event(got[0].body);
  ASSERT_TRUE(event.ok());
  EXPECT_EQ(event->type, "inventory.count.updated");
  EXPECT_EQ(std::get<std::vector<InventoryCount>>(event->payload).at(0).quantity.to_string(), "12");
}

TEST_F(SquareSimulatorTest, OpenOrderCompletedLaterAndPosAppSalesWithoutOrderCreated) {
  WebhookReceiver receiver;
  SquareSimulatorSettings settings;
  settings.webhooks.url = receiver.url();
  start(settings);
  // An open ticket: order.created only, no stock taken, not closed.
  auto open = call("POST", "/_sim/sales",
                   R"({"location_id": "L1STORE0000001", "state": "OPEN", "ticket_name": "Table 4",
                       "line_items": [{"sku": "TS-M", "quantity": "1"}]})");
  ASSERT_EQ(open.status, 201) << open.body;
  const std::string id = json::parse(open.body)["orders"][0]["id"].get<std::string>();
  auto got = receiver.wait_for(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(in_stock("VARTSHIRTM00000000000001", "L1STORE0000001"), "4");
  // Closed orders only: the open one is not in a CLOSED_AT search.
  json closed_search{{"location_ids", {"L1STORE0000001"}},
                     {"query", {{"sort", {{"sort_field", "CLOSED_AT"}, {"sort_order", "ASC"}}}}}};
  EXPECT_EQ(call("POST", "/v2/orders/search", closed_search.dump()).body, "{}");

  auto completed = call("PUT", "/_sim/orders/" + id, R"({"state": "COMPLETED", "tender": {"type": "CARD"}})");
  ASSERT_EQ(completed.status, 200) << completed.body;
  got = receiver.wait_for(3);
  ASSERT_EQ(got.size(), 3u);
  auto updated = decode_webhook_event(got[1].body);
  ASSERT_TRUE(updated.ok());
  EXPECT_EQ(updated->type, "order.updated");
  EXPECT_EQ(std::get<OrderChange>(updated->payload).state, "COMPLETED");
  EXPECT_EQ(std::get<OrderChange>(updated->payload).version, 2);
  EXPECT_EQ(in_stock("VARTSHIRTM00000000000001", "L1STORE0000001"), "3");
  auto search = decode_search_orders_response(call("POST", "/v2/orders/search", closed_search.dump()).body);
  ASSERT_TRUE(search.ok());
  ASSERT_EQ(search->orders.size(), 1u);
  EXPECT_EQ(search->orders[0].tenders.at(0).type, "CARD");
  // Only an OPEN order changes state.
  EXPECT_EQ(call("PUT", "/_sim/orders/" + id, R"({"state": "CANCELED"})").status, 400);

  // The Square POS app sends no order.created: order.updated and the counts only.
  ASSERT_EQ(
      call("POST", "/_sim/sales", R"({"order_created_event": false, "line_items": [{"sku": "TS-S", "quantity": "1"}]})")
          .status,
      201);
  got = receiver.wait_for(5);
  ASSERT_EQ(got.size(), 5u);
  EXPECT_EQ(decode_webhook_event(got[3].body)->type, "order.updated");
  EXPECT_EQ(decode_webhook_event(got[4].body)->type, "inventory.count.updated");
  // COMPLETED orders, newest first (the default sort is CREATED_AT DESC).
  json completed_search{{"location_ids", {"L1STORE0000001"}},
                        {"query", {{"filter", {{"state_filter", {{"states", {"COMPLETED"}}}}}}}}};
  auto both = decode_search_orders_response(call("POST", "/v2/orders/search", completed_search.dump()).body);
  ASSERT_TRUE(both.ok());
  EXPECT_EQ(both->orders.size(), 2u);
}

TEST_F(SquareSimulatorTest, TimeoutHoldsTheAnswerButTheChangeIsApplied) {
  start();
  ASSERT_EQ(call("PUT", "/_sim/faults", R"({"timeout_share": 1, "timeout_hold_ms": 5000})").status, 200);
  http::OutboundRequest r;
  r.method = "POST";
  r.url = sim_->base_url() + "/v2/inventory/changes/batch-create";
  r.headers.add("Authorization", std::string("Bearer ") + kToken);
  r.body = physical_count_body("k-timeout", "77");
  r.timeout = std::chrono::milliseconds(200);
  auto reply = client_.send(r);
  ASSERT_FALSE(reply.ok());
  EXPECT_EQ(reply.error().code, Errc::timeout);
  ASSERT_EQ(call("PUT", "/_sim/faults", R"({"timeout_share": 0})").status, 200);
  EXPECT_EQ(in_stock("VARTSHIRTS00000000000001", "L1STORE0000001"), "77");
  // The client's retry with the same key and body gets the first answer; nothing is applied twice.
  auto retry = call("POST", "/v2/inventory/changes/batch-create", physical_count_body("k-timeout", "77"));
  ASSERT_EQ(retry.status, 200);
  EXPECT_EQ(decode_inventory_counts_response(retry.body)->counts.at(0).quantity.to_string(), "77");
  auto seen = inspect();
  EXPECT_EQ(seen["timeouts"], 1);
  EXPECT_EQ(seen["writes"]["inventory.batch_change"], 1);
  EXPECT_EQ(seen["keys"]["idempotency_key"]["k-timeout"], 2);
}

TEST_F(SquareSimulatorTest, OutOfOrderDeliveriesSwapNeighbours) {
  WebhookReceiver receiver;
  SquareSimulatorSettings settings;
  settings.webhooks.url = receiver.url();
  settings.webhooks.reorder_window = std::chrono::seconds(30);  // the next event always comes first
  start(settings);
  ASSERT_EQ(call("PUT", "/_sim/faults", R"({"webhooks": {"out_of_order": true}})").status, 200);
  const std::string count = R"({"sku": "TS-S", "location_id": "L1STORE0000001", "quantity": ")";
  ASSERT_EQ(call("PUT", "/_sim/inventory_counts", count + "1\"}").status, 200);
  ASSERT_EQ(call("PUT", "/_sim/inventory_counts", count + "2\"}").status, 200);
  auto got = receiver.wait_for(2);
  ASSERT_EQ(got.size(), 2u);
  auto first = decode_webhook_event(got[0].body);
  auto second = decode_webhook_event(got[1].body);
  ASSERT_TRUE(first.ok() && second.ok());
  // The newer count arrives first; calculated_at tells the receiver which is newer.
  EXPECT_EQ(std::get<std::vector<InventoryCount>>(first->payload).at(0).quantity.to_string(), "2");
  EXPECT_EQ(std::get<std::vector<InventoryCount>>(second->payload).at(0).quantity.to_string(), "1");
}

TEST(SquareSimulatorConfig, ReadsItsMembersAndRefusesUnknownOnes) {
  auto config = json::parse(R"({"merchant_id": "MX", "notification_url": "https://example.test/hook",
      "rate_per_second": 5, "burst": 7.5, "faults": {"error_share": 0.25},
      "webhooks": {"url": "http://127.0.0.1:1/h", "max_attempts": 3}})");
  auto s = apply_simulator_config(SquareSimulatorSettings{}, config);
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s->merchant_id, "MX");
  EXPECT_EQ(s->notification_url, "https://example.test/hook");
  EXPECT_EQ(s->rate_per_second, 5);
  EXPECT_EQ(s->burst, 7.5);
  EXPECT_EQ(s->faults.error_share, 0.25);
  EXPECT_EQ(s->webhooks.max_attempts, 3);
  auto unknown = apply_simulator_config(SquareSimulatorSettings{}, json::parse(R"({"bucket_size": 3})"));
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.error().message.find("/bucket_size"), std::string::npos);
  auto bad_fault = apply_simulator_config(SquareSimulatorSettings{}, json::parse(R"({"faults": {"error_share": 2}})"));
  ASSERT_FALSE(bad_fault.ok());
  EXPECT_NE(bad_fault.error().message.find("/faults/error_share"), std::string::npos);
}

TEST_F(SquareSimulatorTest, SeedErrorsNameThePointer) {
  SquareSimulatorSettings settings;
  settings.access_token = kToken;
  auto seed = small_seed();
  seed["items"][0]["variations"][0]["price_money"]["amount"] = "19.99";
  auto created = SquareSimulator::create(settings, seed);
  ASSERT_FALSE(created.ok());
  EXPECT_NE(created.error().message.find("/items/0/variations/0/price_money"), std::string::npos)
      << created.error().message;
  seed = small_seed();
  seed["inventory_counts"][0]["location_id"] = "NOWHERE";
  created = SquareSimulator::create(settings, seed);
  ASSERT_FALSE(created.ok());
  EXPECT_NE(created.error().message.find("/inventory_counts/0/location_id"), std::string::npos);
  seed = small_seed();
  seed["warehouses"] = json::array();
  EXPECT_FALSE(SquareSimulator::create(settings, seed).ok());
  settings.access_token.clear();
  EXPECT_FALSE(SquareSimulator::create(settings, small_seed()).ok());
}

}  // namespace
}  // namespace trueup::connectors::square
