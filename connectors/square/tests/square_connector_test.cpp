// The registered "square" connector type, created from YAML like the daemon
// does, against an in-test Square API on port 0 (orders, catalog, locations,
// order search, counts, batch-create with Square's idempotency rules):
// order.* events fetched and mapped, unknown variations learned from the
// catalog, polling of every page with stable dedupe keys, and the outbound
// set_count / adjust calls under retries.

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/exact_json.hpp"
#include "common/tests/fixture_files.hpp"
#include "common/tests/memory_ids.hpp"
#include "support/loopback_server.hpp"
#include "trueup/config/schema.hpp"
#include "trueup/connector/connector.hpp"
#include "trueup/connector/signature.hpp"
#include "trueup/http/outbound.hpp"
#include "trueup/http/server.hpp"
#include "trueup/metrics/registry.hpp"
#include "trueup/model/timestamp.hpp"

namespace trueup::connectors::square {
namespace {

using nlohmann::json;

constexpr const char* kSignatureKey = "test-signature-key";
constexpr const char* kToken = "test-access-token";

model::Timestamp at(const std::string& text) { return *model::Timestamp::parse(text); }

// The parts of Square the connector calls, with Square's idempotency rules
// for batch-create: the same key and body answer the first answer again; the
// same key with another body is 400 IDEMPOTENCY_KEY_REUSED.
class FakeSquare {
 public:
  FakeSquare() {
    router_.add_sync("GET", "/v2/orders/{id}", [this](const http::Request& r) {
      std::lock_guard lock(mu_);
      seen(r);
      auto it = orders.find(r.params.at("id"));
      if (it == orders.end()) return error(404, "NOT_FOUND", "order not found");
      return http::Response::json(200, dump_exact(json{{"order", it->second}}));
    });
    router_.add_sync("GET", "/v2/catalog/object/{id}", [this](const http::Request& r) {
      std::lock_guard lock(mu_);
      seen(r);
      ++catalog_calls;
      auto it = catalog.find(r.params.at("id"));
      if (it == catalog.end()) return error(404, "NOT_FOUND", "no such object");
      return http::Response::json(200, json{{"object", it->second}}.dump());
    });
    router_.add_sync("GET", "/v2/locations", [this](const http::Request& r) {
      std::lock_guard lock(mu_);
      seen(r);
      ++location_calls;
      json out = json::array();
      for (const auto& id : locations) out.push_back({{"id", id}, {"status", "ACTIVE"}});
      return http::Response::json(200, json{{"locations", out}}.dump());
    });
    router_.add_sync("POST", "/v2/orders/search", [this](const http::Request& r) {
      std::lock_guard lock(mu_);
      seen(r);
      const json body = json::parse(r.body);
      search_requests.push_back(body);
      const auto from = at(body["query"]["filter"]["date_time_filter"]["updated_at"]["start_at"]);
      std::vector<json> hits;
      for (const auto& [id, o] : orders) {
        const auto& ids = body["location_ids"];
        if (std::find(ids.begin(), ids.end(), o["location_id"]) == ids.end()) continue;
        if (at(o["updated_at"]).compare_instant(from) >= 0) hits.push_back(o);
      }
      std::sort(hits.begin(), hits.end(), [](const json& a, const json& b) {
        return at(a["updated_at"]).compare_instant(at(b["updated_at"])) < 0;
      });
      return page("orders", hits, body);
    });
    router_.add_sync("POST", "/v2/inventory/counts/batch-retrieve", [this](const http::Request& r) {
      std::lock_guard lock(mu_);
      seen(r);
      const json body = json::parse(r.body);
      count_requests.push_back(body);
      std::vector<json> hits;
      for (const auto& c : counts) {
        if (body.contains("updated_after") && at(c["calculated_at"]).compare_instant(at(body["updated_after"])) <= 0)
          continue;
        if (body.contains("catalog_object_ids") && body["catalog_object_ids"][0] != c["catalog_object_id"]) continue;
        hits.push_back(c);
      }
      return page("counts", hits, body);
    });
    router_.add_sync("POST", "/v2/inventory/changes/batch-create", [this](const http::Request& r) {
      std::lock_guard lock(mu_);
      seen(r);
      const json body = json::parse(r.body);
      change_requests.push_back(body);
      if (reject_changes) return error(400, "INVALID_VALUE", "occurred_at is too old", "changes[0].occurred_at");
      const std::string key = body["idempotency_key"];
      auto done = answers_.find(key);
      if (done != answers_.end()) {
        if (done->second.first != r.body)
          return error(400, "IDEMPOTENCY_KEY_REUSED", "the key was used with other parameters");
      } else {
        answers_[key] = {r.body, apply(body["changes"])};
        ++applied[key];
      }
      if (lose_next_change_answers > 0) {  // taken, but the answer is lost
        --lose_next_change_answers;
        return http::Response::json(503, R"({"errors":[{"category":"API_ERROR","code":"SERVICE_UNAVAILABLE"}]})");
      }
      return http::Response::json(200, answers_[key].second);
    });
    server_.start(router_);
  }

  std::string url() const { return server_.url(); }

  std::mutex mu_;
  std::map<std::string, json> orders;
  std::map<std::string, json> catalog;
  std::vector<std::string> locations;
  std::vector<json> counts;
  std::vector<json> search_requests, count_requests, change_requests;
  std::map<std::string, int> applied;                     // batch-create bodies taken, per idempotency key
  std::map<std::string, std::string> stock;               // "<variation>@<location>" -> IN_STOCK quantity
  std::vector<std::pair<std::string, std::string>> auth;  // Authorization, Square-Version of every call
  int catalog_calls = 0, location_calls = 0, lose_next_change_answers = 0;
  bool reject_changes = false;

 private:
  void seen(const http::Request& r) {
    const std::string* a = r.header("authorization");
    const std::string* v = r.header("square-version");
    auth.emplace_back(a != nullptr ? *a : "", v != nullptr ? *v : "");
  }

  static http::Response error(int status, const char* code, const char* detail, const char* field = nullptr) {
    json e = {{"category", "INVALID_REQUEST_ERROR"}, {"code", code}, {"detail", detail}};
    if (field != nullptr) e["field"] = field;
    return http::Response::json(status, json{{"errors", json::array({e})}}.dump());
  }

  // One item a page: the cursor is the index of the next.
  static http::Response page(const char* key, const std::vector<json>& hits, const json& body) {
    const std::size_t from = body.contains("cursor") ? std::stoul(body["cursor"].get<std::string>()) : 0;
    json out = {{key, json::array()}};
    if (from < hits.size()) out[key].push_back(hits[from]);
    if (from + 1 < hits.size()) out["cursor"] = std::to_string(from + 1);
    return http::Response::json(200, dump_exact(out));
  }

  std::string apply(const json& changes) {
    json out = json::array();
    for (const auto& change : changes) {
      const bool count = change["type"] == "PHYSICAL_COUNT";
      const json& c = count ? change["physical_count"] : change["adjustment"];
      const std::string where = c["catalog_object_id"].get<std::string>() + "@" + c["location_id"].get<std::string>();
      const Quantity q = *Quantity::parse(c["quantity"].get<std::string>());
      Quantity now = stock.count(where) ? *Quantity::parse(stock[where]) : Quantity{};
      if (count)
        now = q;
      else if (c["to_state"] == "IN_STOCK")
        now = Quantity::from_scaled(now.scaled() + q.scaled());
      else if (c["from_state"] == "IN_STOCK")
        now = Quantity::from_scaled(now.scaled() - q.scaled());
      stock[where] = now.to_string();
      out.push_back({{"catalog_object_id", c["catalog_object_id"]},
                     {"catalog_object_type", "ITEM_VARIATION"},
                     {"location_id", c["location_id"]},
                     {"state", "IN_STOCK"},
                     {"quantity", stock[where]},
                     {"calculated_at", "2026-01-01T00:00:00.000Z"}});
    }
    return json{{"counts", out}}.dump();
  }

  std::map<std::string, std::pair<std::string, std::string>> answers_;  // key -> (request body, answer)
  http::Router router_;
  trueup::testing::LoopbackServer server_;  // last: drains before what the handlers use goes
};

json fixture_event(const std::string& name) {
  return (*parse_exact(testing::read_fixture("square/webhook-event-examples.extracted.json")))["events"][name];
}

// CreateOrder's example order: a custom line "New York Strip Steak" x1 and
// catalog line BEMYCSMIJL46OCDV4KYIKXIB x2 at location 057P5VYJ4A5X1.
json example_order(const std::string& id, const std::string& state, const std::string& updated_at, int version) {
  auto doc = parse_exact(testing::read_fixture("square/operation-examples.extracted.json"));
  json order = (*doc)["operations"]["CreateOrder"]["response_example"]["order"];
  order["id"] = id;
  order["state"] = state;
  order["updated_at"] = updated_at;
  order["version"] = version;
  return order;
}

class SquareConnectorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ::setenv("SQUARE_TEST_SIGNATURE_KEY", kSignatureKey, 1);
    ::setenv("SQUARE_TEST_TOKEN", kToken, 1);
    ids.add("custom_item", "New York Strip Steak", "SKU-STRIP");
    ids.add("location", "057P5VYJ4A5X1", "STORE-01");
    ids.add("location", "LOC2", "STORE-02");
    square.catalog["BEMYCSMIJL46OCDV4KYIKXIB"] = {
        {"type", "ITEM_VARIATION"},
        {"id", "BEMYCSMIJL46OCDV4KYIKXIB"},
        {"item_variation_data", {{"item_id", "ITEM1"}, {"name", "New York Steak"}, {"sku", "SKU-NY-STEAK"}}}};
    square.catalog["ITEM1"] = {{"type", "ITEM"}, {"id", "ITEM1"}};
    connector = make("");
    ASSERT_NE(connector, nullptr);
  }

  std::unique_ptr<connector::Connector> make(const std::string& extra_yaml) {
    const connector::ConnectorType* type = connector::find_type("square");
    EXPECT_NE(type, nullptr);
    if (type == nullptr) return nullptr;
    std::vector<config::Key> keys{config::required("id", config::Type::string, "instance id")};
    keys.insert(keys.end(), type->settings.begin(), type->settings.end());
    auto schema = std::make_shared<const config::Schema>(
        std::vector<config::Key>{config::section_list("square", "square instances", keys)});
    const std::string yaml =
        "square:\n  - id: pos\n    channel: pos\n    signature_key: ${SQUARE_TEST_SIGNATURE_KEY}\n"
        "    access_token: ${SQUARE_TEST_TOKEN}\n    api_base_url: " +
        square.url() + "\n" + extra_yaml;
    auto loaded = config::load_text(schema, yaml, "square-test.yaml");
    for (const auto& d : loaded.diagnostics) ADD_FAILURE() << d.format();
    if (!loaded.config) return nullptr;
    configs.push_back(std::make_unique<config::Config>(std::move(*loaded.config)));
    auto made = type->create("pos", configs.back()->root().sections("square")[0], services);
    EXPECT_TRUE(made.ok()) << made.error().describe();
    return made ? std::move(made).value() : nullptr;
  }

  connector::Inbound signed_webhook(const json& event) {
    const std::string body = event.dump();
    const std::string url = "https://trueup.example.com/v1/webhooks/pos";
    const std::string signature = connector::sign_square(url, body, kSignatureKey);
    connector::WebhookRequest request{body,
                                      [&](std::string_view name) -> std::optional<std::string_view> {
                                        if (name == connector::kSquareSignatureHeader) return signature;
                                        return std::nullopt;
                                      },
                                      url};
    auto receipt = connector->receive_webhook(request);
    EXPECT_TRUE(receipt.ok()) << receipt.error().describe();
    EXPECT_EQ(receipt->messages.size(), 1u);
    return receipt->messages.at(0);
  }

  connector::OutboundCall call(const std::string& operation, json input, const std::string& key) {
    return connector::OutboundCall{operation, std::move(input), key,
                                   std::chrono::steady_clock::now() + std::chrono::seconds(30)};
  }

  FakeSquare square;
  testing::MemoryIds ids{"square"};
  metrics::Registry registry;
  connector::ConnectorMetrics metrics{registry, "pos"};
  http::OutboundClient http{http::OutboundSettings{}};
  connector::BudgetRegistry budgets;
  connector::Services services{registry, metrics, http, budgets, ids};
  std::vector<std::unique_ptr<config::Config>> configs;
  std::unique_ptr<connector::Connector> connector;
};

TEST_F(SquareConnectorTest, OrderEventIsFetchedAndItsUnknownVariationLearned) {
  const json event = fixture_event("OrderUpdatedEvent");
  const std::string order_id = event["data"]["object"]["order_updated"]["order_id"];
  json order = example_order(order_id, "COMPLETED", "2026-01-02T10:00:00Z", 3);
  order["closed_at"] = "2026-01-02T10:00:00Z";
  square.orders[order_id] = order;

  const auto message = signed_webhook(event);
  EXPECT_EQ(message.topic, "order.updated");
  auto completed = connector->complete(message);
  ASSERT_TRUE(completed.ok()) << completed.error().describe();
  EXPECT_EQ(completed->topic, "order.fetched");
  EXPECT_EQ(completed->dedupe_key, event["event_id"]);
  EXPECT_EQ(ids.learned, std::vector<std::string>{"item_variation/BEMYCSMIJL46OCDV4KYIKXIB=SKU-NY-STEAK"});
  EXPECT_EQ(square.catalog_calls, 1);
  for (const auto& [authorization, version] : square.auth) {
    EXPECT_EQ(authorization, std::string("Bearer ") + kToken);
    EXPECT_EQ(version, "2025-08-20");
  }

  auto mapped = connector->map(*completed, ids);
  ASSERT_TRUE(mapped.ok()) << mapped.error().message;
  ASSERT_EQ(mapped->movements.size(), 2u);
  EXPECT_EQ(mapped->movements[0].sku, "SKU-STRIP");
  EXPECT_EQ(mapped->movements[0].quantity_delta->to_string(), "-1");
  EXPECT_EQ(mapped->movements[1].sku, "SKU-NY-STEAK");
  EXPECT_EQ(mapped->movements[1].quantity_delta->to_string(), "-2");
  EXPECT_EQ(mapped->movements[1].movement_id, "square:order:" + order_id + ":v8ZuEXpOJpb0bazLuvrLDB");
  ASSERT_EQ(mapped->orders.size(), 1u);
  EXPECT_EQ(mapped->orders[0].id, "pos:" + order_id);
  EXPECT_EQ(mapped->orders[0].status, model::OrderStatus::closed);

  // The completed message completes to itself; the variation is known now.
  auto again = connector->complete(*completed);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->payload, completed->payload);
  EXPECT_EQ(square.catalog_calls, 1);
}

TEST_F(SquareConnectorTest, OpenOrdersGiveTheOrderOnlyAndUnknownIdsPark) {
  const json event = fixture_event("OrderCreatedEvent");
  const std::string order_id = event["data"]["object"]["order_created"]["order_id"];
  json order = example_order(order_id, "OPEN", "2026-01-02T10:00:00Z", 1);
  square.orders[order_id] = order;
  auto completed = connector->complete(signed_webhook(event));
  ASSERT_TRUE(completed.ok()) << completed.error().describe();
  auto open = connector->map(*completed, ids);
  ASSERT_TRUE(open.ok()) << open.error().message;
  EXPECT_TRUE(open->movements.empty());
  EXPECT_EQ(open->orders.size(), 1u);

  // A variation Square does not have and a location nobody mapped: nothing
  // is guessed, the message parks listing both.
  order["state"] = "COMPLETED";
  order["location_id"] = "UNMAPPED-LOCATION";
  order["line_items"][1]["catalog_object_id"] = "GONE";
  square.orders[order_id] = order;
  completed = connector->complete(signed_webhook(event));
  ASSERT_TRUE(completed.ok()) << completed.error().describe();
  auto parked = connector->map(*completed, ids);
  ASSERT_FALSE(parked.ok());
  EXPECT_EQ(parked.error().kind, MappingErrorKind::unmapped_sku);
  std::vector<std::string> unmapped;
  for (const auto& u : parked.error().unmapped) unmapped.push_back(u.entity + "/" + u.external_id);
  EXPECT_EQ(unmapped, (std::vector<std::string>{"item_variation/GONE", "location/UNMAPPED-LOCATION"}));
  EXPECT_EQ(ids.learned.size(), 1u);  // BEMYCSMIJL46OCDV4KYIKXIB, from the open order; GONE is not learned

  // An order Square does not know fails the step (not retryable).
  square.orders.clear();
  auto missing = connector->complete(signed_webhook(event));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, Errc::not_found);
}

TEST_F(SquareConnectorTest, PollingReadsEveryPageWithStableKeys) {
  auto polling = make("    poll_interval: 30s\n");
  ASSERT_NE(polling, nullptr);
  EXPECT_EQ(polling->poll_interval(), std::chrono::seconds(30));
  square.locations = {"057P5VYJ4A5X1", "LOC2"};
  const auto recent = [](int minutes) {
    return model::Timestamp::from_system(std::chrono::system_clock::now() - std::chrono::minutes(minutes))
        .to_utc_string();
  };
  square.orders["A"] = example_order("A", "COMPLETED", recent(30), 4);
  square.orders["B"] = example_order("B", "OPEN", recent(20), 1);
  square.orders["C"] = example_order("C", "COMPLETED", recent(10), 2);
  square.orders["C"]["location_id"] = "LOC2";
  square.orders["OLD"] = example_order("OLD", "COMPLETED", recent(60 * 48), 9);
  square.counts = {{{"catalog_object_id", "BEMYCSMIJL46OCDV4KYIKXIB"},
                    {"location_id", "057P5VYJ4A5X1"},
                    {"state", "IN_STOCK"},
                    {"quantity", "7"},
                    {"calculated_at", recent(15)}},
                   {{"catalog_object_id", "BEMYCSMIJL46OCDV4KYIKXIB"},
                    {"location_id", "057P5VYJ4A5X1"},
                    {"state", "SOLD"},
                    {"quantity", "3"},
                    {"calculated_at", recent(5)}}};

  auto first = polling->poll("");
  ASSERT_TRUE(first.ok()) << first.error().describe();
  std::vector<std::string> keys;
  for (const auto& m : first->messages) keys.push_back(m.topic + " " + m.dedupe_key);
  const std::string count_key = "inventory.count.fetched count:BEMYCSMIJL46OCDV4KYIKXIB:057P5VYJ4A5X1:" +
                                at(square.counts[0]["calculated_at"]).to_utc_string();
  EXPECT_EQ(keys, (std::vector<std::string>{"order.fetched order:A@v4", "order.fetched order:B@v1",
                                            "order.fetched order:C@v2", count_key}));
  EXPECT_EQ(square.search_requests.size(), 3u);  // one order a page
  EXPECT_EQ(square.search_requests[0]["query"]["sort"]["sort_field"], "UPDATED_AT");
  EXPECT_EQ(square.search_requests[0]["query"]["sort"]["sort_order"], "ASC");
  const json cursor = json::parse(first->cursor);
  EXPECT_EQ(at(cursor["orders"]).utc(), at(square.orders["C"]["updated_at"]).utc());
  EXPECT_EQ(at(cursor["counts"]).utc(), at(square.counts[1]["calculated_at"]).utc());

  // A polled order maps like a fetched one (its variation learned first).
  auto completed = polling->complete(first->messages[2]);
  ASSERT_TRUE(completed.ok());
  auto mapped = polling->map(*completed, ids);
  ASSERT_TRUE(mapped.ok()) << mapped.error().message;
  EXPECT_EQ(mapped->movements.size(), 2u);
  EXPECT_EQ(mapped->movements[0].location, "STORE-02");
  auto count = polling->map(first->messages[3], ids);
  ASSERT_TRUE(count.ok()) << count.error().message;
  ASSERT_EQ(count->movements.size(), 1u);
  EXPECT_EQ(count->movements[0].counted_quantity->to_string(), "7");

  // The next poll starts at the cursor minus the overlap (2 minutes) and asks
  // for the locations no more.
  square.search_requests.clear();
  auto second = polling->poll(first->cursor);
  ASSERT_TRUE(second.ok()) << second.error().describe();
  ASSERT_FALSE(square.search_requests.empty());
  const auto start = at(square.search_requests[0]["query"]["filter"]["date_time_filter"]["updated_at"]["start_at"]);
  EXPECT_EQ(at(cursor["orders"]).utc() - start.utc(), std::chrono::minutes(2));
  EXPECT_EQ(square.location_calls, 1);
  ASSERT_EQ(second->messages.size(), 1u);  // C again (inside the overlap): the inbox dedupes it
  EXPECT_EQ(second->messages[0].dedupe_key, "order:C@v2");
}

TEST_F(SquareConnectorTest, SetCountIsOnePhysicalCountUnderTheCallsKeyEvenWhenTheAnswerIsLost) {
  ids.add("item_variation", "BEMYCSMIJL46OCDV4KYIKXIB", "SKU-NY-STEAK");
  ASSERT_EQ(connector->operations().size(), 2u);
  square.lose_next_change_answers = 1;
  auto done = connector->perform(
      call("set_count", {{"sku", "SKU-NY-STEAK"}, {"location", "STORE-01"}, {"quantity", 7}}, "wf-1:perform"));
  ASSERT_TRUE(done.ok()) << done.error().describe();
  ASSERT_EQ(square.change_requests.size(), 2u);  // the 503 retried with the same body
  EXPECT_EQ(square.change_requests[0], square.change_requests[1]);
  EXPECT_EQ(square.applied["wf-1:perform"], 1);
  const json& change = square.change_requests[0]["changes"][0];
  EXPECT_EQ(square.change_requests[0]["idempotency_key"], "wf-1:perform");
  EXPECT_EQ(change["type"], "PHYSICAL_COUNT");
  EXPECT_EQ(change["physical_count"]["catalog_object_id"], "BEMYCSMIJL46OCDV4KYIKXIB");
  EXPECT_EQ(change["physical_count"]["location_id"], "057P5VYJ4A5X1");
  EXPECT_EQ(change["physical_count"]["state"], "IN_STOCK");
  EXPECT_EQ(change["physical_count"]["quantity"], "7");
  EXPECT_EQ((*done)["counts"][0]["quantity"], "7");

  // An unmapped SKU names what to map and sends nothing.
  auto unmapped = connector->perform(
      call("set_count", {{"sku", "SKU-NOPE"}, {"location", "STORE-01"}, {"quantity", "1.5"}}, "wf-2:perform"));
  ASSERT_FALSE(unmapped.ok());
  EXPECT_EQ(unmapped.error().code, Errc::not_found);
  EXPECT_NE(unmapped.error().message.find("item_variation"), std::string::npos);
  EXPECT_NE(unmapped.error().message.find("SKU-NOPE"), std::string::npos);
  auto bad = connector->perform(call("set_count", {{"sku", "SKU-NY-STEAK"}, {"location", "STORE-01"}}, "wf-3:p"));
  EXPECT_EQ(bad.error().code, Errc::invalid_argument);
  EXPECT_EQ(square.change_requests.size(), 2u);
}

TEST_F(SquareConnectorTest, AdjustChoosesTheStatesAndReportsSquareErrors) {
  ids.add("item_variation", "BEMYCSMIJL46OCDV4KYIKXIB", "SKU-NY-STEAK");
  const std::string occurred =
      model::Timestamp::from_system(std::chrono::system_clock::now() - std::chrono::hours(1)).to_utc_string();
  json sale = {{"movement_id", "pos-sale-1"}, {"kind", "sale"},          {"sku", "SKU-NY-STEAK"},
               {"location", "STORE-01"},      {"quantity_delta", "-2"},  {"occurred_at", occurred},
               {"source_system", "trueup"},   {"source_reference", "r1"}};
  auto done = connector->perform(call("adjust", sale, "wf-10:perform"));
  ASSERT_TRUE(done.ok()) << done.error().describe();
  const json& adjustment = square.change_requests.back()["changes"][0]["adjustment"];
  EXPECT_EQ(adjustment["from_state"], "IN_STOCK");
  EXPECT_EQ(adjustment["to_state"], "SOLD");
  EXPECT_EQ(adjustment["quantity"], "2");
  EXPECT_EQ(adjustment["reference_id"], "pos-sale-1");
  EXPECT_EQ(at(adjustment["occurred_at"]).utc(), at(occurred).utc());

  // The same key with other values (a retry with another occurred_at): Square
  // says IDEMPOTENCY_KEY_REUSED, the first was taken, the count is read back.
  square.counts = {{{"catalog_object_id", "BEMYCSMIJL46OCDV4KYIKXIB"},
                    {"location_id", "057P5VYJ4A5X1"},
                    {"state", "IN_STOCK"},
                    {"quantity", "-2"},
                    {"calculated_at", "2026-01-01T00:00:00Z"}}};
  sale["occurred_at"] =
      model::Timestamp::from_system(std::chrono::system_clock::now() - std::chrono::minutes(5)).to_utc_string();
  auto repeated = connector->perform(call("adjust", sale, "wf-10:perform"));
  ASSERT_TRUE(repeated.ok()) << repeated.error().describe();
  EXPECT_EQ((*repeated)["already_applied"], true);
  EXPECT_EQ((*repeated)["counts"][0]["quantity"], "-2");
  EXPECT_EQ(square.applied["wf-10:perform"], 1);

  // A movement older than Square's 24 hours is sent at the current time.
  json receipt = sale;
  receipt["movement_id"] = "pos-receipt-1";
  receipt["kind"] = "receipt";
  receipt["quantity_delta"] = "3";
  receipt["occurred_at"] = "2020-01-01T00:00:00Z";
  ASSERT_TRUE(connector->perform(call("adjust", receipt, "wf-11:perform")).ok());
  const json& up = square.change_requests.back()["changes"][0]["adjustment"];
  EXPECT_EQ(up["from_state"], "NONE");
  EXPECT_EQ(up["to_state"], "IN_STOCK");
  EXPECT_TRUE(at(up["occurred_at"]).compare_instant(at("2026-01-01T00:00:00Z")) > 0);

  // Square's 4xx is permanent and its code, detail and field are in the message.
  square.reject_changes = true;
  auto rejected = connector->perform(call("adjust", sale, "wf-12:perform"));
  ASSERT_FALSE(rejected.ok());
  EXPECT_FALSE(rejected.error().retryable());
  EXPECT_NE(rejected.error().message.find("INVALID_VALUE: occurred_at is too old (field changes[0].occurred_at)"),
            std::string::npos)
      << rejected.error().message;
  auto not_movement = connector->perform(call("adjust", {{"sku", "x"}}, "wf-13:perform"));
  EXPECT_EQ(not_movement.error().code, Errc::invalid_argument);
}

}  // namespace
}  // namespace trueup::connectors::square
