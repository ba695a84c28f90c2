// Availability through the real binary on PostgreSQL and Kafka: movements
// accepted by the system API change stock; the availability service
// computes the channel's quantity (safety stock, share) and pushes it to the
// Shopify simulator through the connector's set_available; a restart pushes
// nothing that the channel already shows.
#include <gtest/gtest.h>

#include <signal.h>

#include <nlohmann/json.hpp>

#include "support/daemon.hpp"
#include "support/http_client.hpp"
#include "support/process.hpp"
#include "support/test_env.hpp"

namespace trueup::testing {
namespace {

using nlohmann::json;

constexpr const char* kToken = "shpat_e2e_token";

// The shop's `available` for an inventory item at a location, read as text
// (ids beyond 2^53 stay exact); -1 when the level is not there.
long long shop_level(HttpClient& shop, const std::string& item, const std::string& location) {
  auto r = shop.request("GET", "/admin/api/2026-07/inventory_levels.json?inventory_item_ids=" + item, "",
                        {{"X-Shopify-Access-Token", kToken}});
  if (!r || r->status != 200) return -2;
  const std::string& text = r->body;
  const auto at = text.find("\"location_id\":" + location);
  if (at == std::string::npos) return -1;
  const auto start = text.rfind('{', at), end = text.find('}', at);
  const std::string level = text.substr(start, end - start);
  const auto a = level.find("\"available\":");
  if (a == std::string::npos) return -1;
  return std::stoll(level.substr(a + 12));
}

// The channel accepted `expected` (the service records what the shop took),
// and the shop shows it. Waiting reads the database, not the shop: the
// test's own calls would share the shop's 2-per-second bucket.
bool pushed(const std::string& pg, HttpClient& shop, const std::string& channel, const std::string& sku,
            const std::string& item, long long expected) {
  if (!eventually(
          pg, "SELECT available FROM availability_published WHERE channel = '" + channel + "' AND sku = '" + sku + "'",
          std::to_string(expected), std::chrono::seconds(60)))
    return false;
  const long long shown = shop_level(shop, item, "655441491");
  EXPECT_EQ(shown, expected) << sku;
  return shown == expected;
}

std::string movement(const std::string& id, const std::string& kind, const std::string& sku, const std::string& qty) {
  return json{{"movement_id", id},      {"kind", kind},          {"sku", sku},
              {"location", "WH"},       {"quantity_delta", qty}, {"occurred_at", "2026-11-26T10:00:00+01:00"},
              {"source_system", "wms"}, {"source_reference", id}}
      .dump();
}

TEST(AvailabilityE2E, StockChangesArePushedToTheChannelOnceWithRulesApplied) {
  const std::string pg = require_pg_url(), kafka = require_kafka();
  ASSERT_FALSE(pg.empty() || kafka.empty());
  const std::uint16_t sim_port = free_port();
  auto sim = start_simulator("shopify", sim_port, {"--seed", source_dir() + "/config/examples/shopify-sim-seed.json"},
                             {{"SHOPIFY_ACCESS_TOKEN", kToken}});
  ASSERT_FALSE(HasFatalFailure());
  HttpClient shop("127.0.0.1", sim_port);

  std::string run = unique_name("av");
  for (auto& ch : run)
    if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9'))) ch = '-';
  const std::string sku = run + "-PINK", hot_sku = run + "-RED", channel = "web-" + run;
  // Every run starts from empty positions of its own SKUs; the shop's levels
  // are the seed's until the first push.
  const std::string yaml =
      "instance_id: " + run +
      "\nhttp:\n  port: ${PORT}\n  access_log: false\napi:\n  allow_anonymous: true\n"
      "workflow:\n  poll_interval: 200ms\nstore:\n  postgres:\n    url: ${E2E_PG}\n"
      "bus:\n  kafka:\n    bootstrap_servers: ${E2E_KAFKA}\n"
      "connectors:\n  shopify:\n    - id: " +
      run + "\n      channel: web-" + run +
      "\n      webhook_secret: ${SHOP_SECRET}\n      api_base_url: http://127.0.0.1:" + std::to_string(sim_port) +
      "\n      access_token: ${SHOP_TOKEN}\n"
      "availability:\n  safety_stock:\n    default: 2\n"
      "  channels:\n    - code: web-" +
      run + "\n      locations: [WH]\n      share_percent: 50\n      push_connector: " + run +
      "\n      push_location: WH\n"
      "  tiers:\n    hot_skus: [" +
      hot_sku + "]\n    cold_interval: 2s\n  drift:\n    check_interval: 1s\n";
  const std::map<std::string, std::string> env{
      {"E2E_PG", pg}, {"E2E_KAFKA", kafka}, {"SHOP_SECRET", "shpss_e2e"}, {"SHOP_TOKEN", kToken}};
  Daemon d;
  start_daemon(d, yaml, env);
  ASSERT_FALSE(HasFatalFailure());
  HttpClient client("127.0.0.1", d.port);
  for (const auto& [path, canonical] : std::vector<std::pair<std::string, std::string>>{
           {"inventory_item/808950810", sku}, {"inventory_item/49148385", hot_sku}, {"location/655441491", "WH"}}) {
    auto r = client.request("PUT", "/v1/crosswalk/shopify/" + path, json{{"canonical_id", canonical}}.dump());
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
  }

  // 26 received, safety stock 2, half for the channel: 12 (the seed shows 10).
  auto in = client.request(
      "POST", "/v1/inventory/movements",
      "[" + movement(run + "-r1", "receipt", sku, "26") + "," + movement(run + "-r2", "receipt", hot_sku, "42") + "]");
  ASSERT_TRUE(in);
  ASSERT_EQ(in->status, 202) << in->body;
  EXPECT_TRUE(pushed(pg, shop, channel, sku, "808950810", 12));
  EXPECT_TRUE(pushed(pg, shop, channel, hot_sku, "49148385", 20));
  // Sales: 26 - 5 = 21 -> (21 - 2) / 2 = 9; the hot SKU 42 - 1 = 41 -> 19.
  ASSERT_EQ(client
                .request("POST", "/v1/inventory/movements",
                         "[" + movement(run + "-s1", "sale", sku, "-5") + "," +
                             movement(run + "-s2", "sale", hot_sku, "-1") + "]")
                ->status,
            202);
  EXPECT_TRUE(pushed(pg, shop, channel, sku, "808950810", 9));
  EXPECT_TRUE(pushed(pg, shop, channel, hot_sku, "49148385", 19));

  auto metrics = client.get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_NE(metrics->body.find("trueup_availability_pushes_total{channel=\"web-" + run + "\",result=\"accepted\"}"),
            std::string::npos);
  auto before = json::parse(shop.get("/_sim/inspect")->body)["writes"].value("inventory_levels/set", 0LL);
  stop_daemon(d);

  // A restart loads positions and published values: nothing to push.
  Daemon again;
  again.dir = d.dir;
  start_daemon(again, yaml, env);
  ASSERT_FALSE(HasFatalFailure());
  HttpClient client2("127.0.0.1", again.port);
  // A change after the restart is pushed (so the service is running), and
  // only that one.
  ASSERT_EQ(client2.request("POST", "/v1/inventory/movements", movement(run + "-s3", "sale", sku, "-2"))->status, 202);
  EXPECT_TRUE(pushed(pg, shop, channel, sku, "808950810", 8));  // 19 -> 17 / 2 = 8
  const auto inspect = shop.get("/_sim/inspect")->body;
  auto after = json::parse(inspect)["writes"].value("inventory_levels/set", 0LL);
  EXPECT_EQ(after, before + 1) << "only the new value was pushed: " << inspect;

  // Drift: someone sets the level in the shop's admin; the next check reads
  // it back and pushes the computed value again.
  auto changed = shop.request("PUT", "/_sim/inventory_levels",
                              R"({"location_id":655441491,"inventory_item_id":808950810,"available":99})");
  ASSERT_TRUE(changed);
  ASSERT_EQ(changed->status, 200) << changed->body;
  const auto drift_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  long long shown = 99;
  while (std::chrono::steady_clock::now() < drift_deadline && (shown = shop_level(shop, "808950810", "655441491")) != 8)
    std::this_thread::sleep_for(std::chrono::milliseconds(500));  // the check runs every second
  EXPECT_EQ(shown, 8) << "the drift was repaired";
  auto drift_metrics = client2.get("/metrics");
  ASSERT_TRUE(drift_metrics);
  EXPECT_NE(drift_metrics->body.find("trueup_inventory_drift_total{channel=\"" + channel + "\"} 1"), std::string::npos)
      << "one drift counted";

  // An open web order holds 3 for its line at the channel's push location
  // (it names no location): (19 - 3 - 2) / 2 = 7; fulfilled, it holds none.
  auto order = [&](const std::string& status, const std::string& updated_at) {
    return json{{"id", run + "-o1"},
                {"updated_at", updated_at},
                {"channel", channel},
                {"external_reference", "1001"},
                {"placed_at", "2026-11-26T12:00:00+01:00"},
                {"status", status},
                {"currency", "USD"},
                {"lines", json::array({{{"line_id", "1"}, {"sku", sku}, {"quantity", "3"}}})},
                {"totals",
                 {{"subtotal", "0.00"},
                  {"discount_total", "0.00"},
                  {"shipping_total", "0.00"},
                  {"tax_total", "0.00"},
                  {"grand_total", "0.00"}}}}
        .dump();
  };
  auto open_order = client2.request("POST", "/v1/orders", order("open", "2026-11-26T12:00:00+01:00"));
  ASSERT_TRUE(open_order);
  ASSERT_EQ(open_order->status, 202) << open_order->body;
  EXPECT_TRUE(pushed(pg, shop, channel, sku, "808950810", 7));
  EXPECT_EQ(psql(pg, "SELECT count(*) FROM stock_reservation WHERE order_id = '" + run + "-o1'"), "1");
  // A new version of the order (another updated_at) replaces the first.
  auto shipped = client2.request("POST", "/v1/orders", order("fulfilled", "2026-11-26T15:00:00+01:00"));
  ASSERT_TRUE(shipped);
  ASSERT_EQ(shipped->status, 202) << shipped->body;
  EXPECT_TRUE(pushed(pg, shop, channel, sku, "808950810", 8));
  EXPECT_EQ(psql(pg, "SELECT count(*) FROM stock_reservation WHERE order_id = '" + run + "-o1'"), "0");
  stop_daemon(again);
  sim->signal(SIGTERM);
  EXPECT_TRUE(sim->wait(std::chrono::seconds(30)).has_value());
}

}  // namespace
}  // namespace trueup::testing
