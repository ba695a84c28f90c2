#include "trueup/connector/metrics.hpp"

namespace trueup::connector {
namespace {

constexpr std::string_view kWebhookHelp = "Webhook deliveries by outcome (rejected: bad or missing signature).";

}  // namespace

std::string_view webhook_outcome_name(WebhookOutcome outcome) {
  switch (outcome) {
    case WebhookOutcome::accepted:
      return "accepted";
    case WebhookOutcome::rejected:
      return "rejected";
    case WebhookOutcome::duplicate:
      return "duplicate";
  }
  return "?";
}

std::string status_class(int status) {
  if (status == 0) return "error";
  if (status < 100 || status > 599) return "other";
  return std::to_string(status / 100) + "xx";
}

ConnectorMetrics::ConnectorMetrics(metrics::Registry& registry, std::string connector)
    : registry_(registry),
      connector_(std::move(connector)),
      budget_remaining_(registry.gauge("trueup_connector_budget_remaining",
                                       "Request units left in the target's rate-limit budget.",
                                       {{"connector", connector_}})),
      circuit_open_(registry.gauge("trueup_connector_circuit_open",
                                   "1 while the connector's circuit breaker is open or half-open, else 0.",
                                   {{"connector", connector_}})),
      webhooks_accepted_(registry.counter("trueup_connector_webhook_deliveries_total", kWebhookHelp,
                                          {{"connector", connector_}, {"outcome", "accepted"}})),
      webhooks_rejected_(registry.counter("trueup_connector_webhook_deliveries_total", kWebhookHelp,
                                          {{"connector", connector_}, {"outcome", "rejected"}})),
      webhooks_duplicate_(registry.counter("trueup_connector_webhook_deliveries_total", kWebhookHelp,
                                           {{"connector", connector_}, {"outcome", "duplicate"}})) {}

ConnectorMetrics::OperationMetrics& ConnectorMetrics::operation(std::string_view name) {
  auto it = operations_.find(name);
  if (it != operations_.end()) return it->second;
  const metrics::Labels labels{{"connector", connector_}, {"operation", std::string(name)}};
  OperationMetrics m;
  m.rate_limited = &registry_.counter("trueup_connector_rate_limited_total",
                                      "Calls the target answered with 429 Too Many Requests.", labels);
  m.duration = &registry_.histogram("trueup_connector_request_duration_seconds", "Latency of calls to the target.",
                                    metrics::latency_buckets(), labels);
  return operations_.emplace(std::string(name), std::move(m)).first->second;
}

void ConnectorMetrics::record_request(std::string_view operation_name, int status, std::chrono::nanoseconds latency) {
  metrics::Counter* requests = nullptr;
  metrics::Counter* rate_limited = nullptr;
  metrics::Histogram* duration = nullptr;
  {
    std::lock_guard lock(mu_);
    auto& op = operation(operation_name);
    const std::string cls = status_class(status);
    auto it = op.requests.find(cls);
    if (it == op.requests.end()) {
      auto& c = registry_.counter(
          "trueup_connector_requests_total", "Calls to the target by operation and status class.",
          {{"connector", connector_}, {"operation", std::string(operation_name)}, {"status_class", cls}});
      it = op.requests.emplace(cls, &c).first;
    }
    requests = it->second;
    rate_limited = op.rate_limited;
    duration = op.duration;
  }
  requests->inc();
  if (status == 429) rate_limited->inc();
  duration->observe(std::chrono::duration<double>(latency).count());
}

void ConnectorMetrics::record_webhook(WebhookOutcome outcome) {
  switch (outcome) {
    case WebhookOutcome::accepted:
      webhooks_accepted_.inc();
      return;
    case WebhookOutcome::rejected:
      webhooks_rejected_.inc();
      return;
    case WebhookOutcome::duplicate:
      webhooks_duplicate_.inc();
      return;
  }
}

void ConnectorMetrics::set_budget_remaining(double remaining) { budget_remaining_.set(remaining); }

void ConnectorMetrics::set_breaker_state(BreakerState state) {
  circuit_open_.set(state == BreakerState::closed ? 0.0 : 1.0);
}

}  // namespace trueup::connector
