// The registered "shopify" connector type, created from YAML like the daemon
// does, against the Shopify simulator in-process (port 0): the outbound
// set_available_batch as one GraphQL inventorySetQuantities call (its
// request, its idempotency key), userErrors that refuse only their items,
// and GraphQL's cost-based throttling.

#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/tests/memory_ids.hpp"
#include "simulator.hpp"
#include "tests/shopify_test_shop.hpp"
#include "trueup/config/schema.hpp"
#include "trueup/connector/connector.hpp"
#include "trueup/connector/operations.hpp"
#include "trueup/http/outbound.hpp"
#include "trueup/metrics/registry.hpp"

namespace trueup::connectors::shopify {
namespace {

using nlohmann::json;

constexpr const char* kToken = "shpat_connector_test";
constexpr const char* kWarehouse = "655441491";
constexpr const char* kPink = "808950810";
constexpr const char* kBig = "9223372036854775805";

class ShopifyConnectorTest : public ::testing::Test {
 protected:
  void start(ShopifySimulatorSettings settings = {}) {
    settings.access_token = kToken;
    auto created = ShopifySimulator::create(std::move(settings), small_seed());
    ASSERT_TRUE(created.ok()) << created.error().describe();
    sim = std::move(created).value();
    ASSERT_TRUE(sim->start().ok());
    ::setenv("SHOPIFY_TEST_SECRET", "test-secret", 1);
    ::setenv("SHOPIFY_TEST_TOKEN", kToken, 1);
    ids.add("inventory_item", kPink, "SKU-PINK");
    ids.add("inventory_item", kBig, "SKU-BIG");
    ids.add("inventory_item", "123456789", "SKU-GONE");  // mapped, but the shop has no such item
    ids.add("location", kWarehouse, "WH");
    const connector::ConnectorType* type = connector::find_type("shopify");
    ASSERT_NE(type, nullptr);
    std::vector<config::Key> keys{config::required("id", config::Type::string, "instance id")};
    keys.insert(keys.end(), type->settings.begin(), type->settings.end());
    auto schema = std::make_shared<const config::Schema>(
        std::vector<config::Key>{config::section_list("shopify", "shopify instances", keys)});
    const std::string yaml =
        "shopify:\n  - id: shop\n    channel: web\n    webhook_secret: ${SHOPIFY_TEST_SECRET}\n"
        "    access_token: ${SHOPIFY_TEST_TOKEN}\n    api_base_url: " +
        sim->base_url() + "\n";
    auto loaded = config::load_text(schema, yaml, "shopify-test.yaml");
    for (const auto& d : loaded.diagnostics) ADD_FAILURE() << d.format();
    ASSERT_TRUE(loaded.config);
    config_ = std::make_unique<config::Config>(std::move(*loaded.config));
    auto made = type->create("shop", config_->root().sections("shopify")[0], services);
    ASSERT_TRUE(made.ok()) << made.error().describe();
    shop = std::move(made).value();
  }
  void TearDown() override {
    if (sim) sim->stop();
  }

  static connector::OutboundCall batch(const std::vector<connector::AvailableQuantity>& items, const std::string& key,
                                       std::chrono::milliseconds within = std::chrono::seconds(30)) {
    return connector::OutboundCall{connector::kSetAvailableBatch, connector::set_available_batch_input({"WH", items}),
                                   key, std::chrono::steady_clock::now() + within};
  }
  // sku -> (result, error)
  static std::map<std::string, std::pair<connector::ItemResult, std::string>> outcomes(const json& answer) {
    auto read = connector::read_item_outcomes(answer);
    EXPECT_TRUE(read.ok()) << answer.dump();
    std::map<std::string, std::pair<connector::ItemResult, std::string>> out;
    if (read)
      for (const auto& o : *read) out[o.sku] = {o.result, o.error};
    return out;
  }
  json inspect() {
    http::OutboundRequest r;
    r.url = sim->base_url() + "/_sim/inspect";
    auto reply = http.send(r);
    EXPECT_TRUE(reply.ok());
    return reply ? json::parse(reply->body) : json();
  }
  std::map<std::string, long long> levels() {
    auto shown = shop->read_available("WH", {"SKU-PINK", "SKU-BIG"});
    EXPECT_TRUE(shown.ok()) << shown.error().describe();
    std::map<std::string, long long> out;
    if (shown)
      for (const auto& [sku, v] : *shown) out[sku] = v;
    return out;
  }
  // Spends the shop's GraphQL points as another app would.
  void spend_points(int mutations) {
    for (int i = 0; i < mutations; ++i) {
      http::OutboundRequest r;
      r.method = "POST";
      r.url = sim->base_url() + "/admin/api/2026-07/graphql.json";
      r.headers.add("X-Shopify-Access-Token", kToken);
      r.headers.add("Content-Type", "application/json");
      r.body =
          json{{"query", "mutation { inventorySetQuantities(input: $input) @idempotent(key: \"other-" +
                             std::to_string(i) + "\") { userErrors { code } } }"},
               {"variables",
                {{"input",
                  {{"name", "available"},
                   {"reason", "correction"},
                   {"quantities", json::array({{{"inventoryItemId", std::string("gid://shopify/InventoryItem/") + kBig},
                                                {"locationId", std::string("gid://shopify/Location/") + kWarehouse},
                                                {"quantity", 1},
                                                {"changeFromQuantity", nullptr}}})}}}}}}
              .dump();
      auto reply = http.send(r);
      ASSERT_TRUE(reply.ok());
      ASSERT_EQ(json::parse(reply->body).value("errors", json()).is_null(), true) << reply->body;
    }
  }

  std::unique_ptr<ShopifySimulator> sim;
  testing::MemoryIds ids{"shopify"};
  metrics::Registry registry;
  connector::ConnectorMetrics metrics{registry, "shop"};
  http::OutboundClient http{http::OutboundSettings{}};
  connector::BudgetRegistry budgets;
  connector::Services services{registry, metrics, http, budgets, ids};
  std::unique_ptr<config::Config> config_;
  std::unique_ptr<connector::Connector> shop;
};

TEST_F(ShopifyConnectorTest, BatchIsOneInventorySetQuantitiesCallKeyedStablyPerBatch) {
  start();
  ASSERT_FALSE(HasFatalFailure());
  const auto ops = shop->operations();
  ASSERT_EQ(ops.size(), 2u);
  EXPECT_EQ(ops[1].name, connector::kSetAvailableBatch);
  EXPECT_EQ(ops[1].idempotency, connector::Idempotency::target_key);

  const auto call = batch({{"SKU-PINK", 7}, {"SKU-BIG", 0}}, "avail:web:b1");
  auto answer = shop->perform(call);
  ASSERT_TRUE(answer.ok()) << answer.error().describe();
  auto got = outcomes(*answer);
  EXPECT_EQ(got["SKU-PINK"].first, connector::ItemResult::accepted);
  EXPECT_EQ(got["SKU-BIG"].first, connector::ItemResult::accepted);
  EXPECT_EQ(levels(), (std::map<std::string, long long>{{"SKU-BIG", 0}, {"SKU-PINK", 7}}));

  // The request: name available, reason correction, gids, no compare.
  json seen = inspect();
  ASSERT_EQ(seen["writes"]["inventorySetQuantities"], 1) << seen.dump();
  const json& write = seen["write_log"].back()["body"];
  const std::string key = write["idempotency_key"];
  EXPECT_EQ(key.rfind("avail:web:b1:", 0), 0u) << key;
  EXPECT_EQ(write["input"]["name"], "available");
  EXPECT_EQ(write["input"]["reason"], "correction");
  const json expected = json::array({{{"inventoryItemId", std::string("gid://shopify/InventoryItem/") + kPink},
                                      {"locationId", std::string("gid://shopify/Location/") + kWarehouse},
                                      {"quantity", 7},
                                      {"changeFromQuantity", nullptr}},
                                     {{"inventoryItemId", std::string("gid://shopify/InventoryItem/") + kBig},
                                      {"locationId", std::string("gid://shopify/Location/") + kWarehouse},
                                      {"quantity", 0},
                                      {"changeFromQuantity", nullptr}}});
  EXPECT_EQ(write["input"]["quantities"], expected);

  // The same call again (a retry): the same key, answered from Shopify's
  // record of it, applied once.
  auto again = shop->perform(call);
  ASSERT_TRUE(again.ok()) << again.error().describe();
  EXPECT_EQ(outcomes(*again)["SKU-PINK"].first, connector::ItemResult::accepted);
  seen = inspect();
  EXPECT_EQ(seen["writes"]["inventorySetQuantities"], 1);
  EXPECT_EQ(seen["keys"]["idempotency_key"][key], 2);
  // Another batch (another key) is applied.
  auto next = shop->perform(batch({{"SKU-PINK", 6}}, "avail:web:b2"));
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(inspect()["writes"]["inventorySetQuantities"], 2);
  EXPECT_EQ(levels()["SKU-PINK"], 6);

  // Input the operation cannot take is refused before any call.
  auto twice = shop->perform(batch({{"SKU-PINK", 1}, {"SKU-PINK", 2}}, "avail:web:b3"));
  ASSERT_FALSE(twice.ok());
  EXPECT_EQ(twice.error().code, Errc::invalid_argument);
  EXPECT_EQ(inspect()["requests"].value("graphql", 0), 3);
}

TEST_F(ShopifyConnectorTest, UserErrorsAndUnmappedSkusRefuseOnlyTheirItems) {
  start();
  ASSERT_FALSE(HasFatalFailure());
  auto answer = shop->perform(
      batch({{"SKU-PINK", 3}, {"SKU-GONE", 1}, {"SKU-UNMAPPED", 2}, {"SKU-BIG", 4}}, "avail:web:partial"));
  ASSERT_TRUE(answer.ok()) << answer.error().describe();
  auto got = outcomes(*answer);
  EXPECT_EQ(got["SKU-PINK"].first, connector::ItemResult::accepted);
  EXPECT_EQ(got["SKU-BIG"].first, connector::ItemResult::accepted);
  EXPECT_EQ(got["SKU-GONE"].first, connector::ItemResult::refused);
  EXPECT_NE(got["SKU-GONE"].second.find("INVALID_INVENTORY_ITEM"), std::string::npos) << got["SKU-GONE"].second;
  EXPECT_EQ(got["SKU-UNMAPPED"].first, connector::ItemResult::refused);
  EXPECT_NE(got["SKU-UNMAPPED"].second.find("SKU-UNMAPPED"), std::string::npos) << got["SKU-UNMAPPED"].second;
  EXPECT_EQ(levels(), (std::map<std::string, long long>{{"SKU-BIG", 4}, {"SKU-PINK", 3}}));
  // The refused call applied nothing; the second, without the item, did.
  const json seen = inspect();
  EXPECT_EQ(seen["writes"]["inventorySetQuantities"], 1);
  EXPECT_EQ(seen["write_log"].back()["body"]["input"]["quantities"].size(), 2u);
  EXPECT_EQ(seen["keys"]["idempotency_key"].size(), 2u) << "the smaller call has its own key";

  // Every item unmapped: nothing is sent, each is refused.
  auto none = shop->perform(batch({{"SKU-UNMAPPED", 1}}, "avail:web:none"));
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(outcomes(*none)["SKU-UNMAPPED"].first, connector::ItemResult::refused);
  EXPECT_EQ(inspect()["requests"].value("graphql", 0), 2);
}

TEST_F(ShopifyConnectorTest, ThrottledCallWaitsForThePointsAndIsSentAgain) {
  ShopifySimulatorSettings settings;
  settings.graphql_bucket_size = 20;
  settings.graphql_restore_rate = 40;  // 10 points back in 250 ms
  settings.graphql_mutation_cost = 10;
  start(settings);
  ASSERT_FALSE(HasFatalFailure());
  spend_points(2);  // another app took every point
  ASSERT_FALSE(HasFatalFailure());
  auto answer = shop->perform(batch({{"SKU-PINK", 5}}, "avail:web:throttled"));
  ASSERT_TRUE(answer.ok()) << answer.error().describe();
  EXPECT_EQ(outcomes(*answer)["SKU-PINK"].first, connector::ItemResult::accepted);
  const json seen = inspect();
  EXPECT_GE(seen["throttled_429"].get<int>(), 1) << seen.dump();
  EXPECT_EQ(seen["writes"]["inventorySetQuantities"], 3);
  EXPECT_EQ(levels()["SKU-PINK"], 5);
  // The budget learned the shop's capacity from throttleStatus.
  auto* budget = budgets.find("shopify-graphql:shop");
  ASSERT_NE(budget, nullptr);
  EXPECT_EQ(budget->snapshot(std::chrono::steady_clock::now()).capacity, 20);
}

TEST_F(ShopifyConnectorTest, ThrottledPastTheDeadlineIsARetryableTimeout) {
  ShopifySimulatorSettings settings;
  settings.graphql_bucket_size = 10;
  settings.graphql_restore_rate = 0.01;  // a point every 100 s
  settings.graphql_mutation_cost = 10;
  start(settings);
  ASSERT_FALSE(HasFatalFailure());
  spend_points(1);
  ASSERT_FALSE(HasFatalFailure());
  auto answer = shop->perform(batch({{"SKU-PINK", 5}}, "avail:web:late", std::chrono::seconds(5)));
  ASSERT_FALSE(answer.ok());
  EXPECT_TRUE(answer.error().retryable()) << answer.error().describe();
  EXPECT_EQ(inspect()["writes"]["inventorySetQuantities"], 1) << "only the other app's";
}

}  // namespace
}  // namespace trueup::connectors::shopify
