#pragma once
// A Shopify shop that speaks Admin REST 2026-07 (`trueup sim shopify`), for
// tests and `trueup dev`: the paths, JSON shapes, headers, cursor pagination,
// leaky bucket and webhooks of the real API as the official examples show
// them (../shared/fixtures/shopify/), over in-memory state seeded from a
// JSON file. SIMULATOR.md lists the endpoints, the seed format, the admin
// endpoints and the known differences from the real API.
//
// Built on the simulator framework (connectors/common/sim): faults, the API
// gate, webhooks and inspection behave as in every simulator.
//
// Ids are int64 (beyond 2^53 too) and never pass through a double; amounts
// are decimal strings computed exactly.
//
// Thread-safety: start/stop from one controlling thread; the HTTP handlers
// run on the server's threads and share the shop under one mutex.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "common/sim/simulator_core.hpp"
#include "common/sim/simulator_server.hpp"
#include "trueup/core/error.hpp"
#include "trueup/http/server.hpp"

namespace trueup::connectors::shopify {

struct ShopifySimulatorSettings {
  std::string address = "127.0.0.1";
  std::uint16_t port = 0;  // 0 picks a free port
  int threads = 2;
  std::string api_version = "2026-07";
  std::string shop_domain = "trueup-sim.myshopify.com";  // the seed's shop.domain wins when given
  std::string access_token;                              // X-Shopify-Access-Token; required
  std::string app_secret;                                // webhook HMAC key; required when webhooks are sent
  bool unprefixed_webhook_headers = false;               // `Shopify-Topic` instead of `X-Shopify-Topic`
  double bucket_size = 40;                               // REST leaky bucket (standard plan)
  double leak_per_second = 2;
  // GraphQL's cost-based limit (standard plan): points, restored a second,
  // and what one inventorySetQuantities mutation costs.
  double graphql_bucket_size = 2000;
  double graphql_restore_rate = 100;
  double graphql_mutation_cost = 10;
  connectors::sim::FaultSettings faults;
  connectors::sim::DeliverySettings webhooks;
  connectors::sim::SteadyClock clock;                                 // the bucket's; empty = steady_clock
  std::function<std::chrono::system_clock::time_point()> wall_clock;  // timestamps; empty = system_clock
  bool access_log = false;
};

// The config file's members over `base`: {shop_domain, api_version,
// unprefixed_webhook_headers, bucket_size, leak_per_second,
// graphql_bucket_size, graphql_restore_rate, graphql_mutation_cost, faults: {...},
// webhooks: {url, timeout_ms, max_attempts, retry_delay_ms,
// max_retry_delay_ms}}. Unknown members are errors.
Result<ShopifySimulatorSettings> apply_simulator_config(const ShopifySimulatorSettings& base,
                                                        const nlohmann::json& config);

class ShopifySimulator {
 public:
  // Validates the seed (SIMULATOR.md); errors are Errc::invalid_argument
  // naming the JSON Pointer.
  static Result<std::unique_ptr<ShopifySimulator>> create(ShopifySimulatorSettings settings,
                                                          const nlohmann::json& seed);
  ~ShopifySimulator();
  ShopifySimulator(const ShopifySimulator&) = delete;
  ShopifySimulator& operator=(const ShopifySimulator&) = delete;

  // Binds and serves. Errors: unavailable (port in use).
  Status start();
  std::uint16_t port() const;
  // "http://127.0.0.1:<port>"
  std::string base_url() const;
  // Drains the server, stops deliveries; idempotent.
  void stop();

  connectors::sim::SimulatorCore& core();

 private:
  class Shop;
  explicit ShopifySimulator(ShopifySimulatorSettings settings);

  ShopifySimulatorSettings settings_;
  std::unique_ptr<connectors::sim::SimulatorCore> core_;
  std::unique_ptr<connectors::sim::ApiGate> graphql_gate_;
  std::unique_ptr<Shop> shop_;
  std::unique_ptr<http::Router> router_;
  connectors::sim::SimulatorServer server_;
};

}  // namespace trueup::connectors::shopify
