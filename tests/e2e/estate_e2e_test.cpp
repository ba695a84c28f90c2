// Issue 5's flow end to end, on the real binary with PostgreSQL, Kafka and the
// three simulators as processes (the estate of `trueup dev --write-estate`):
// five Square stores make 200 POS sales each plus returns, with duplicate and
// out-of-order webhooks; Business Central fails every request for 30 s in the
// middle; the Shopify shop's REST bucket (10, leaking 2/s) is emptied now and
// then by another client, so it answers 429 when Trueup calls. At the end:
//   - every receipt and every return is posted in the ERP exactly once (the
//     simulator's count by external document number), and the ERP's stock is
//     what the scenario says;
//   - every Shopify quantity equals the availability this test computes on its
//     own from the seed and the scenario (safety stock 3 in WH, 1 per store);
//   - no exception is open;
//   - the last com.trueup.stock.changed.v1 event on Kafka of every (SKU,
//     location) the scenario touched carries the on-hand the test expects.
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "support/daemon.hpp"
#include "support/http_client.hpp"
#include "support/process.hpp"
#include "support/test_env.hpp"

namespace {

using namespace trueup::testing;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr int kStores = 5;
constexpr int kSalesPerStore = 200;
constexpr int kReturns = 60;
constexpr const char* kShopifyLocation = "68000000001";

// key: "<sku>@<location>"
using Stock = std::map<std::string, long>;

std::string key(const std::string& sku, const std::string& location) { return sku + "@" + location; }

// A database of its own in the test cluster: the estate's SKUs and locations
// are fixed names, and "no open exception" must mean this run's.
std::string own_database(const std::string& pg, const std::string& name) {
  psql(pg, "CREATE DATABASE " + name);
  const auto slash = pg.rfind('/');
  const auto query = pg.find('?', slash);
  return pg.substr(0, slash + 1) + name + (query == std::string::npos ? "" : pg.substr(query));
}

std::map<std::string, std::string> read_env_file(const std::string& path) {
  std::map<std::string, std::string> out;
  std::istringstream in(read_file(path));
  std::string line;
  while (std::getline(in, line))
    if (auto eq = line.find('='); eq != std::string::npos) out[line.substr(0, eq)] = line.substr(eq + 1);
  return out;
}

// The shop's levels at its location, by inventory item id (nullopt on a 429 or an error).
std::optional<std::map<std::string, long>> shop_levels(HttpClient& shop, const std::string& token) {
  auto r = shop.request(
      "GET", "/admin/api/2026-07/inventory_levels.json?location_ids=" + std::string(kShopifyLocation) + "&limit=250",
      "", {{"X-Shopify-Access-Token", token}});
  if (!r || r->status != 200) return std::nullopt;
  std::map<std::string, long> out;
  const json body = json::parse(r->body);
  for (const auto& level : body["inventory_levels"])
    out[std::to_string(level["inventory_item_id"].get<long long>())] = level["available"].get<long>();
  return out;
}

// Business Central's count of posts by external document number (the simulator's inspection).
json posted_documents(const json& inspection) {
  if (!inspection.contains("keys") || !inspection["keys"].contains("posted_external_document_number"))
    return json::object();
  return inspection["keys"]["posted_external_document_number"];
}

TEST(EstateE2E, StoresSellAndTakeReturnsThroughFaultsAnErpOutageAndShop429s) {
  const std::string cluster = require_pg_url(), kafka = require_kafka();
  ASSERT_FALSE(cluster.empty() || kafka.empty());
  const std::string instance = unique_name("estate");
  const std::string pg = own_database(cluster, instance);
  const std::string dir = make_temp_dir("trueup-estate-e2e");

  // The estate: 50 SKUs (10 products x 5 sizes), WH and ST1..ST5.
  auto written = run_process({trueup_binary(), "dev", "--write-estate", dir, "--skus", "50", "--stores",
                              std::to_string(kStores), "--seed", "7"});
  ASSERT_EQ(written.exit_code, 0) << written.err;
  const json bc_seed = json::parse(read_file(dir + "/business-central-seed.json"));
  const json shop_seed = json::parse(read_file(dir + "/shopify-seed.json"));
  Stock on_hand;  // what the ERP should hold at the end
  std::vector<std::string> skus;
  for (const auto& item : bc_seed["items"]) {
    skus.push_back(item["number"]);
    for (const auto& [location, quantity] : item["inventory"].items())
      on_hand[key(item["number"], location)] = quantity.get<long>();
  }
  std::map<std::string, std::string> inventory_item_of;  // sku -> Shopify inventory item id
  for (const auto& product : shop_seed["products"])
    for (const auto& variant : product["variants"])
      inventory_item_of[variant["sku"]] = std::to_string(variant["inventory_item_id"].get<long long>());
  std::map<std::string, std::string> sku_of_variation;
  const json square_seed = json::parse(read_file(dir + "/square-seed.json"));
  for (const auto& item : square_seed["items"])
    for (const auto& variation : item["variations"]) sku_of_variation[variation["id"]] = variation["sku"];
  const auto secrets = read_env_file(dir + "/estate.env");

  // The simulators, with the scenario's faults.
  const std::uint16_t port = free_port(), square_port = free_port(), shop_port = free_port(), bc_port = free_port();
  const std::string hooks = "http://127.0.0.1:" + std::to_string(port) + "/v1/webhooks/";
  write_file(dir + "/bc-sim.json", R"({"ledger_location_code": true, "bucket_refill_per_second": 200})");
  write_file(dir + "/square-sim.json",
             R"({"rate_per_second": 100, "burst": 200,
                 "faults": {"seed": 11, "webhooks": {"duplicate_share": 0.2, "out_of_order": true}}})");
  write_file(
      dir + "/shop-sim.json",
      R"({"bucket_size": 10, "leak_per_second": 2, "faults": {"seed": 12, "webhooks": {"duplicate_share": 0.2}}})");
  auto bc = start_simulator("business-central", bc_port,
                            {"--seed", dir + "/business-central-seed.json", "--config", dir + "/bc-sim.json"},
                            {{"BC_ACCESS_TOKEN", secrets.at("TRUEUP_DEV_BC_TOKEN")}});
  ASSERT_FALSE(HasFatalFailure());
  auto square = start_simulator(
      "square", square_port,
      {"--seed", dir + "/square-seed.json", "--config", dir + "/square-sim.json", "--webhook-url", hooks + "square"},
      {{"SQUARE_ACCESS_TOKEN", secrets.at("TRUEUP_DEV_SQUARE_TOKEN")},
       {"SQUARE_WEBHOOK_SIGNATURE_KEY", secrets.at("TRUEUP_DEV_SQUARE_SIGNATURE_KEY")}});
  ASSERT_FALSE(HasFatalFailure());
  auto shop = start_simulator(
      "shopify", shop_port,
      {"--seed", dir + "/shopify-seed.json", "--config", dir + "/shop-sim.json", "--webhook-url", hooks + "shopify"},
      {{"SHOPIFY_ACCESS_TOKEN", secrets.at("TRUEUP_DEV_SHOPIFY_TOKEN")},
       {"SHOPIFY_WEBHOOK_SECRET", secrets.at("TRUEUP_DEV_SHOPIFY_SECRET")}});
  ASSERT_FALSE(HasFatalFailure());

  // trueup serve on PostgreSQL and Kafka with the estate's connectors, erp and availability.
  std::string estate = read_file(dir + "/estate.yaml");
  // Business Central's calls may go faster than its real 20/s here (the simulator's bucket is raised to match).
  const std::string timeout_line = "      request_timeout: 5s\n";
  ASSERT_NE(estate.find(timeout_line), std::string::npos) << estate;
  estate.replace(estate.find(timeout_line), timeout_line.size(),
                 timeout_line + "      rate_limit_per_second: 150\n      rate_limit_burst: 300\n");
  std::map<std::string, std::string> env = secrets;
  env["E2E_PG"] = pg;
  env["E2E_KAFKA"] = kafka;
  env["TRUEUP_DEV_PORT"] = std::to_string(port);
  env["TRUEUP_DEV_SQUARE_URL"] = "http://127.0.0.1:" + std::to_string(square_port);
  env["TRUEUP_DEV_SHOPIFY_URL"] = "http://127.0.0.1:" + std::to_string(shop_port);
  env["TRUEUP_DEV_BC_URL"] = "http://127.0.0.1:" + std::to_string(bc_port);
  Daemon d;
  d.port = port;
  start_daemon(d,
               "instance_id: " + instance +
                   "\nhttp:\n  port: ${PORT}\n  access_log: false\napi:\n  allow_anonymous: true\n"
                   "workflow:\n  poll_interval: 200ms\nstore:\n  postgres:\n    url: ${E2E_PG}\n"
                   "bus:\n  kafka:\n    bootstrap_servers: ${E2E_KAFKA}\n" +
                   estate,
               env);
  ASSERT_FALSE(HasFatalFailure());
  HttpClient client("127.0.0.1", port);
  auto imported =
      client.request("POST", "/v1/crosswalk/import", read_file(dir + "/crosswalk.csv"), {{"Content-Type", "text/csv"}});
  ASSERT_TRUE(imported);
  ASSERT_EQ(imported->status, 200) << imported->body;

  // The scenario: 1,000 POS sales (10 a second), returns of earlier sales, and
  // the ERP answering 503 to everything for 30 s from the 400th sale on.
  HttpClient pos("127.0.0.1", square_port);
  HttpClient shop_api("127.0.0.1", shop_port);
  HttpClient erp("127.0.0.1", bc_port);
  std::mt19937_64 random(2026);
  const auto pick = [&random](std::size_t n) { return std::uniform_int_distribution<std::size_t>(0, n - 1)(random); };
  struct Sale {
    std::string order_id;
    std::string store;
    std::vector<std::tuple<std::string, std::string, long>> lines;  // uid, sku, quantity
  };
  std::vector<Sale> sales;
  std::set<std::string> receipts;  // external document numbers that must be posted once
  std::set<std::string> touched;   // (sku, location) keys the scenario moved
  std::vector<int> per_store(kStores, 0);
  std::optional<Clock::time_point> outage_since;
  bool outage_over = false;
  const auto sale_every = std::chrono::milliseconds(100);
  auto next = Clock::now();
  for (int n = 0; n < kStores * kSalesPerStore; ++n) {
    std::this_thread::sleep_until(next);  // the scenario's pace, not synchronisation
    next += sale_every;
    if (n == 400) {
      ASSERT_EQ(erp.request("PUT", "/_sim/faults", R"({"error_share": 1.0, "error_status": 503})")->status, 200);
      outage_since = Clock::now();
    }
    if (outage_since && !outage_over && Clock::now() - *outage_since >= std::chrono::seconds(30)) {
      ASSERT_EQ(erp.request("PUT", "/_sim/faults", R"({"error_share": 0})")->status, 200);
      outage_over = true;
    }
    if (n % 100 == 50) {
      // Another client of the shop's API empties its bucket now and then, so
      // Trueup's calls meet 429s (and must retry them) whatever its own pace.
      for (int call = 0; call < 30; ++call) {
        auto r = shop_api.request("GET", "/admin/api/2026-07/locations.json", "",
                                  {{"X-Shopify-Access-Token", secrets.at("TRUEUP_DEV_SHOPIFY_TOKEN")}});
        if (r && r->status == 429) break;
      }
    }
    const int s = n % kStores;
    const std::string store = "ST" + std::to_string(s + 1);
    json lines = json::array();
    std::vector<std::pair<std::string, long>> chosen;
    const int line_count = pick(4) == 0 ? 2 : 1;
    for (int l = 0; l < line_count; ++l) {
      // Only what the store has (the test keeps its own count).
      for (int tries = 0; tries < 100; ++tries) {
        const std::string& sku = skus[pick(skus.size())];
        const bool repeated = std::any_of(chosen.begin(), chosen.end(), [&](const auto& c) { return c.first == sku; });
        if (!repeated && on_hand[key(sku, store)] >= 1) {
          chosen.emplace_back(sku, 1);
          break;
        }
      }
    }
    ASSERT_FALSE(chosen.empty()) << "the store ran out of stock; the scenario needs more";
    for (const auto& [sku, quantity] : chosen) lines.push_back({{"sku", sku}, {"quantity", std::to_string(quantity)}});
    auto r = pos.request("POST", "/_sim/sales",
                         json{{"location_id", "LTRUEUPDEVST" + std::to_string(s + 1)},
                              {"line_items", lines},
                              {"order_created_event", false}}
                             .dump());
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 201) << r->body;
    const json order = json::parse(r->body)["orders"][0];
    Sale sale{order["id"], store, {}};
    ASSERT_EQ(order["line_items"].size(), chosen.size()) << r->body;
    for (const auto& line : order["line_items"]) {
      const std::string sku = sku_of_variation.at(line["catalog_object_id"].get<std::string>());
      const long quantity = std::stol(line["quantity"].get<std::string>());
      sale.lines.emplace_back(line["uid"], sku, quantity);
      on_hand[key(sku, store)] -= quantity;
      touched.insert(key(sku, store));
    }
    receipts.insert(sale.order_id);
    sales.push_back(std::move(sale));
    ++per_store[static_cast<std::size_t>(s)];

    // Every 16th sale, a customer brings back the first line of an earlier one.
    if (n % 16 == 15 && static_cast<int>(sales.size()) > 20 && n / 16 < kReturns) {
      Sale& earlier = sales[pick(sales.size() - 10)];
      if (earlier.lines.empty()) continue;
      const auto [uid, sku, quantity] = earlier.lines.front();
      auto back =
          pos.request("POST", "/_sim/refunds",
                      json{{"order_id", earlier.order_id},
                           {"return_line_items",
                            json::array({{{"source_line_item_uid", uid}, {"quantity", std::to_string(quantity)}}})},
                           {"restock", true}}
                          .dump());
      ASSERT_TRUE(back);
      ASSERT_EQ(back->status, 201) << back->body;
      receipts.insert(json::parse(back->body)["return_order"]["id"].get<std::string>());
      on_hand[key(sku, earlier.store)] += quantity;
      touched.insert(key(sku, earlier.store));
      earlier.lines.erase(earlier.lines.begin());
    }
  }
  if (!outage_over) {
    // Fewer sales than 30 s: the outage still lasts its 30 s.
    std::this_thread::sleep_until(*outage_since + std::chrono::seconds(30));
    ASSERT_EQ(erp.request("PUT", "/_sim/faults", R"({"error_share": 0})")->status, 200);
  }
  for (int count : per_store) EXPECT_EQ(count, kSalesPerStore);

  // 1. The ERP posted every receipt and return once, and holds the scenario's stock.
  // Waits while postings progress (retries after the outage back off up to 100 s).
  json seen;
  std::set<std::string> unposted = receipts;
  auto progressed = Clock::now();
  while (!unposted.empty() && Clock::now() - progressed < std::chrono::seconds(240)) {
    auto r = erp.get("/_sim/inspect");
    ASSERT_TRUE(r);
    seen = json::parse(r->body);
    const json keys = posted_documents(seen);
    const std::size_t before = unposted.size();
    std::erase_if(unposted, [&keys](const std::string& edn) { return keys.contains(edn); });
    if (unposted.size() < before) progressed = Clock::now();
    if (!unposted.empty()) std::this_thread::sleep_for(std::chrono::seconds(1));  // polling the effect
  }
  EXPECT_TRUE(unposted.empty()) << unposted.size() << " of " << receipts.size() << " not posted, e.g. "
                                << *unposted.begin() << "; open exceptions: "
                                << psql(pg,
                                        "SELECT kind || ': ' || reason FROM trueup_exception WHERE state = 'open' "
                                        "LIMIT 5");
  EXPECT_GT(seen.value("injected_5xx", 0), 0) << "the outage happened";
  const json documents = posted_documents(seen);
  for (auto it = documents.begin(); it != documents.end(); ++it)
    EXPECT_EQ(it.value().get<int>(), 1) << it.key() << " posted more than once";
  auto inventory = erp.get("/_sim/inventory");
  ASSERT_TRUE(inventory);
  const json erp_stock = json::parse(inventory->body);
  for (const auto& item : erp_stock["items"])
    for (const auto& [location, quantity] : item["locations"].items())
      EXPECT_EQ(quantity.get<long>(), on_hand[key(item["itemNumber"], location)])
          << "ERP stock of " << item["itemNumber"] << " at " << location;

  // 2. Every Shopify quantity equals the availability computed here.
  std::map<std::string, long> expected;  // inventory item id -> available
  for (const auto& sku : skus) {
    long available = 0;
    for (const auto& [k, quantity] : on_hand)
      if (k.rfind(sku + "@", 0) == 0) {
        const std::string location = k.substr(sku.size() + 1);
        available += std::max(0L, quantity - (location == "WH" ? 3 : 1));
      }
    expected[inventory_item_of.at(sku)] = available;
  }
  std::map<std::string, long> levels;
  const auto deadline = Clock::now() + std::chrono::seconds(300);
  while (Clock::now() < deadline) {
    if (auto l = shop_levels(shop_api, secrets.at("TRUEUP_DEV_SHOPIFY_TOKEN")); l) {
      levels = *l;
      if (levels == expected) break;
    }
    std::this_thread::sleep_for(std::chrono::seconds(3));  // polling the effect, few calls: the shop's bucket is small
  }
  for (const auto& sku : skus)
    EXPECT_EQ(levels[inventory_item_of.at(sku)], expected[inventory_item_of.at(sku)])
        << sku << " (Trueup's positions: "
        << psql(pg,
                "SELECT string_agg(location || '=' || (on_hand_e5 / 100000), ' ' ORDER BY location) FROM "
                "stock_position WHERE sku = '" +
                    sku + "'")
        << "; the test's: " <<
        [&] {
          std::string mine;
          for (const auto& [k, q] : on_hand)
            if (k.rfind(sku + "@", 0) == 0) mine += k.substr(sku.size() + 1) + "=" + std::to_string(q) + " ";
          return mine;
        }()
        << ")";
  auto shop_seen = shop_api.get("/_sim/inspect");
  ASSERT_TRUE(shop_seen);
  EXPECT_GT(json::parse(shop_seen->body).value("throttled_429", 0), 0)
      << "the shop answered 429 when its bucket was empty";

  // 3. Nothing left for a person.
  auto open = client.get("/v1/exceptions?state=open");
  ASSERT_TRUE(open);
  EXPECT_TRUE(json::parse(open->body)["items"].empty()) << open->body;

  // 4. Kafka: the last stock.changed of each touched (SKU, location) carries the expected on-hand.
  auto events = run_process(
      {"kcat", "-b", kafka, "-C", "-t", "retail.inventory.v1", "-o", "beginning", "-e", "-q", "-f", "%h\t%s\n"}, {},
      std::chrono::seconds(120));
  ASSERT_EQ(events.exit_code, 0) << events.err;
  std::map<std::string, double> last;
  std::istringstream lines(events.out);
  std::string line;
  const std::string source = "ce_source=/trueup/instances/" + instance;
  while (std::getline(lines, line)) {
    const auto tab = line.find('\t');
    if (tab == std::string::npos) continue;
    const std::string headers = line.substr(0, tab);
    if (headers.find(source) == std::string::npos ||
        headers.find("ce_type=com.trueup.stock.changed.v1") == std::string::npos)
      continue;
    const json data = json::parse(line.substr(tab + 1));
    last[key(data["sku"], data["location"])] = std::stod(data["on_hand"].get<std::string>());
  }
  for (const auto& k : touched) {
    ASSERT_TRUE(last.count(k)) << "no stock.changed for " << k;
    EXPECT_EQ(last[k], static_cast<double>(on_hand[k])) << k;
  }

  stop_daemon(d);
  psql(cluster, "DROP DATABASE IF EXISTS " + instance + " WITH (FORCE)");
}

}  // namespace
