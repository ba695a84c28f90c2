#include "common/sim/simulator_core.hpp"

#include "common/exact_json.hpp"

namespace trueup::connectors::sim {

http::Response exact_json_response(int status, const nlohmann::json& body) {
  return http::Response::json(status, dump_exact(body));
}

std::optional<Status> apply_core_config_member(std::string_view name, const nlohmann::json& value,
                                               FaultSettings& faults, DeliverySettings& webhooks) {
  const std::string at = "/" + std::string(name);
  if (name == "faults") {
    auto applied = apply_fault_json(faults, value, at);
    if (!applied) return Status(applied.error());
    faults = *applied;
    return Status(Ok{});
  }
  if (name == "webhooks") {
    auto applied = apply_delivery_json(webhooks, value, at);
    if (!applied) return Status(applied.error());
    webhooks = *applied;
    return Status(Ok{});
  }
  return std::nullopt;
}

SimulatorCore::SimulatorCore(CoreSettings settings, ApiPolicy policy, WebhookSigner signer)
    : faults_(settings.faults),
      client_(http::OutboundSettings{}),
      dispatcher_(settings.webhooks, std::move(signer), faults_, inspection_, scheduler_, client_),
      gate_(std::move(policy), settings.bucket, std::move(settings.clock), faults_, inspection_, scheduler_) {}

SimulatorCore::~SimulatorCore() { stop(); }

void SimulatorCore::stop() {
  dispatcher_.stop();
  scheduler_.stop();
  client_.stop();
}

void SimulatorCore::add_admin_routes(http::Router& router, std::function<void()> on_reset) {
  router.add_sync("GET", "/_sim/faults",
                  [this](const http::Request&) { return exact_json_response(200, fault_json(faults_.settings())); });
  router.add_sync("PUT", "/_sim/faults", [this](const http::Request& request) {
    auto patch = nlohmann::json::parse(request.body, nullptr, false);
    if (patch.is_discarded())
      return http::problem(400, "/problems/invalid-json", "Bad Request", "the body is not JSON");
    auto updated = faults_.update(patch);
    if (!updated) return http::problem(400, "/problems/invalid-faults", "Bad Request", updated.error().message);
    return exact_json_response(200, fault_json(*updated));
  });
  router.add_sync("GET", "/_sim/inspect",
                  [this](const http::Request&) { return exact_json_response(200, inspection_.to_json()); });
  router.add_sync("POST", "/_sim/reset", [this, on_reset = std::move(on_reset)](const http::Request&) {
    inspection_.reset();
    gate_.reset_bucket();
    if (on_reset) on_reset();
    return exact_json_response(200, nlohmann::json{{"reset", true}});
  });
}

}  // namespace trueup::connectors::sim
