#pragma once
// A Business Central company that speaks API v2.0 (`trueup sim
// business-central`), for tests and `trueup dev`: the common-endpoint paths
// (/v2.0/{environment}/api/v2.0/...), OData JSON shapes with @odata.etag,
// If-Match, $filter/$orderby/$top/$skip, server-driven paging with
// @odata.nextLink, BC's error JSON, the Microsoft.NAV.post bound action that
// writes item ledger entries, webhook subscriptions with the validationToken
// handshake and batched notifications, and BC's rate limits, over in-memory
// state seeded from a JSON file. SIMULATOR.md lists the endpoints, the seed
// and config formats, the admin endpoints and the known differences from the
// real service (../shared/fixtures/business-central/).
//
// Built on the simulator framework (connectors/common/sim): faults, the API
// gate, webhook delivery and inspection behave as in every simulator.
//
// Amounts and quantities are JSON numbers written from exact decimals (never
// through a double); ids are GUIDs derived from the company id, the same on
// every run with the same seed and requests.
//
// Thread-safety: start/stop from one controlling thread; the HTTP handlers
// run on the server's threads and share the company under one mutex. The
// subscription handshake blocks one server thread for at most
// `handshake_timeout` (BC answers the POST only after it).

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "common/sim/simulator_core.hpp"
#include "common/sim/simulator_server.hpp"
#include "trueup/core/error.hpp"
#include "trueup/http/server.hpp"

namespace trueup::connectors::business_central {

struct BusinessCentralSimulatorSettings {
  std::string address = "127.0.0.1";
  std::uint16_t port = 0;  // 0 picks a free port
  int threads = 4;         // the handshake holds one while it waits
  std::string environment = "production";
  std::string access_token;  // Authorization: Bearer <token>; required
  // The per-user OData limits (operational-limits-online.md): 6000 requests
  // in 5 minutes as a token bucket (burst 6000, 20/s), 5 processed at once,
  // 95 more queued (beyond: 429), a queued request answered 503 after
  // queue_timeout.
  double bucket_capacity = 6000;
  double bucket_refill_per_second = 20;
  std::size_t max_concurrent = 5;
  std::size_t max_queued = 95;
  std::chrono::milliseconds queue_timeout{480000};
  bool retry_after_header = false;  // BC's 429 may come without Retry-After
  std::size_t page_size = 20000;    // server-driven paging; Prefer: odata.maxpagesize lowers it
  // Adds `locationCode` to item ledger entries, as an extension page would
  // (the standard v2.0 page has no location).
  bool ledger_location_code = false;
  // Notifications wait this long after the first change (BC: 30 s), then go
  // out in one POST per notification URL; more than collection_threshold
  // changes of one subscription in that time become one `collection`.
  std::chrono::milliseconds notification_delay{30000};
  std::size_t collection_threshold = 1000;
  std::chrono::milliseconds handshake_timeout{5000};
  std::chrono::seconds subscription_lifetime{3 * 24 * 3600};
  std::size_t max_subscriptions = 200;
  connectors::sim::FaultSettings faults;
  connectors::sim::DeliverySettings webhooks;  // retries and timeouts of notifications (the url is unused)
  connectors::sim::SteadyClock clock;          // the bucket's; empty = steady_clock
  std::function<std::chrono::system_clock::time_point()> wall_clock;  // timestamps, expiry; empty = system_clock
  bool access_log = false;
};

// The config file's members over `base` (SIMULATOR.md): environment,
// bucket_capacity, bucket_refill_per_second, max_concurrent, max_queued,
// queue_timeout_ms, retry_after_header, page_size, ledger_location_code,
// notification_delay_ms, collection_threshold, handshake_timeout_ms,
// subscription_lifetime_s, max_subscriptions, faults: {...}, webhooks:
// {timeout_ms, max_attempts, retry_delay_ms, max_retry_delay_ms}. Unknown
// members are errors.
Result<BusinessCentralSimulatorSettings> apply_simulator_config(const BusinessCentralSimulatorSettings& base,
                                                                const nlohmann::json& config);

class BusinessCentralSimulator {
 public:
  // Validates the seed (SIMULATOR.md); errors are Errc::invalid_argument
  // naming the JSON Pointer.
  static Result<std::unique_ptr<BusinessCentralSimulator>> create(BusinessCentralSimulatorSettings settings,
                                                                  const nlohmann::json& seed);
  ~BusinessCentralSimulator();
  BusinessCentralSimulator(const BusinessCentralSimulator&) = delete;
  BusinessCentralSimulator& operator=(const BusinessCentralSimulator&) = delete;

  // Binds and serves. Errors: unavailable (port in use).
  Status start();
  std::uint16_t port() const;
  // "http://127.0.0.1:<port>"
  std::string base_url() const;
  // "<base_url>/v2.0/<environment>/api/v2.0"
  std::string api_url() const;
  // "<api_url>/companies(<id>)"
  std::string company_url() const;
  std::string company_id() const;
  // Sends every pending notification now (instead of after the delay).
  void flush_notifications();
  // Waits until no notification is pending or being delivered; true when idle.
  bool wait_notifications_idle(std::chrono::milliseconds bound);
  // Drains the server, stops deliveries; idempotent.
  void stop();

  connectors::sim::SimulatorCore& core();

 private:
  class Company;
  class ConcurrencyLimit;
  explicit BusinessCentralSimulator(BusinessCentralSimulatorSettings settings);

  BusinessCentralSimulatorSettings settings_;
  std::unique_ptr<connectors::sim::SimulatorCore> core_;
  std::unique_ptr<http::OutboundClient> client_;  // handshakes and notifications
  std::unique_ptr<Company> company_;
  std::unique_ptr<ConcurrencyLimit> limit_;
  std::unique_ptr<http::Router> router_;
  connectors::sim::SimulatorServer server_;
  bool stopped_ = false;
};

}  // namespace trueup::connectors::business_central
