#pragma once
// A Square seller account that speaks the Square API as of Square-Version
// 2025-08-20 (`trueup sim square`), for tests and `trueup dev`: the paths,
// JSON shapes, Bearer authentication, error bodies, cursor pagination,
// idempotency keys, RATE_LIMITED answers and signed webhooks of the real API
// as the official spec and examples show them (../shared/fixtures/square/),
// over in-memory state seeded from a JSON file. SIMULATOR.md lists the
// endpoints, the seed format, the admin endpoints and the known differences
// from the real API.
//
// Built on the simulator framework (connectors/common/sim): faults, the API
// gate (a token bucket), webhooks and inspection behave as in every
// simulator.
//
// Money is integer minor units, quantities are decimal strings computed
// exactly (Quantity), ids are Square-style strings, timestamps RFC 3339 UTC
// with milliseconds.
//
// Thread-safety: start/stop from one controlling thread; the HTTP handlers
// run on the server's threads and share the account under one mutex.

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

namespace trueup::connectors::square {

struct SquareSimulatorSettings {
  std::string address = "127.0.0.1";
  std::uint16_t port = 0;  // 0 picks a free port
  int threads = 2;
  std::string api_version = "2025-08-20";     // Square-Version of the webhooks
  std::string merchant_id = "MLTRUEUPSIM01";  // the seed's merchant.id wins when given
  std::string access_token;                   // Authorization: Bearer <token>; required
  std::string signature_key;                  // the subscription's webhook signature key; required with webhooks
  // The subscription's notification URL, signed with the body; "" = the
  // delivery URL (webhooks.url). Differs when a proxy sits in between.
  std::string notification_url;
  double rate_per_second = 10;  // the token bucket (Square publishes no limits)
  double burst = 20;
  connectors::sim::FaultSettings faults;
  connectors::sim::DeliverySettings webhooks;
  connectors::sim::SteadyClock clock;                                 // the bucket's; empty = steady_clock
  std::function<std::chrono::system_clock::time_point()> wall_clock;  // timestamps; empty = system_clock
  bool access_log = false;
};

// The config file's members over `base`: {merchant_id, api_version,
// notification_url, rate_per_second, burst, faults: {...}, webhooks: {url,
// timeout_ms, max_attempts, retry_delay_ms, max_retry_delay_ms}}. Unknown
// members are errors.
Result<SquareSimulatorSettings> apply_simulator_config(const SquareSimulatorSettings& base,
                                                       const nlohmann::json& config);

class SquareSimulator {
 public:
  // Validates the seed (SIMULATOR.md); errors are Errc::invalid_argument
  // naming the JSON Pointer.
  static Result<std::unique_ptr<SquareSimulator>> create(SquareSimulatorSettings settings, const nlohmann::json& seed);
  ~SquareSimulator();
  SquareSimulator(const SquareSimulator&) = delete;
  SquareSimulator& operator=(const SquareSimulator&) = delete;

  // Binds and serves. Errors: unavailable (port in use).
  Status start();
  std::uint16_t port() const;
  // "http://127.0.0.1:<port>"
  std::string base_url() const;
  // Drains the server, stops deliveries; idempotent.
  void stop();

  connectors::sim::SimulatorCore& core();

 private:
  class Account;
  explicit SquareSimulator(SquareSimulatorSettings settings);

  SquareSimulatorSettings settings_;
  std::unique_ptr<connectors::sim::SimulatorCore> core_;
  std::unique_ptr<Account> account_;
  std::unique_ptr<http::Router> router_;
  connectors::sim::SimulatorServer server_;
};

}  // namespace trueup::connectors::square
