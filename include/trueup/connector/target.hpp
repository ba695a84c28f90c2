#pragma once
// One external API as a connector instance calls it (a Shopify shop, a Square
// account, a Business Central company). Every call goes:
//
//   circuit breaker (open: fail fast, retryable)
//   -> rate-limit budget (waits for admission, never past the deadline)
//   -> the shared outbound client (TLS, keep-alive pool, concurrency limit)
//   -> learn from the answer (rate-limit headers, Retry-After) and record the
//      per-operation metrics (requests by status class, 429s, latency,
//      budget remaining, breaker state).
//
// 429, 5xx and transport failures are retried within the call with jittered
// backoff (at least Retry-After), at most `attempts` times; then the call
// fails with a retryable error and the workflow step that made it waits and
// retries later. Any other status is the caller's to judge (`http_error`).
//
// A call blocks (it sleeps for admission and backoff): call it from a
// workflow step or a poller thread, never from an I/O thread.
//
// Thread-safety: send() from any thread; the budget is shared with every
// other Target of the same `name` in the process (BudgetRegistry).

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "trueup/connector/backoff.hpp"
#include "trueup/connector/budget.hpp"
#include "trueup/connector/metrics.hpp"
#include "trueup/core/error.hpp"
#include "trueup/http/outbound.hpp"

namespace trueup::connector {

struct TargetSettings {
  std::string name;      // budget and concurrency target, e.g. "shopify:shop-eu"
  std::string base_url;  // "https://acme.myshopify.com" (no trailing slash), or a simulator's URL
  BudgetSettings budget;
  BackoffSettings backoff{std::chrono::milliseconds(200), 2.0, std::chrono::milliseconds(5000)};
  CircuitBreakerSettings breaker;
  int attempts = 4;                          // per call: the first try and up to 3 retries
  std::chrono::milliseconds timeout{30000};  // per exchange
  http::HeaderFields headers;                // added to every request (authentication, Accept)
};

struct TargetCall {
  std::string operation;  // metric label: "orders.list", "inventory_levels.set"
  std::string method = "GET";
  std::string path;  // appended to base_url ("/admin/api/2026-07/orders.json?..."), or an absolute URL
  http::HeaderFields headers;
  std::string body;
  double cost = 1.0;  // budget units
  // Give up waiting (admission, backoff) past this; default: now + 2 minutes.
  std::optional<SteadyTime> deadline;
};

class Target {
 public:
  // `budgets`, `http` and `metrics` must outlive the target.
  Target(TargetSettings settings, BudgetRegistry& budgets, http::OutboundClient& http, ConnectorMetrics& metrics);

  // The reply (any status except 429 and 5xx), or:
  //   unavailable (retryable): the circuit is open, or 429/5xx/transport
  //     failures used up the attempts (message: the last status or error);
  //   timeout (retryable): admission or backoff would pass the deadline.
  Result<http::OutboundReply> send(const TargetCall& call);

  const TargetSettings& settings() const noexcept { return settings_; }
  Budget& budget() noexcept { return budget_; }
  CircuitBreaker& breaker() noexcept { return breaker_; }

 private:
  TargetSettings settings_;
  Budget& budget_;
  http::OutboundClient& http_;
  ConnectorMetrics& metrics_;
  Backoff backoff_;
  CircuitBreaker breaker_;
};

// The error for a reply the caller did not expect: 404 not_found, 409 and
// 412 conflict (retryable: read again and retry), 401/403 unauthenticated,
// other 4xx invalid_argument, 5xx/429 unavailable. The message names the
// operation and status and quotes the start of the body.
Error http_error(std::string_view operation, const http::OutboundReply& reply);

// RFC 3986 percent-encoding of a query value (unreserved characters kept).
std::string query_escape(std::string_view text);

}  // namespace trueup::connector
