// Availability through the real binary on PostgreSQL and Kafka: movements
// accepted by the system API change stock; the availability service
// computes the channel's quantity (safety stock, share) and pushes it to the
// Shopify simulator through the connector's set_available_batch (GraphQL
// inventorySetQuantities); a restart pushes nothing that the channel already
// shows, and what it does push goes in one batch.
#include <gtest/gtest.h>

#include <signal.h>

#include <algorithm>
#include <ctime>

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

// This run's own name, usable as a connector id: [a-z0-9-].
std::string run_name(const std::string& prefix) {
  std::string run = unique_name(prefix);
  for (auto& ch : run)
    if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9'))) ch = '-';
  return run;
}

// The daemon on PostgreSQL and Kafka with one Shopify connector `run` (for
// `channel`, at the simulator) and the given `availability:` section.
std::string daemon_yaml(const std::string& run, const std::string& channel, std::uint16_t sim_port,
                        const std::string& availability) {
  return "instance_id: " + run +
         "\nhttp:\n  port: ${PORT}\n  access_log: false\napi:\n  allow_anonymous: true\n"
         "workflow:\n  poll_interval: 200ms\nstore:\n  postgres:\n    url: ${E2E_PG}\n"
         "bus:\n  kafka:\n    bootstrap_servers: ${E2E_KAFKA}\n"
         "connectors:\n  shopify:\n    - id: " +
         run + "\n      channel: " + channel +
         "\n      webhook_secret: ${SHOP_SECRET}\n      api_base_url: http://127.0.0.1:" + std::to_string(sim_port) +
         "\n      access_token: ${SHOP_TOKEN}\navailability:\n" + availability;
}

std::map<std::string, std::string> daemon_env(const std::string& pg, const std::string& kafka) {
  return {{"E2E_PG", pg}, {"E2E_KAFKA", kafka}, {"SHOP_SECRET", "shpss_e2e"}, {"SHOP_TOKEN", kToken}};
}

TEST(AvailabilityE2E, StockChangesArePushedToTheChannelOnceWithRulesApplied) {
  const std::string pg = require_pg_url(), kafka = require_kafka();
  ASSERT_FALSE(pg.empty() || kafka.empty());
  const std::uint16_t sim_port = free_port();
  auto sim = start_simulator("shopify", sim_port, {"--seed", source_dir() + "/config/examples/shopify-sim-seed.json"},
                             {{"SHOPIFY_ACCESS_TOKEN", kToken}});
  ASSERT_FALSE(HasFatalFailure());
  HttpClient shop("127.0.0.1", sim_port);

  const std::string run = run_name("av");
  const std::string sku = run + "-PINK", hot_sku = run + "-RED", channel = "web-" + run;
  // Every run starts from empty positions of its own SKUs; the shop's levels
  // are the seed's until the first push.
  const std::string yaml =
      daemon_yaml(run, channel, sim_port,
                  "  safety_stock:\n    default: 2\n  channels:\n    - code: " + channel +
                      "\n      locations: [WH]\n      share_percent: 50\n      push_connector: " + run +
                      "\n      push_location: WH\n  tiers:\n    hot_skus: [" + hot_sku +
                      "]\n    cold_interval: 2s\n  drift:\n    check_interval: 1s\n");
  const auto env = daemon_env(pg, kafka);
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
  auto before = json::parse(shop.get("/_sim/inspect")->body)["writes"].value("inventorySetQuantities", 0LL);
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
  auto after = json::parse(inspect)["writes"].value("inventorySetQuantities", 0LL);
  EXPECT_EQ(after, before + 1) << "only the new value was pushed: " << inspect;
  EXPECT_EQ(json::parse(inspect)["write_log"].back()["body"]["input"]["quantities"].size(), 1u) << inspect;
  EXPECT_EQ(json::parse(inspect)["writes"].value("inventory_levels/set", 0LL), 0) << "pushes go as batches";

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

// Now as RFC 3339 UTC: movements that just happened.
std::string now_utc() {
  const std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return text;
}

// Many hot SKUs at two locations: every push goes as inventorySetQuantities
// batches (no REST set), the shop ends with exactly the quantities the test
// computes from the rules, the sale-to-channel latency is observed, and
// after a restart without published values every SKU goes in one batch.
TEST(AvailabilityE2E, HotPushesGoAsBatchesAndEqualTheComputedValues) {
  const std::string pg = require_pg_url(), kafka = require_kafka();
  ASSERT_FALSE(pg.empty() || kafka.empty());
  const std::string run = run_name("avb");
  constexpr int kSkus = 40;
  const std::string channel = "web-" + run;
  auto sku_of = [&](int i) { return run + "-S" + std::to_string(i); };
  auto item_of = [](int i) { return std::to_string(7000000000 + i); };
  json products = json::array(), levels = json::array();
  for (int i = 1; i <= kSkus; ++i) {
    products.push_back({{"id", 6000000000 + i},
                        {"title", "Item " + std::to_string(i)},
                        {"variants", json::array({{{"id", 8000000000 + i},
                                                   {"title", "One"},
                                                   {"sku", "ITEM-" + std::to_string(i)},
                                                   {"price", "10.00"},
                                                   {"inventory_item_id", 7000000000 + i}}})}});
    levels.push_back({{"inventory_item_id", 7000000000 + i}, {"location_id", 655441491}, {"available", 0}});
  }
  const std::string seed = make_temp_dir("trueup-avb-seed-") + "/seed.json";
  write_file(seed, json{{"shop", {{"domain", "avb.myshopify.com"}, {"currency", "USD"}}},
                        {"locations", json::array({{{"id", 655441491}, {"name", "Warehouse"}}})},
                        {"products", products},
                        {"inventory_levels", levels}}
                       .dump());
  const std::uint16_t sim_port = free_port();
  auto sim = start_simulator("shopify", sim_port, {"--seed", seed}, {{"SHOPIFY_ACCESS_TOKEN", kToken}});
  ASSERT_FALSE(HasFatalFailure());
  HttpClient shop("127.0.0.1", sim_port);

  std::string hot;
  for (int i = 1; i <= kSkus; ++i) hot += (i > 1 ? ", " : "") + sku_of(i);
  const std::string yaml =
      daemon_yaml(run, channel, sim_port,
                  "  safety_stock:\n    default: 1\n  channels:\n    - code: " + channel +
                      "\n      locations: [WH, ST]\n      share_percent: 50\n      push_connector: " + run +
                      "\n      push_location: WH\n  tiers:\n    hot_skus: [" + hot + "]\n");
  const auto env = daemon_env(pg, kafka);
  Daemon d;
  start_daemon(d, yaml, env);
  ASSERT_FALSE(HasFatalFailure());
  HttpClient client("127.0.0.1", d.port);
  auto map = [&](const std::string& path, const std::string& canonical) {
    auto r = client.request("PUT", "/v1/crosswalk/shopify/" + path, json{{"canonical_id", canonical}}.dump());
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
  };
  map("location/655441491", "WH");
  for (int i = 1; i <= kSkus; ++i) map("inventory_item/" + item_of(i), sku_of(i));
  ASSERT_FALSE(HasFatalFailure());

  // The test's own figures: per location max(0, on hand - 1), summed, half.
  std::map<int, std::pair<long long, long long>> stock;  // i -> (WH, ST)
  auto expected = [&](int i) {
    const auto [wh, st] = stock[i];
    return (std::max(0LL, wh - 1) + std::max(0LL, st - 1)) / 2;
  };
  auto move = [&](const std::string& id, const std::string& kind, int i, const std::string& location, long long q) {
    (location == "WH" ? stock[i].first : stock[i].second) += q;
    return json{{"movement_id", id},
                {"kind", kind},
                {"sku", sku_of(i)},
                {"location", location},
                {"quantity_delta", std::to_string(q)},
                {"occurred_at", now_utc()},
                {"source_system", "wms"},
                {"source_reference", id}};
  };
  // Every SKU's expected value is in availability_published, then in the shop.
  auto all_pushed = [&]() {
    std::string values;
    for (int i = 1; i <= kSkus; ++i)
      values += (i > 1 ? ", ('" : "('") + sku_of(i) + "', " + std::to_string(expected(i)) + ")";
    EXPECT_TRUE(eventually(pg,
                           "SELECT count(*) FROM availability_published WHERE channel = '" + channel +
                               "' AND (sku, available) IN (VALUES " + values + ")",
                           std::to_string(kSkus), std::chrono::seconds(120)));
    std::string ids;
    for (int i = 1; i <= kSkus; ++i) ids += (i > 1 ? "," : "") + item_of(i);
    auto r = shop.request("GET", "/admin/api/2026-07/inventory_levels.json?limit=250&inventory_item_ids=" + ids, "",
                          {{"X-Shopify-Access-Token", kToken}});
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
    std::map<std::string, long long> shown;
    const json answer = json::parse(r->body);
    for (const auto& level : answer["inventory_levels"])
      shown[std::to_string(level["inventory_item_id"].get<long long>())] = level["available"].get<long long>();
    for (int i = 1; i <= kSkus; ++i) EXPECT_EQ(shown[item_of(i)], expected(i)) << sku_of(i);
  };

  json receipts = json::array();
  for (int i = 1; i <= kSkus; ++i) {
    receipts.push_back(move(run + "-rw" + std::to_string(i), "receipt", i, "WH", 10 + i));
    receipts.push_back(move(run + "-rs" + std::to_string(i), "receipt", i, "ST", i));
  }
  auto in = client.request("POST", "/v1/inventory/movements", receipts.dump());
  ASSERT_TRUE(in);
  ASSERT_EQ(in->status, 202) << in->body;
  all_pushed();
  // trueup_availability_sale_to_channel_seconds' count (observed before the
  // value is recorded, so it is there once the test sees the record).
  auto observed = [&]() -> long long {
    auto metrics = client.get("/metrics");
    if (!metrics) return -1;
    const std::string line = "trueup_availability_sale_to_channel_seconds_count{channel=\"" + channel + "\"} ";
    const auto at = metrics->body.find(line);
    return at == std::string::npos ? -1 : std::stoll(metrics->body.substr(at + line.size()));
  };
  const long long observed_before = observed();
  EXPECT_GE(observed_before, 0) << "the sale-to-channel latency is a metric";
  std::map<int, long long> before_sales;
  for (int i = 1; i <= kSkus; ++i) before_sales[i] = expected(i);
  json sales = json::array();
  for (int i = 1; i <= kSkus; i += 2) sales.push_back(move(run + "-s" + std::to_string(i), "sale", i, "ST", -1));
  for (int i = 2; i <= kSkus; i += 3) sales.push_back(move(run + "-t" + std::to_string(i), "sale", i, "WH", -3));
  long long changed = 0;  // SKUs whose channel value the sales change (S1's does not: its store had 1, held back)
  for (int i = 1; i <= kSkus; ++i) changed += expected(i) != before_sales[i] ? 1 : 0;
  auto sold = client.request("POST", "/v1/inventory/movements", sales.dump());
  ASSERT_TRUE(sold);
  ASSERT_EQ(sold->status, 202) << sold->body;
  all_pushed();

  json inspect = json::parse(shop.get("/_sim/inspect")->body);
  EXPECT_EQ(inspect["writes"].value("inventory_levels/set", 0LL), 0) << "no single REST pushes";
  const long long batches = inspect["writes"].value("inventorySetQuantities", 0LL);
  EXPECT_GE(batches, 1);
  for (const auto& [key, n] : inspect["keys"]["idempotency_key"].items()) EXPECT_EQ(n, 1) << key;
  // Each new value carried its sale's time.
  EXPECT_GE(observed() - observed_before, changed);
  stop_daemon(d);

  // Without published values, a restart pushes every SKU: all in one batch.
  EXPECT_EQ(psql(pg, "DELETE FROM availability_published WHERE channel = '" + channel + "'"),
            "DELETE " + std::to_string(kSkus));
  Daemon again;
  again.dir = d.dir;
  start_daemon(again, yaml, env);
  ASSERT_FALSE(HasFatalFailure());
  all_pushed();
  inspect = json::parse(shop.get("/_sim/inspect")->body);
  EXPECT_EQ(inspect["writes"].value("inventorySetQuantities", 0LL), batches + 1) << inspect["writes"].dump();
  EXPECT_EQ(inspect["write_log"].back()["body"]["input"]["quantities"].size(), static_cast<std::size_t>(kSkus));
  stop_daemon(again);
  sim->signal(SIGTERM);
  EXPECT_TRUE(sim->wait(std::chrono::seconds(30)).has_value());
}

}  // namespace
}  // namespace trueup::testing
