// Sale -> channel latency at POS sale rates: POS sales made in Square
// simulators reach `trueup serve` (PostgreSQL) as signed webhooks, become
// stock movements, and the availability service pushes the hot SKUs'
// quantities to the Shopify simulator in GraphQL inventorySetQuantities
// batches. Prints p50 / p99 / max from each sale's time to the time the
// Shopify simulator applied the write that carried it, and the daemon's own
// trueup_availability_sale_to_channel_seconds for comparison.
//
//   sale_to_channel [--rate 200] [--seconds 60] [--skus 500] [--stores 5]
//                   [--stock 1000] [--workers 4] [--pool 4] [--claim-batch 32] [--keep]
//
// Needs TRUEUP_BINARY and TRUEUP_TEST_PG_URL (`make bench` sets both).
// Starts, on 127.0.0.1 only: one `trueup sim square` per store (one
// location each, the same catalog), one `trueup sim shopify`, and `trueup
// serve` with a Square connector per store, the Shopify connector and an
// availability channel fed by the five stores, every SKU hot. Every id is
// this run's own (the database keeps earlier runs' rows).
//
// The estate: each SKU has --stock units at every store (Square's counts and
// the receipts Trueup is given agree), so the channel shows stores × stock
// at the start and every sale takes one. The load is open loop: sale k is due
// at start + k / rate, sold at store k % stores, SKU drawn from a fixed seed,
// and carries its due time as the order's created_at; a sender that is late
// sends late, and the lateness counts against the latency (no coordinated
// omission). A sale's latency ends at the first Shopify write of its SKU,
// applied after it, whose quantity is at most the channel's value after
// that sale: quantities only fall during the run, so that write reflects at
// least as many of the SKU's sales as had happened by then. The writes'
// times are the simulator's write log (`applied_at`, microseconds).
//
// Bounded: rate × seconds sales (≤ 120,000), a 180 s wait for the last
// pushes, 60 s per start-up; everything started is stopped (SIGTERM, then
// SIGKILL). Prints figures only; asserts nothing about time.
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <numeric>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/http_client.hpp"
#include "support/process.hpp"
#include "trueup/core/time.hpp"
#include "trueup/model/timestamp.hpp"

namespace {

using nlohmann::json;
using trueup::testing::HttpClient;
using trueup::testing::Process;
using Clock = std::chrono::steady_clock;
using WallTime = std::chrono::system_clock::time_point;

constexpr const char* kSquareToken = "EAAAbench_square_token";
constexpr const char* kSquareKey = "bench-square-signature-key";
constexpr const char* kShopToken = "shpat_bench_token";
constexpr std::int64_t kShopLocation = 655441491;
constexpr std::int64_t kFirstItem = 7100000001;

struct Options {
  double rate = 200;
  double seconds = 60;
  int skus = 500;
  int stores = 5;
  long stock = 1000;
  int workers = 4;  // the daemon's defaults (workflow.workers, store.postgres.pool_size)
  int pool = 4;
  int claim_batch = 32;
  bool keep = false;
};

bool parse(int argc, char** argv, Options& o) {
  for (int i = 1; i < argc; ++i) {
    const std::string name = argv[i];
    if (name == "--keep") {
      o.keep = true;
      continue;
    }
    if (i + 1 >= argc) return false;
    const char* value = argv[++i];
    if (name == "--rate")
      o.rate = std::atof(value);
    else if (name == "--seconds")
      o.seconds = std::atof(value);
    else if (name == "--skus")
      o.skus = std::atoi(value);
    else if (name == "--stores")
      o.stores = std::atoi(value);
    else if (name == "--stock")
      o.stock = std::atol(value);
    else if (name == "--workers")
      o.workers = std::atoi(value);
    else if (name == "--pool")
      o.pool = std::atoi(value);
    else if (name == "--claim-batch")
      o.claim_batch = std::atoi(value);
    else
      return false;
  }
  return o.rate > 0 && o.seconds > 0 && o.rate * o.seconds <= 120000 && o.skus >= 1 && o.skus <= 5000 &&
         o.stores >= 1 && o.stores <= 10 && o.stock > 0 && o.workers >= 1 && o.workers <= 64 && o.pool >= 1 &&
         o.pool <= 64 && o.claim_batch >= 1 && o.claim_batch <= 1000;
}

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? std::string() : std::string(v);
}

double percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  const auto at = static_cast<std::size_t>(std::ceil(p * static_cast<double>(sorted.size())));
  return sorted[std::min(sorted.size() - 1, at == 0 ? 0 : at - 1)];
}

std::string psql(const std::string& url, const std::string& sql) {
  auto r = trueup::testing::run_process({"psql", url, "-Atc", sql}, {}, std::chrono::seconds(60));
  std::string out = r.out;
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

// Square-style ids: upper-case letters and digits.
std::string square_id(const std::string& prefix, const std::string& run, int n) {
  std::string id = prefix;
  for (char ch : run)
    if (std::isalnum(static_cast<unsigned char>(ch))) id.push_back(static_cast<char>(std::toupper(ch)));
  char digits[16];
  std::snprintf(digits, sizeof digits, "%05d", n);
  return id + digits;
}

// Everything the run started, stopped in reverse order whatever happens.
class Estate {
 public:
  ~Estate() { stop(); }
  Process& start(const std::string& name, const std::vector<std::string>& argv,
                 const std::map<std::string, std::string>& environment, const std::string& work) {
    const std::string dir = work + "/" + name;
    std::filesystem::create_directories(dir);
    processes_.push_back({name, std::make_unique<Process>(argv, environment, dir)});
    return *processes_.back().second;
  }
  void stop() {
    for (auto it = processes_.rbegin(); it != processes_.rend(); ++it) it->second->signal(SIGTERM);
    for (auto it = processes_.rbegin(); it != processes_.rend(); ++it)
      if (!it->second->wait(std::chrono::seconds(30))) {
        std::fprintf(stderr, "%s did not stop in 30 s: killed\n", it->first.c_str());
        it->second->signal(SIGKILL);
        it->second->wait(std::chrono::seconds(10));
      }
    processes_.clear();
  }

 private:
  std::vector<std::pair<std::string, std::unique_ptr<Process>>> processes_;
};

// Waits (bounded) until GET `path` answers 200.
bool wait_ready(std::uint16_t port, const std::string& path, Process& p, std::chrono::seconds bound) {
  const auto deadline = Clock::now() + bound;
  while (Clock::now() < deadline && p.running()) {
    HttpClient c("127.0.0.1", port);
    auto r = c.get(path);
    if (r && r->status == 200) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // start-up: nothing to wait on
  }
  return false;
}

// Histogram buckets of one family and channel from a /metrics text: le -> count.
std::map<double, double> buckets(const std::string& metrics, const std::string& family, const std::string& channel) {
  std::map<double, double> out;
  const std::string prefix = family + "_bucket{channel=\"" + channel + "\",le=\"";
  for (std::size_t at = metrics.find(prefix); at != std::string::npos; at = metrics.find(prefix, at + 1)) {
    const auto le_end = metrics.find('"', at + prefix.size());
    const std::string le = metrics.substr(at + prefix.size(), le_end - at - prefix.size());
    const auto value_at = metrics.find("} ", le_end) + 2;
    out[le == "+Inf" ? INFINITY : std::atof(le.c_str())] = std::atof(metrics.c_str() + value_at);
  }
  return out;
}

// The upper bound of the bucket holding quantile q of (after - before).
std::string histogram_quantile(const std::map<double, double>& before, const std::map<double, double>& after, double q,
                               double* count = nullptr) {
  std::vector<std::pair<double, double>> diff;
  for (const auto& [le, n] : after) diff.emplace_back(le, n - (before.count(le) ? before.at(le) : 0));
  if (diff.empty()) return "?";
  const double total = diff.back().second;
  if (count != nullptr) *count = total;
  if (total <= 0) return "-";
  for (const auto& [le, n] : diff)
    if (n >= q * total)
      return std::isinf(le) ? std::string("> last bucket") : "<= " + std::to_string(le).substr(0, 5) + " s";
  return "?";
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (!parse(argc, argv, o)) {
    std::fprintf(stderr,
                 "usage: sale_to_channel [--rate 200] [--seconds 60] [--skus 500] [--stores 5] [--stock 1000] "
                 "[--workers 4] [--pool 4] [--claim-batch 32] [--keep]\n  (rate x seconds <= 120000)\n");
    return 2;
  }
  const std::string binary = env("TRUEUP_BINARY"), pg = env("TRUEUP_TEST_PG_URL");
  if (binary.empty() || pg.empty()) {
    std::fprintf(stderr, "sale_to_channel: set TRUEUP_BINARY and TRUEUP_TEST_PG_URL (make bench does)\n");
    return 2;
  }
  const std::string work = trueup::testing::make_temp_dir("trueup-bench-s2c-");
  const std::string run = "s2c" + std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                                                     std::chrono::system_clock::now().time_since_epoch())
                                                     .count() %
                                                 100000000);
  auto sku = [&](int i) {
    char text[16];
    std::snprintf(text, sizeof text, "%05d", i);
    return run + "-SKU-" + text;
  };
  auto store = [&](int s) { return run + "-STORE-" + std::to_string(s + 1); };
  const std::string web = run + "-WEB";
  // Every id is this run's: the inbox dedupes on (connector, event id), and
  // a simulator's event ids repeat from run to run (seeded).
  const std::string channel = "web-" + run;
  std::printf("sale_to_channel: run %s, %d SKUs x %d stores (%ld each), %.0f sales/s for %.0f s, work dir %s\n",
              run.c_str(), o.skus, o.stores, o.stock, o.rate, o.seconds, work.c_str());

  // --- seeds -------------------------------------------------------------
  json items = json::array(), products = json::array(), levels = json::array();
  for (int i = 0; i < o.skus; ++i) {
    items.push_back({{"id", square_id("I", run, i)},
                     {"name", "Item " + std::to_string(i)},
                     {"variations", json::array({{{"id", square_id("V", run, i)},
                                                  {"name", "One size"},
                                                  {"sku", sku(i)},
                                                  {"price_money", {{"amount", 1500}, {"currency", "USD"}}}}})}});
    products.push_back({{"id", 6100000001 + i},
                        {"title", "Item " + std::to_string(i)},
                        {"variants", json::array({{{"id", 8100000001 + i},
                                                   {"title", "One size"},
                                                   {"sku", sku(i)},
                                                   {"price", "15.00"},
                                                   {"inventory_item_id", kFirstItem + i}}})}});
    levels.push_back({{"inventory_item_id", kFirstItem + i}, {"location_id", kShopLocation}, {"available", 0}});
  }
  trueup::testing::write_file(work + "/shop-seed.json",
                              json{{"shop", {{"domain", run + ".myshopify.com"}, {"currency", "USD"}}},
                                   {"locations", json::array({{{"id", kShopLocation}, {"name", "Web"}}})},
                                   {"products", products},
                                   {"inventory_levels", levels}}
                                  .dump());
  // Square: enough calls a second for the order fetches (the default 10/s is
  // a real account's guess, not what this load needs).
  trueup::testing::write_file(work + "/square-sim.json", R"({"rate_per_second": 2000, "burst": 2000})");
  const std::uint16_t trueup_port = trueup::testing::free_port();
  std::vector<std::uint16_t> square_ports;
  for (int s = 0; s < o.stores; ++s) {
    json counts = json::array();
    for (int i = 0; i < o.skus; ++i)
      counts.push_back({{"catalog_object_id", square_id("V", run, i)},
                        {"location_id", square_id("L", run, s)},
                        {"quantity", std::to_string(o.stock)}});
    trueup::testing::write_file(
        work + "/square-seed-" + std::to_string(s) + ".json",
        json{{"merchant", {{"id", square_id("M", run, s)}, {"currency", "USD"}}},
             {"locations", json::array({{{"id", square_id("L", run, s)}, {"name", "Store " + std::to_string(s + 1)}}})},
             {"items", items},
             {"inventory_counts", counts}}
            .dump());
  }

  // --- processes ---------------------------------------------------------
  Estate estate;
  const std::uint16_t shop_port = trueup::testing::free_port();
  Process& shop_sim =
      estate.start("shopify-sim",
                   {binary, "sim", "shopify", "--port", std::to_string(shop_port), "--seed", work + "/shop-seed.json"},
                   {{"SHOPIFY_ACCESS_TOKEN", kShopToken}}, work);
  if (!wait_ready(shop_port, "/_sim/inspect", shop_sim, std::chrono::seconds(60))) {
    std::fprintf(stderr, "the Shopify simulator did not start: %s\n", shop_sim.stderr_text().c_str());
    return 1;
  }
  std::string connectors = "connectors:\n  square:\n";
  for (int s = 0; s < o.stores; ++s) {
    const std::uint16_t port = trueup::testing::free_port();
    square_ports.push_back(port);
    const std::string id = run + "-sq-" + std::to_string(s + 1);
    const std::string hook = "http://127.0.0.1:" + std::to_string(trueup_port) + "/v1/webhooks/" + id;
    Process& p =
        estate.start("square-sim-" + std::to_string(s + 1),
                     {binary, "sim", "square", "--port", std::to_string(port), "--seed",
                      work + "/square-seed-" + std::to_string(s) + ".json", "--config", work + "/square-sim.json",
                      "--webhook-url", hook, "--notification-url", hook},
                     {{"SQUARE_ACCESS_TOKEN", kSquareToken}, {"SQUARE_WEBHOOK_SIGNATURE_KEY", kSquareKey}}, work);
    if (!wait_ready(port, "/_sim/inspect", p, std::chrono::seconds(60))) {
      std::fprintf(stderr, "Square simulator %d did not start: %s\n", s + 1, p.stderr_text().c_str());
      return 1;
    }
    connectors += "    - id: " + id + "\n      channel: pos\n      signature_key: ${SQ_KEY}\n" +
                  "      access_token: ${SQ_TOKEN}\n      api_base_url: http://127.0.0.1:" + std::to_string(port) +
                  "\n      notification_url: " + hook +
                  "\n      rate_limit_per_second: 1000\n      rate_limit_burst: 1000\n";
  }
  connectors += "  shopify:\n    - id: " + run + "-shop\n      channel: " + channel +
                "\n      webhook_secret: ${SHOP_SECRET}\n      access_token: ${SHOP_TOKEN}\n      api_base_url: "
                "http://127.0.0.1:" +
                std::to_string(shop_port) + "\n";
  std::string locations, hot;
  for (int s = 0; s < o.stores; ++s) locations += (s ? ", " : "") + store(s);
  for (int i = 0; i < o.skus; ++i) hot += (i ? ", " : "") + sku(i);
  trueup::testing::write_file(
      work + "/trueup.yaml",
      "instance_id: " + run + "\nhttp:\n  port: " + std::to_string(trueup_port) +
          "\n  access_log: false\napi:\n  allow_anonymous: true\nworkflow:\n  workers: " + std::to_string(o.workers) +
          "\n  claim_batch: " + std::to_string(o.claim_batch) +
          "\nstore:\n  postgres:\n    url: ${BENCH_PG}\n    pool_size: " + std::to_string(o.pool) + "\n" + connectors +
          "availability:\n  channels:\n    - code: " + channel + "\n      locations: [" + locations +
          "]\n      push_connector: " + run + "-shop\n      push_location: " + web + "\n  tiers:\n    hot_skus: [" +
          hot + "]\n    cold_interval: 5m\n  drift:\n    check_interval: 0s\n");
  Process& daemon = estate.start("trueup", {binary, "serve", "--config", work + "/trueup.yaml"},
                                 {{"BENCH_PG", pg},
                                  {"SQ_KEY", kSquareKey},
                                  {"SQ_TOKEN", kSquareToken},
                                  {"SHOP_SECRET", "bench-shop-secret"},
                                  {"SHOP_TOKEN", kShopToken}},
                                 work);
  if (!wait_ready(trueup_port, "/healthz", daemon, std::chrono::seconds(60))) {
    std::fprintf(stderr, "trueup serve did not start: %s\n", daemon.stderr_text().substr(0, 2000).c_str());
    return 1;
  }
  HttpClient api("127.0.0.1", trueup_port);

  // --- crosswalk and opening stock ---------------------------------------
  std::string csv = "system,entity,external_id,canonical_id\n";
  csv += "shopify,location," + std::to_string(kShopLocation) + "," + web + "\n";
  for (int s = 0; s < o.stores; ++s) csv += "square,location," + square_id("L", run, s) + "," + store(s) + "\n";
  for (int i = 0; i < o.skus; ++i) {
    csv += "square,item_variation," + square_id("V", run, i) + "," + sku(i) + "\n";
    csv += "shopify,inventory_item," + std::to_string(kFirstItem + i) + "," + sku(i) + "\n";
  }
  auto imported = api.request("POST", "/v1/crosswalk/import", csv, {{"Content-Type", "text/csv"}});
  if (!imported || imported->status != 200) {
    std::fprintf(stderr, "crosswalk import failed: %s\n", imported ? imported->body.c_str() : "no answer");
    return 1;
  }
  const std::string an_hour_ago = trueup::format_utc(std::chrono::system_clock::now() - std::chrono::hours(1), 3);
  json receipts = json::array();
  auto send_receipts = [&]() {
    auto r = api.request("POST", "/v1/inventory/movements", receipts.dump(), {{"Content-Type", "application/json"}});
    receipts = json::array();
    return r && r->status == 202;
  };
  for (int s = 0; s < o.stores; ++s)
    for (int i = 0; i < o.skus; ++i) {
      receipts.push_back({{"movement_id", run + "-open-" + std::to_string(s) + "-" + std::to_string(i)},
                          {"kind", "receipt"},
                          {"sku", sku(i)},
                          {"location", store(s)},
                          {"quantity_delta", std::to_string(o.stock)},
                          {"occurred_at", an_hour_ago},
                          {"source_system", "wms"},
                          {"source_reference", "opening"}});
      if (receipts.size() == 500 && !send_receipts()) {
        std::fprintf(stderr, "opening stock refused\n");
        return 1;
      }
    }
  if (!receipts.empty() && !send_receipts()) {
    std::fprintf(stderr, "opening stock refused\n");
    return 1;
  }
  const long opening = o.stock * o.stores;
  const auto settled = [&](const std::string& values_sql, int n, std::chrono::seconds bound) {
    const auto deadline = Clock::now() + bound;
    while (Clock::now() < deadline) {
      if (psql(pg, "SELECT count(*) FROM availability_published WHERE channel = '" + channel +
                       "' AND (sku, available) IN (VALUES " + values_sql + ")") == std::to_string(n))
        return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(250));  // polling the store: nothing to wait on
    }
    return false;
  };
  std::string opening_values;
  for (int i = 0; i < o.skus; ++i)
    opening_values += (i ? ", ('" : "('") + sku(i) + "', " + std::to_string(opening) + ")";
  const auto settle_started = Clock::now();
  if (!settled(opening_values, o.skus, std::chrono::seconds(180))) {
    std::fprintf(stderr, "the opening stock was not pushed within 180 s\n");
    return 1;
  }
  std::printf("opening stock pushed (%d SKUs at %ld) in %.1f s\n", o.skus, opening,
              std::chrono::duration<double>(Clock::now() - settle_started).count());
  HttpClient shop("127.0.0.1", shop_port);
  const std::size_t writes_before = json::parse(shop.get("/_sim/inspect")->body)["write_log"].size();
  const std::string metrics_before = api.get("/metrics")->body;

  // --- the load ----------------------------------------------------------
  const long total = static_cast<long>(o.rate * o.seconds);
  std::mt19937 draw(20261127);
  std::uniform_int_distribution<int> pick(0, o.skus - 1);
  struct Sale {
    int sku;
    long value_after;  // the channel's quantity once this sale is counted
    WallTime at;
  };
  std::vector<Sale> sales(static_cast<std::size_t>(total));
  std::vector<long> sold(static_cast<std::size_t>(o.skus), 0);
  const auto start = Clock::now() + std::chrono::milliseconds(500);
  const WallTime wall_start = std::chrono::system_clock::now() + std::chrono::milliseconds(500);
  std::vector<long> sold_at_store(static_cast<std::size_t>(o.skus) * o.stores, 0);
  for (long k = 0; k < total; ++k) {
    const int i = pick(draw);
    // A store never sells out: the channel's quantity falls with every sale.
    if (++sold_at_store[static_cast<std::size_t>(i) * o.stores + k % o.stores] >= o.stock) {
      std::fprintf(stderr, "--stock %ld is too small for this load: a store would sell out\n", o.stock);
      return 2;
    }
    sales[k] = Sale{i, opening - ++sold[i],
                    wall_start + std::chrono::duration_cast<WallTime::duration>(
                                     std::chrono::duration<double>(static_cast<double>(k) / o.rate))};
  }
  std::vector<std::vector<double>> lateness(o.stores);
  std::atomic<long> failed{0};
  std::vector<std::thread> senders;
  for (int s = 0; s < o.stores; ++s)
    senders.emplace_back([&, s] {
      HttpClient sim("127.0.0.1", square_ports[s]);
      for (long k = s; k < total; k += o.stores) {
        const auto due = start + std::chrono::duration_cast<Clock::duration>(
                                     std::chrono::duration<double>(static_cast<double>(k) / o.rate));
        std::this_thread::sleep_until(due);  // the schedule itself, not a synchronisation
        lateness[s].push_back(std::chrono::duration<double, std::milli>(Clock::now() - due).count());
        const json spec{{"location_id", square_id("L", run, s)},
                        {"line_items", json::array({{{"sku", sku(sales[k].sku)}, {"quantity", "1"}}})},
                        {"created_at", trueup::format_utc(sales[k].at, 3)},
                        {"order_created_event", false}};
        auto r = sim.request("POST", "/_sim/sales", spec.dump(), {{"Content-Type", "application/json"}});
        if (!r || r->status != 201) failed.fetch_add(1);
      }
    });
  for (auto& t : senders) t.join();
  const double load_seconds = std::chrono::duration<double>(Clock::now() - start).count();

  // Until every SKU shows its final value (bounded).
  std::string final_values;
  for (int i = 0; i < o.skus; ++i)
    final_values += (i ? ", ('" : "('") + sku(i) + "', " + std::to_string(opening - sold[i]) + ")";
  const auto drain_started = Clock::now();
  const bool caught_up = settled(final_values, o.skus, std::chrono::seconds(180));
  const double drain_seconds = std::chrono::duration<double>(Clock::now() - drain_started).count();

  // --- figures -----------------------------------------------------------
  const json inspect = json::parse(shop.get("/_sim/inspect")->body);
  const std::string metrics_after = api.get("/metrics")->body;
  std::vector<std::vector<std::pair<WallTime, long>>> writes(o.skus);  // per SKU: (applied_at, quantity)
  long batches = 0, quantities = 0, repeated = 0;  // repeated: the SKU's previous write had the same value
  const json& log = inspect["write_log"];
  for (std::size_t w = writes_before; w < log.size(); ++w) {
    if (log[w]["operation"] != "inventorySetQuantities") continue;
    const auto applied = trueup::model::Timestamp::parse(log[w]["body"]["applied_at"].get<std::string>());
    if (!applied) continue;
    ++batches;
    for (const auto& q : log[w]["body"]["input"]["quantities"]) {
      const std::string gid = q["inventoryItemId"];
      const long long item = std::atoll(gid.substr(gid.rfind('/') + 1).c_str());
      const long long i = item - kFirstItem;
      if (i < 0 || i >= o.skus) continue;
      ++quantities;
      if (!writes[i].empty() && writes[i].back().second == q["quantity"].get<long>()) ++repeated;
      writes[i].emplace_back(
          std::chrono::time_point_cast<WallTime::duration>(WallTime(applied->utc().time_since_epoch())),
          q["quantity"].get<long>());
    }
  }
  std::vector<double> latency;
  // The same per 10 s of the schedule: a backlog that grows shows here.
  std::vector<std::vector<double>> windows(static_cast<std::size_t>(std::ceil(o.seconds / 10)));
  std::vector<std::size_t> next(o.skus, 0);
  long unseen = 0;
  for (const auto& sale : sales) {
    auto& list = writes[sale.sku];
    std::size_t& w = next[sale.sku];
    while (w < list.size() && (list[w].first < sale.at || list[w].second > sale.value_after)) ++w;
    if (w == list.size()) {
      ++unseen;
      continue;
    }
    latency.push_back(std::chrono::duration<double>(list[w].first - sale.at).count());
    const auto window = static_cast<std::size_t>(std::chrono::duration<double>(sale.at - wall_start).count() / 10);
    windows[std::min(window, windows.size() - 1)].push_back(latency.back());
  }
  std::sort(latency.begin(), latency.end());
  std::vector<double> late;
  for (const auto& l : lateness) late.insert(late.end(), l.begin(), l.end());
  std::sort(late.begin(), late.end());
  const auto s2c_before = buckets(metrics_before, "trueup_availability_sale_to_channel_seconds", channel);
  const auto s2c_after = buckets(metrics_after, "trueup_availability_sale_to_channel_seconds", channel);
  double observed = 0;
  const std::string metric_p50 = histogram_quantile(s2c_before, s2c_after, 0.5, &observed);
  const std::string metric_p99 = histogram_quantile(s2c_before, s2c_after, 0.99);

  std::printf(
      "load: %ld sales in %.1f s (%.1f/s), %ld refused by the simulators; sender lateness p50=%.1f ms "
      "p99=%.1f ms max=%.1f ms\n",
      total, load_seconds, static_cast<double>(total) / load_seconds, failed.load(), percentile(late, 0.5),
      percentile(late, 0.99), late.empty() ? 0.0 : late.back());
  std::printf(
      "shopify: %ld inventorySetQuantities batches, %ld quantities (%.1f per batch, %ld repeating the SKU's "
      "previous value), %lld throttled; last values %s %.1f s after the load\n",
      batches, quantities, batches ? static_cast<double>(quantities) / batches : 0.0, repeated,
      inspect.value("throttled_429", 0LL), caught_up ? "all right" : "NOT all right", drain_seconds);
  std::printf(
      "sale -> Shopify write (simulator's write log, from each sale's due time): p50=%.3f s p99=%.3f s "
      "max=%.3f s mean=%.3f s  (%zu sales carried, %ld not seen)  (target p99 <= 1 s)\n",
      percentile(latency, 0.5), percentile(latency, 0.99), latency.empty() ? 0.0 : latency.back(),
      latency.empty() ? 0.0 : std::accumulate(latency.begin(), latency.end(), 0.0) / latency.size(), latency.size(),
      unseen);
  std::string by_window;
  for (std::size_t w = 0; w < windows.size(); ++w) {
    std::sort(windows[w].begin(), windows[w].end());
    char text[64];
    std::snprintf(text, sizeof text, "%s%zu-%zus %.2f/%.2f", w ? ", " : "", w * 10, w * 10 + 10,
                  percentile(windows[w], 0.5), percentile(windows[w], 0.99));
    by_window += text;
  }
  std::printf("  p50/p99 (s) by when the sale was due: %s\n", by_window.c_str());
  std::printf(
      "trueup_availability_sale_to_channel_seconds{channel=\"%s\"} over the load: %.0f pushes, p50 %s, "
      "p99 %s (bucket bounds)\n",
      channel.c_str(), observed, metric_p50.c_str(), metric_p99.c_str());
  // Where the time goes: sale -> ledger (webhooks, inbox, workflows), then
  // the service's own part (change seen -> channel accepted).
  const std::string ledger =
      psql(pg,
           "SELECT round(percentile_cont(0.5) WITHIN GROUP (ORDER BY d)::numeric, 3) || ' s, p99 ' || "
           "round(percentile_cont(0.99) WITHIN GROUP (ORDER BY d)::numeric, 3) || ' s' FROM (SELECT extract(epoch FROM "
           "recorded_at - occurred_at::timestamptz) AS d FROM inventory_ledger WHERE sku LIKE '" +
               run + "-%' AND kind IN ('sale', 'count')) t");
  const auto delay_before = buckets(metrics_before, "trueup_availability_push_delay_seconds", channel);
  const auto delay_after = buckets(metrics_after, "trueup_availability_push_delay_seconds", channel);
  std::printf(
      "  of which sale -> ledger row (Square webhooks, inbox, workflows): p50 %s; change seen by the "
      "availability service -> Shopify accepted: p50 %s, p99 %s (bucket bounds)\n",
      ledger.c_str(), histogram_quantile(delay_before, delay_after, 0.5).c_str(),
      histogram_quantile(delay_before, delay_after, 0.99).c_str());
  long published = 0, delivered = 0, failed_deliveries = 0;
  std::string last_failure;
  for (auto port : square_ports) {
    HttpClient sim("127.0.0.1", port);
    auto r = sim.get("/_sim/inspect");
    if (!r || r->status != 200) continue;
    const json hooks = json::parse(r->body)["webhooks"];
    published += hooks.value("published", 0L);
    delivered += hooks.value("delivered", 0L);
    failed_deliveries += hooks.value("failed", 0L);
    for (const auto& a : hooks.value("attempts", json::array()))
      if (a.value("status", 0) != 200) last_failure = a.dump();
  }
  std::printf("  square webhooks: %ld published, %ld delivered, %ld failed%s%s\n", published, delivered,
              failed_deliveries, last_failure.empty() ? "" : "; last failed attempt ", last_failure.c_str());
  estate.stop();
  if (!o.keep && caught_up)
    std::filesystem::remove_all(work);
  else
    std::printf("logs kept in %s\n", work.c_str());
  return caught_up ? 0 : 1;
}
