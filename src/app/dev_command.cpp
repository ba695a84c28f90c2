#include "dev_command.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <deque>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "application.hpp"
#include "business_central/simulator.hpp"
#include "dev_estate.hpp"
#include "shopify/simulator.hpp"
#include "square/simulator.hpp"
#include "stop_signals.hpp"
#include "trueup/crosswalk/crosswalk.hpp"
#include "trueup/http/client.hpp"
#include "trueup/log/log.hpp"
#include "trueup/metrics/registry.hpp"
#include "trueup/store/store.hpp"

namespace trueup::app::dev {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr int kOk = 0;
constexpr int kRuntimeFailure = 1;
constexpr int kUsageError = 2;

// ---- the metrics the summary reads (this process's registry, text format) ----

struct Sample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

std::vector<Sample> parse_metrics(const std::string& text) {
  std::vector<Sample> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    Sample s;
    std::size_t at = line.find_first_of("{ ");
    if (at == std::string::npos) continue;
    s.name = line.substr(0, at);
    if (line[at] == '{') {
      const std::size_t end = line.find('}', at);
      if (end == std::string::npos) continue;
      std::string body = line.substr(at + 1, end - at - 1);
      std::size_t pos = 0;
      while (pos < body.size()) {
        const std::size_t eq = body.find("=\"", pos);
        if (eq == std::string::npos) break;
        std::size_t close = eq + 2;
        std::string value;
        while (close < body.size() && body[close] != '"') {
          if (body[close] == '\\' && close + 1 < body.size()) ++close;
          value += body[close++];
        }
        s.labels[body.substr(pos, eq - pos)] = value;
        pos = close + 2;  // past `",`
      }
      at = end + 1;
    }
    try {
      s.value = std::stod(line.substr(at));
    } catch (const std::exception&) {
      continue;
    }
    out.push_back(std::move(s));
  }
  return out;
}

double sum_of(const std::vector<Sample>& samples, const std::string& name,
              const std::map<std::string, std::string>& match = {}) {
  double total = 0;
  for (const auto& s : samples) {
    if (s.name != name) continue;
    bool ok = true;
    for (const auto& [k, v] : match)
      if (auto it = s.labels.find(k); it == s.labels.end() || it->second != v) ok = false;
    if (ok) total += s.value;
  }
  return total;
}

// Cumulative bucket counts of a histogram family (summed over its label sets), by upper bound.
std::map<double, double> buckets_of(const std::vector<Sample>& samples, const std::string& family) {
  std::map<double, double> out;
  for (const auto& s : samples) {
    if (s.name != family + "_bucket") continue;
    auto le = s.labels.find("le");
    if (le == s.labels.end()) continue;
    const double bound = le->second == "+Inf" ? INFINITY : std::stod(le->second);
    out[bound] += s.value;
  }
  return out;
}

// The upper bound of the bucket holding quantile q of what was observed
// between two snapshots; nullopt when nothing was.
std::optional<double> quantile_between(const std::map<double, double>& before, const std::map<double, double>& now,
                                       double q) {
  double total = 0;
  for (const auto& [bound, count] : now)
    if (std::isinf(bound)) total = count - (before.count(bound) ? before.at(bound) : 0);
  if (total <= 0) return std::nullopt;
  for (const auto& [bound, count] : now) {
    const double in_window = count - (before.count(bound) ? before.at(bound) : 0);
    if (in_window >= q * total) return bound;
  }
  return std::nullopt;
}

// ---- the driver: the estate's customers, staff and warehouse ----------------

struct DriverCounts {
  std::atomic<long> sales{0};
  std::atomic<long> returns{0};
  std::atomic<long> web_orders{0};
  std::atomic<long> web_fulfilled{0};
  std::atomic<long> receipts{0};
  std::atomic<long> manual_edits{0};
  std::atomic<long> failures{0};
};

class Driver {
 public:
  Driver(const Estate& estate, double sales_per_second, std::uint64_t seed, std::uint16_t square_port,
         std::uint16_t shopify_port, std::uint16_t bc_port)
      : estate_(estate),
        sales_per_second_(sales_per_second),
        random_(seed * 7919 + 17),
        square_("127.0.0.1", square_port, std::chrono::seconds(10)),
        shopify_("127.0.0.1", shopify_port, std::chrono::seconds(10)),
        bc_("127.0.0.1", bc_port, std::chrono::seconds(10)) {
    // A fifth of the range sells half the time: those SKUs become hot by velocity.
    std::vector<std::size_t> order(estate_.skus.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::shuffle(order.begin(), order.end(), random_);
    popular_.assign(order.begin(), order.begin() + static_cast<long>(std::max<std::size_t>(1, order.size() / 5)));
  }

  void start() {
    thread_ = std::thread([this] { loop(); });
  }
  void stop() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }
  const DriverCounts& counts() const { return counts_; }

 private:
  struct RecentSale {
    std::string order_id;
    std::vector<std::pair<std::string, std::string>> lines;  // uid, quantity
    Clock::time_point at;
  };
  struct WebOrder {
    std::string id;
    std::vector<std::pair<std::string, int>> lines;  // sku, quantity
    Clock::time_point at;
  };

  double uniform() { return std::uniform_real_distribution<double>(0, 1)(random_); }
  std::size_t pick(std::size_t n) { return std::uniform_int_distribution<std::size_t>(0, n - 1)(random_); }
  const EstateSku& pick_sku() {
    return uniform() < 0.5 ? estate_.skus[popular_[pick(popular_.size())]] : estate_.skus[pick(estate_.skus.size())];
  }

  // Pacing, not synchronisation: the estate's customers arrive on a clock.
  bool wait_until(Clock::time_point t) {
    std::unique_lock lock(mutex_);
    cv_.wait_until(lock, t, [this] { return stopping_; });
    return !stopping_;
  }

  std::optional<json> call(http::BlockingClient& client, const std::string& method, const std::string& path,
                           const json& body, int expect) {
    auto r = client.request(method, path, body.dump(), {{"Content-Type", "application/json"}});
    if (!r || r->status != expect) {
      counts_.failures.fetch_add(1);
      log::warn("dev driver: simulator call failed",
                {{"call", method + " " + path},
                 {"error", r ? std::to_string(r->status) + " " + r->body.substr(0, 300) : r.error().describe()}});
      return std::nullopt;
    }
    return json::parse(r->body, nullptr, false);
  }

  void sell() {
    const auto& store = estate_.stores[pick(estate_.stores.size())];
    json lines = json::array();
    const int count = uniform() < 0.7 ? 1 : uniform() < 0.7 ? 2 : 3;
    for (int i = 0; i < count; ++i)
      lines.push_back({{"sku", pick_sku().sku}, {"quantity", uniform() < 0.85 ? "1" : "2"}});
    // The Square POS app sends no order.created; order.updated when paid.
    auto r =
        call(square_, "POST", "/_sim/sales",
             {{"location_id", store.square_location_id}, {"line_items", lines}, {"order_created_event", false}}, 201);
    if (!r || !r->contains("orders") || (*r)["orders"].empty()) return;
    counts_.sales.fetch_add(1);
    const json& order = (*r)["orders"][0];
    RecentSale sale{order.value("id", ""), {}, Clock::now()};
    for (const auto& line : order.value("line_items", json::array()))
      sale.lines.emplace_back(line.value("uid", ""), line.value("quantity", "1"));
    recent_.push_back(std::move(sale));
    if (recent_.size() > 200) recent_.pop_front();
  }

  // A customer brings one line of an earlier sale back; it goes back on the shelf.
  void return_one() {
    const auto now = Clock::now();
    for (auto it = recent_.begin(); it != recent_.end(); ++it) {
      if (now - it->at < std::chrono::seconds(5)) break;
      if (it->lines.empty()) continue;
      const auto line = it->lines.front();
      auto r =
          call(square_, "POST", "/_sim/refunds",
               {{"order_id", it->order_id},
                {"return_line_items", json::array({{{"source_line_item_uid", line.first}, {"quantity", line.second}}})},
                {"restock", true},
                {"reason", "Customer return"}},
               201);
      recent_.erase(it);
      if (r) counts_.returns.fetch_add(1);
      return;
    }
  }

  void order_online() {
    json lines = json::array();
    WebOrder web;
    const int count = uniform() < 0.6 ? 1 : 2;
    for (int i = 0; i < count; ++i) {
      const auto& sku = pick_sku();
      lines.push_back({{"sku", sku.sku}, {"quantity", 1}});
      web.lines.emplace_back(sku.sku, 1);
    }
    auto r = call(shopify_, "POST", "/_sim/orders", {{"line_items", lines}, {"email", "customer@example.com"}}, 201);
    if (!r || !r->contains("orders") || (*r)["orders"].empty()) return;
    const json& order = (*r)["orders"][0];
    web.id = order["id"].is_string() ? order["id"].get<std::string>() : std::to_string(order["id"].get<std::int64_t>());
    web.at = Clock::now();
    counts_.web_orders.fetch_add(1);
    web_.push_back(std::move(web));
  }

  // The warehouse ships web orders after a while: the ERP books the shipment
  // (a Sale entry at the warehouse) and the shop marks the order fulfilled.
  void fulfil_due() {
    const auto now = Clock::now();
    while (!web_.empty() && now - web_.front().at >= std::chrono::seconds(20)) {
      const WebOrder web = std::move(web_.front());
      web_.pop_front();
      for (const auto& [sku, quantity] : web.lines)
        call(bc_, "POST", "/_sim/item_ledger_entries",
             {{"itemNumber", sku},
              {"locationCode", estate_.warehouse},
              {"quantity", -quantity},
              {"entryType", "Sale"},
              {"documentNumber", "W" + web.id}},  // the shop order id (BC numbers hold 20)
             201);
      if (call(shopify_, "PUT", "/_sim/orders/" + web.id, {{"fulfillment_status", "fulfilled"}}, 200))
        counts_.web_fulfilled.fetch_add(1);
    }
  }

  // Purchasing: what runs low at a location is received again (a Purchase
  // entry in the ERP ledger).
  void replenish() {
    auto r = bc_.request("GET", "/_sim/inventory");
    if (!r || r->status != 200) {
      counts_.failures.fetch_add(1);
      return;
    }
    const json inventory = json::parse(r->body, nullptr, false);
    if (!inventory.is_object() || !inventory.contains("items")) return;
    for (const auto& item : inventory["items"]) {
      if (!item.contains("locations") || !item["locations"].is_object()) continue;
      for (const auto& [location, quantity] : item["locations"].items()) {
        if (!quantity.is_number() || quantity.get<double>() >= 4) continue;
        if (call(bc_, "POST", "/_sim/item_ledger_entries",
                 {{"itemNumber", item["itemNumber"]},
                  {"locationCode", location},
                  {"quantity", location == estate_.warehouse ? 40 : 12},
                  {"entryType", "Purchase"},
                  {"documentNumber", "PO-" + std::to_string(++purchase_orders_)}},
                 201))
          counts_.receipts.fetch_add(1);
      }
    }
  }

  // Someone edits a quantity in the Shopify admin: drift for Trueup to repair.
  void edit_shop_by_hand() {
    const auto& sku = estate_.skus[pick(estate_.skus.size())];
    if (call(shopify_, "PUT", "/_sim/inventory_levels",
             {{"location_id", estate_.shopify_location_id},
              {"inventory_item_id", sku.shopify_inventory_item_id},
              {"available", 99}},
             200)) {
      counts_.manual_edits.fetch_add(1);
      log::info("dev driver: a shop quantity was edited by hand (drift)", {{"sku", sku.sku}, {"available", "99"}});
    }
  }

  void loop() {
    const auto sale_every = std::chrono::duration_cast<Clock::duration>(
        std::chrono::duration<double>(1.0 / std::max(0.01, sales_per_second_)));
    auto next_sale = Clock::now();
    auto next_web = Clock::now() + std::chrono::seconds(2);
    auto next_replenish = Clock::now() + std::chrono::seconds(30);
    auto next_edit = Clock::now() + std::chrono::seconds(45);
    while (true) {
      const auto next = std::min({next_sale, next_web, next_replenish, next_edit});
      if (!wait_until(next)) return;
      const auto now = Clock::now();
      if (now >= next_sale) {
        sell();
        if (uniform() < 0.06) return_one();
        next_sale += sale_every;
        if (next_sale < now) next_sale = now;  // behind (a slow simulator): no burst to catch up
      }
      if (now >= next_web) {
        order_online();
        fulfil_due();
        next_web = now + std::chrono::milliseconds(2000 + static_cast<int>(pick(4000)));
      }
      if (now >= next_replenish) {
        replenish();
        next_replenish = now + std::chrono::seconds(30);
      }
      if (now >= next_edit) {
        edit_shop_by_hand();
        next_edit = now + std::chrono::seconds(120);
      }
    }
  }

  const Estate& estate_;
  double sales_per_second_;
  std::mt19937_64 random_;
  http::BlockingClient square_;
  http::BlockingClient shopify_;
  http::BlockingClient bc_;
  std::vector<std::size_t> popular_;
  std::deque<RecentSale> recent_;
  std::deque<WebOrder> web_;
  long purchase_orders_ = 0;
  DriverCounts counts_;
  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool stopping_ = false;
};

// ---- the live summary ---------------------------------------------------------

class Summary {
 public:
  Summary(metrics::Registry& registry, const DriverCounts& driver, connectors::sim::SimulatorCore& erp)
      : registry_(registry), driver_(driver), erp_(erp), started_(Clock::now()) {}

  std::string line() {
    const auto samples = parse_metrics(registry_.render());
    const auto latency = buckets_of(samples, "trueup_availability_sale_to_channel_seconds");
    const auto p99 = quantile_between(previous_latency_, latency, 0.99);
    previous_latency_ = latency;

    // The ERP's own record: how many receipts it posted, and whether any twice.
    const json seen = erp_.inspection().to_json();
    long posted = 0;
    long twice = 0;
    if (seen.contains("keys") && seen["keys"].contains("posted_external_document_number"))
      for (const auto& [edn, count] : seen["keys"]["posted_external_document_number"].items()) {
        ++posted;
        if (count.get<long>() > 1) ++twice;
      }

    const auto elapsed = std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - started_).count();
    char clock[32];
    std::snprintf(clock, sizeof clock, "%02lld:%02lld:%02lld", static_cast<long long>(elapsed / 3600),
                  static_cast<long long>(elapsed / 60 % 60), static_cast<long long>(elapsed % 60));
    std::ostringstream out;
    out << "[" << clock << "] sales " << driver_.sales.load() << " (returns " << driver_.returns.load() << ", web "
        << driver_.web_orders.load() << ")  ERP posted " << posted << " docs";
    if (twice > 0) out << " (" << twice << " TWICE)";
    out << "  pushes "
        << static_cast<long>(sum_of(samples, "trueup_availability_pushes_total", {{"result", "accepted"}})) << " (429s "
        << static_cast<long>(sum_of(samples, "trueup_connector_rate_limited_total")) << ")"
        << "  sale->web p99 ";
    if (p99) {
      char figure[32];
      std::snprintf(figure, sizeof figure, std::isinf(*p99) ? ">10 s" : "<=%.3g s", *p99);
      out << figure;
    } else {
      out << "-";
    }
    out << "  drift repaired " << static_cast<long>(sum_of(samples, "trueup_inventory_drift_total"))
        << "  exceptions open " << static_cast<long>(sum_of(samples, "trueup_exceptions_open"));
    std::map<std::string, long> kinds;
    for (const auto& s : samples)
      if (s.name == "trueup_exceptions_open" && s.value > 0)
        kinds[s.labels.count("kind") ? s.labels.at("kind") : "?"] += static_cast<long>(s.value);
    if (!kinds.empty()) {
      out << " (";
      bool first = true;
      for (const auto& [kind, n] : kinds) {
        out << (first ? "" : ", ") << kind << " " << n;
        first = false;
      }
      out << ")";
    }
    if (driver_.failures.load() > 0) out << "  driver failures " << driver_.failures.load();
    return out.str();
  }

 private:
  metrics::Registry& registry_;
  const DriverCounts& driver_;
  connectors::sim::SimulatorCore& erp_;
  Clock::time_point started_;
  std::map<double, double> previous_latency_;
};

// ---- the simulators -------------------------------------------------------------

template <class Settings, class Apply>
std::optional<Settings> configured(const char* system, Settings base, const json& config, Apply apply) {
  auto applied = apply(base, config);
  if (!applied) {
    std::cerr << "trueup dev: " << system << " simulator: " << applied.error().message << "\n";
    return std::nullopt;
  }
  return std::move(applied).value();
}

template <class Simulator, class Settings>
std::unique_ptr<Simulator> started(const char* system, Settings settings, const json& seed) {
  auto sim = Simulator::create(std::move(settings), seed);
  if (!sim) {
    std::cerr << "trueup dev: " << system << " simulator: " << sim.error().message << "\n";
    return nullptr;
  }
  if (auto st = (*sim)->start(); !st) {
    std::cerr << "trueup dev: " << system << " simulator: " << st.error().describe() << "\n";
    return nullptr;
  }
  return std::move(sim).value();
}

std::uint16_t free_port() {
  // Bind port 0 on loopback, read what the kernel chose, close.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return 0;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof address;
  std::uint16_t port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0)
    port = ntohs(address.sin_port);
  ::close(fd);
  return port;
}

std::string env_or(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::string(v) : fallback;
}

// The estate's ids, loaded as `trueup crosswalk import` would, before the
// daemon starts: its first polls already find every mapping.
Status load_crosswalk(const DaemonSettings& settings, const std::string& csv) {
  auto store = open_store(settings);
  if (!store) return std::move(store).error();
  Status result = Ok{};
  if (auto migrated = (*store)->migrate(store::embedded_migrations((*store)->engine())); !migrated) {
    result = std::move(migrated).error();
  } else {
    metrics::Registry unused;
    crosswalk::Crosswalk crosswalk(**store, settings.crosswalk, unused);
    if (auto imported = crosswalk.import_csv(csv, "trueup dev"); !imported) result = std::move(imported).error();
  }
  (*store)->stop();
  return result;
}

}  // namespace

int run(const DevOptions& o, const SettingsLoader& load) {
  // Stop signals are taken by sigwait below; every thread started from here
  // on (simulators, daemon, driver) inherits the mask.
  const sigset_t stop_signals = block_stop_signals();

  int port = o.port >= 0 ? o.port : std::stoi(env_or("TRUEUP_DEV_PORT", "8080"));
  if (port == 0) port = free_port();
  if (port <= 0 || port > 65535) {
    std::cerr << "trueup dev: no free port\n";
    return kRuntimeFailure;
  }
  setenv("TRUEUP_DEV_PORT", std::to_string(port).c_str(), 1);
  const std::string db = o.db.empty() ? env_or("TRUEUP_DEV_DB", "trueup-dev.db") : o.db;
  setenv("TRUEUP_DEV_DB", db.c_str(), 1);

  const Estate estate = make_estate(EstateSpec{o.skus, o.stores, o.seed});
  std::string text = dev_config_yaml();
  if (o.estate) text += estate_config_yaml(estate);
  if (!o.write_estate.empty()) {
    if (auto st = write_estate(estate, o.write_estate); !st) {
      std::cerr << "trueup dev: " << st.error().message << "\n";
      return kRuntimeFailure;
    }
    std::cout << o.write_estate
              << ": square-seed.json shopify-seed.json business-central-seed.json crosswalk.csv "
                 "estate.yaml estate.env\n";
    return kOk;
  }
  if (o.print_config) {
    std::cout << text;
    return kOk;
  }

  std::unique_ptr<connectors::square::SquareSimulator> square;
  std::unique_ptr<connectors::shopify::ShopifySimulator> shopify;
  std::unique_ptr<connectors::business_central::BusinessCentralSimulator> erp;
  const auto stop_simulators = [&] {
    if (square) square->stop();
    if (shopify) shopify->stop();
    if (erp) erp->stop();
  };
  if (o.estate && std::getenv("TRUEUP_DEV_LOG_LEVEL") == nullptr) {
    // The summary is the estate's output; the log keeps to what needs a look.
    setenv("TRUEUP_DEV_LOG_LEVEL", "warn", 1);
  }
  if (o.estate) {
    // Low-rate faults, as real services have them: 5xx, duplicate and late webhooks; 429s come from the buckets.
    const std::string base = "http://127.0.0.1:" + std::to_string(port) + "/v1/webhooks/";
    connectors::square::SquareSimulatorSettings square_base;
    square_base.access_token = kSquareToken;
    square_base.signature_key = kSquareSignatureKey;
    auto square_settings =
        configured("square", square_base,
                   json{{"faults",
                         {{"seed", o.seed},
                          {"error_share", 0.01},
                          {"webhooks", {{"duplicate_share", 0.05}, {"late_share", 0.02}, {"late_delay_ms", 4000}}}}},
                        {"webhooks", {{"url", base + kSquareConnector}, {"retry_delay_ms", 1000}}}},
                   connectors::square::apply_simulator_config);
    connectors::shopify::ShopifySimulatorSettings shopify_base;
    shopify_base.access_token = kShopifyToken;
    shopify_base.app_secret = kShopifySecret;
    auto shopify_settings = configured(
        "shopify", shopify_base,
        json{{"faults", {{"seed", o.seed + 1}, {"error_share", 0.01}, {"webhooks", {{"duplicate_share", 0.05}}}}},
             {"webhooks", {{"url", base + kShopifyConnector}, {"retry_delay_ms", 1000}}}},
        connectors::shopify::apply_simulator_config);
    connectors::business_central::BusinessCentralSimulatorSettings erp_base;
    erp_base.access_token = kBcToken;
    auto erp_settings =
        configured("business-central", erp_base,
                   json{{"ledger_location_code", true}, {"faults", {{"seed", o.seed + 2}, {"error_share", 0.01}}}},
                   connectors::business_central::apply_simulator_config);
    if (!square_settings || !shopify_settings || !erp_settings) return kUsageError;
    square = started<connectors::square::SquareSimulator>("square", *square_settings, estate.square_seed);
    shopify = started<connectors::shopify::ShopifySimulator>("shopify", *shopify_settings, estate.shopify_seed);
    erp = started<connectors::business_central::BusinessCentralSimulator>("business-central", *erp_settings,
                                                                          estate.business_central_seed);
    if (!square || !shopify || !erp) {
      stop_simulators();
      return kRuntimeFailure;
    }
    for (const auto& [name, value] :
         dev_environment(EstateEndpoints{square->base_url(), shopify->base_url(), erp->base_url()}))
      setenv(name.c_str(), value.c_str(), 1);
    // The simulators start afresh on every run, so the store does too: a
    // ledger cursor or published quantity from an earlier run would not match.
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(db + suffix);
  }

  auto settings = load("<trueup dev>", text);
  if (!settings) {
    stop_simulators();
    return kUsageError;
  }
  if (o.estate) {
    if (auto st = load_crosswalk(*settings, estate.crosswalk_csv); !st) {
      std::cerr << "trueup dev: loading the estate's crosswalk: " << st.error().describe() << "\n";
      stop_simulators();
      return kRuntimeFailure;
    }
  }
  const auto grace = settings->grace_period;
  Application application(std::move(*settings));
  if (auto st = application.start(); !st) {
    log::error("start failed", {{"error", st.error().describe()}});
    application.stop();
    stop_simulators();
    log::flush();
    return kRuntimeFailure;
  }

  std::unique_ptr<Driver> driver;
  std::unique_ptr<Summary> summary;
  if (o.estate) {
    std::cerr << "trueup dev: " << estate.skus.size() << " SKUs, warehouse " << estate.warehouse << ", "
              << estate.stores.size() << " Square stores, one Shopify shop, Business Central as the ERP.\n"
              << "  trueup     http://127.0.0.1:" << port << "  (/metrics, /v1/..., store " << db << ")\n"
              << "  square     " << square->base_url() << "  (admin: /_sim/inspect, /_sim/faults)\n"
              << "  shopify    " << shopify->base_url() << "\n"
              << "  business-central " << erp->base_url() << "\n"
              << "  Selling about " << o.sales_per_second << " POS sales/s. Ctrl-C stops.\n";
    driver = std::make_unique<Driver>(estate, o.sales_per_second, o.seed, square->port(), shopify->port(), erp->port());
    summary = std::make_unique<Summary>(application.registry(), driver->counts(), erp->core());
    driver->start();
  } else {
    std::cerr << "trueup dev: the daemon core only (no estate). Metrics: http://127.0.0.1:" << port
              << "/metrics  Ctrl-C stops.\n";
  }

  // Wait for a stop signal, printing the summary on the way.
  const auto deadline = o.run_for.count() > 0 ? Clock::now() + o.run_for : Clock::time_point::max();
  int signal_number = 0;
  while (true) {
    const auto now = Clock::now();
    if (now >= deadline) break;
    const auto wait = std::min<Clock::duration>(summary ? o.summary_interval : std::chrono::hours(1), deadline - now);
    const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(wait);
    timespec timeout{static_cast<time_t>(seconds.count()),
                     static_cast<long>(std::chrono::duration_cast<std::chrono::nanoseconds>(wait - seconds).count())};
    signal_number = sigtimedwait(&stop_signals, nullptr, &timeout);
    if (signal_number > 0 || Clock::now() >= deadline) break;
    if (summary) std::cout << summary->line() << std::endl;
  }
  log::info("stopping", {{"signal", signal_number == SIGTERM  ? "SIGTERM"
                                    : signal_number == SIGINT ? "SIGINT"
                                                              : "run_for elapsed"},
                         {"grace_period_ms", std::to_string(grace.count())}});
  if (driver) driver->stop();
  if (summary) std::cout << summary->line() << std::endl;
  const bool clean = application.stop();
  stop_simulators();
  log::info("stopped", {{"drained_within_grace", clean ? "true" : "false"}});
  log::flush();
  return kOk;
}

}  // namespace trueup::app::dev
