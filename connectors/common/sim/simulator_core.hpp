#pragma once
// What every simulator is built from (Shopify, Square, Business Central):
// fault settings and their seeded decisions, the inspection record, a timer
// thread, an outbound client and a webhook dispatcher with the system's
// signer, the API gate with the system's policy, and the admin routes:
//   GET  /_sim/faults   the fault settings (fault_settings.hpp JSON form)
//   PUT  /_sim/faults   a patch of them; 200 with the new settings, 400 problem
//   GET  /_sim/inspect  Inspection::to_json()
//   POST /_sim/reset    clears the inspection record and empties the bucket
//                       (the simulated system's data stays), then `on_reset`
// Admin routes are never faulted, rate limited or authenticated: simulators
// bind to 127.0.0.1.
//
// A simulator composes one SimulatorCore, wraps its API routes with
// `gate().wrap(...)`, publishes webhooks with `webhooks().publish(...)`, and
// calls `stop()` after its server has drained.
//
// Thread-safety: construct and add routes on one thread; the parts are safe
// from any thread (see each header). stop() once, not from a handler.

#include <functional>
#include <optional>
#include <string_view>

#include "common/sim/api_gate.hpp"
#include "common/sim/fault_injector.hpp"
#include "common/sim/inspection.hpp"
#include "common/sim/task_scheduler.hpp"
#include "common/sim/webhook_dispatcher.hpp"
#include "trueup/http/outbound.hpp"
#include "trueup/http/router.hpp"

namespace trueup::connectors::sim {

struct CoreSettings {
  FaultSettings faults;
  DeliverySettings webhooks;
  std::optional<connector::BudgetSettings> bucket;  // nullopt: no simulated rate limit
  SteadyClock clock;                                // the bucket's; empty = steady_clock
};

class SimulatorCore {
 public:
  SimulatorCore(CoreSettings settings, ApiPolicy policy, WebhookSigner signer);
  ~SimulatorCore();
  SimulatorCore(const SimulatorCore&) = delete;
  SimulatorCore& operator=(const SimulatorCore&) = delete;

  FaultInjector& faults() { return faults_; }
  Inspection& inspection() { return inspection_; }
  TaskScheduler& scheduler() { return scheduler_; }
  WebhookDispatcher& webhooks() { return dispatcher_; }
  ApiGate& gate() { return gate_; }

  void add_admin_routes(http::Router& router, std::function<void()> on_reset = {});

  // Stops deliveries, answers held requests at once, stops the client.
  void stop();

 private:
  FaultInjector faults_;
  Inspection inspection_;
  TaskScheduler scheduler_;
  http::OutboundClient client_;
  WebhookDispatcher dispatcher_;
  ApiGate gate_;
};

// The config members every simulator reads the same way, `faults`
// (fault_settings.hpp) and `webhooks` (apply_delivery_json), applied to
// `faults` / `webhooks`: nullopt when `name` is another member (the
// simulator's own), else the outcome. Errors name `pointer` + "/" + name.
std::optional<Status> apply_core_config_member(std::string_view name, const nlohmann::json& value,
                                               FaultSettings& faults, DeliverySettings& webhooks);

// A JSON answer whose numbers may carry exact decimal text (exact_json.hpp).
http::Response exact_json_response(int status, const nlohmann::json& body);

}  // namespace trueup::connectors::sim
