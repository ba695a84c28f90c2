#pragma once
// The metrics of one connector instance (`connector` is its id from the
// YAML, a bounded set; `operation` is one of the connector's named
// operations, never an id):
//
//   trueup_connector_requests_total{connector,operation,status_class}
//       calls to the target; status_class "2xx".."5xx", "error" when no
//       response came (timeout, refused connection)
//   trueup_connector_rate_limited_total{connector,operation}
//       429 answers
//   trueup_connector_request_duration_seconds{connector,operation}
//       call latency (histogram, metrics::latency_buckets)
//   trueup_connector_budget_remaining{connector}
//       request units left in the target's rate-limit budget
//   trueup_connector_circuit_open{connector}
//       1 while the circuit breaker is open or half-open, else 0
//   trueup_connector_webhook_deliveries_total{connector,outcome}
//       webhook deliveries: outcome "accepted", "rejected" (bad or missing
//       signature) or "duplicate" (already in the inbox)
//
// Thread-safety: safe from any thread. Must not outlive its registry.

#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

#include "trueup/connector/backoff.hpp"
#include "trueup/metrics/registry.hpp"

namespace trueup::connector {

enum class WebhookOutcome { accepted, rejected, duplicate };
std::string_view webhook_outcome_name(WebhookOutcome outcome);

// "2xx".."5xx" for an HTTP status, "error" for 0 (no response), else "other".
std::string status_class(int status);

class ConnectorMetrics {
 public:
  ConnectorMetrics(metrics::Registry& registry, std::string connector);

  // One call of `operation`; `status` 0 when no response came.
  void record_request(std::string_view operation, int status, std::chrono::nanoseconds latency);
  void record_webhook(WebhookOutcome outcome);
  void set_budget_remaining(double remaining);
  void set_breaker_state(BreakerState state);

  const std::string& connector() const noexcept { return connector_; }

 private:
  struct OperationMetrics {
    metrics::Counter* rate_limited = nullptr;
    metrics::Histogram* duration = nullptr;
    std::map<std::string, metrics::Counter*, std::less<>> requests;  // by status class
  };
  OperationMetrics& operation(std::string_view name);

  metrics::Registry& registry_;
  const std::string connector_;
  metrics::Gauge& budget_remaining_;
  metrics::Gauge& circuit_open_;
  metrics::Counter& webhooks_accepted_;
  metrics::Counter& webhooks_rejected_;
  metrics::Counter& webhooks_duplicate_;
  std::mutex mu_;
  std::map<std::string, OperationMetrics, std::less<>> operations_;
};

}  // namespace trueup::connector
