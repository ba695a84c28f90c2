#pragma once
// The front door of a simulated API: wraps each API route's handler with
// authentication, the simulated rate-limit bucket and the request faults,
// in the order the real services apply them:
//   1. authenticate (the system's check; its answer, e.g. 401, goes out as is)
//   2. bucket full and rate limiting on -> the system's 429 with Retry-After
//   3. injected failure -> the system's 5xx answer, nothing done
//   4. the handler; a timeout fault holds its answer for timeout_hold
// and adds the configured latency to every answer past step 1. The system's
// `decorate` adds its rate-limit headers to every answer past step 1.
// Each step is counted in the Inspection under the route's operation name.
//
// The bucket runs on the injected steady clock, so tests can freeze time.
// Handlers are synchronous and run on the server's I/O threads: they must
// not block. Delayed answers go out from the TaskScheduler's thread.
//
// Thread-safety: `wrap` before the server starts; the wrapped handlers and
// the other members may run on any thread.

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "common/sim/fault_injector.hpp"
#include "common/sim/inspection.hpp"
#include "common/sim/task_scheduler.hpp"
#include "trueup/connector/budget.hpp"
#include "trueup/http/router.hpp"

namespace trueup::connectors::sim {

using SteadyClock = std::function<std::chrono::steady_clock::time_point()>;

// The bucket as a response header reports it.
struct BucketState {
  double used = 0;
  double capacity = 0;
};

// The system-specific answers of the gate.
struct ApiPolicy {
  // nullopt: the request may go on; else the answer (401, 403).
  std::function<std::optional<http::Response>(const http::Request&)> authenticate;
  // The 429 answer; `retry_after` is how long until the bucket has room.
  std::function<http::Response(std::chrono::nanoseconds retry_after)> throttled;
  // The answer of an injected failure with this status.
  std::function<http::Response(int status)> injected_error;
  // Adds the rate-limit headers (may be empty).
  std::function<void(http::Response&, const BucketState&)> decorate;
};

class ApiGate {
 public:
  // `bucket` nullopt: the API has no simulated rate limit.
  ApiGate(ApiPolicy policy, std::optional<connector::BudgetSettings> bucket, SteadyClock clock, FaultInjector& faults,
          Inspection& inspection, TaskScheduler& scheduler);

  http::Handler wrap(std::string operation, std::function<http::Response(const http::Request&)> handler);

  // An empty bucket again (POST /_sim/reset).
  void reset_bucket();
  BucketState bucket_state() const;

 private:
  void answer(http::Respond& respond, http::Response response, std::chrono::milliseconds delay);

  ApiPolicy policy_;
  std::optional<connector::BudgetSettings> bucket_settings_;
  SteadyClock clock_;
  FaultInjector& faults_;
  Inspection& inspection_;
  TaskScheduler& scheduler_;
  mutable std::mutex mu_;
  std::unique_ptr<connector::Budget> bucket_;
};

}  // namespace trueup::connectors::sim
