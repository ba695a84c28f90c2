#pragma once
// Retry timing for calls to a target: exponential backoff with full jitter,
// and a circuit breaker that stops calls to a target that keeps failing.
//
// Backoff (full jitter): before retry `attempt` (0 for the first retry) wait
// a uniformly random time in [0, min(cap, initial * multiplier^attempt)).
// Spreading retries over the whole interval keeps callers that failed
// together from retrying together.
//
// CircuitBreaker:
//   closed     calls pass; it opens after `consecutive_failures` failures in
//              a row, or when at least `minimum_calls` of the last `window`
//              calls are recorded and `failure_ratio` of them failed;
//   open       calls are told to wait until `open_for` has passed since it
//              opened (callers wait, they do not fail: a workflow step that
//              is refused retries later without using up its retries);
//   half_open  one call (the probe) passes; its success closes the breaker,
//              its failure opens it again for another `open_for`. Others
//              wait meanwhile; a probe not reported within `probe_timeout`
//              frees the slot for another.
// What counts as a failure is the caller's choice: a 5xx, a timeout or a
// refused connection; not a 4xx, and not a 429 (the budget handles that).
//
// Thread-safety: Backoff is safe from any thread when its random source is
// (the default one is). CircuitBreaker is safe from any thread.

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string_view>
#include <vector>

#include "trueup/connector/admission.hpp"

namespace trueup::connector {

// Uniform in [0, 1). The default draws from a per-thread std::mt19937_64
// seeded by std::random_device.
using RandomSource = std::function<double()>;

struct BackoffSettings {
  std::chrono::milliseconds initial{500};
  double multiplier = 2.0;
  std::chrono::milliseconds cap{60000};
};

class Backoff {
 public:
  // Throws std::invalid_argument when initial or cap is not positive or
  // multiplier is below 1.
  explicit Backoff(BackoffSettings settings = {}, RandomSource random = {});

  // min(cap, initial * multiplier^attempt); attempt < 0 counts as 0.
  std::chrono::milliseconds ceiling(int attempt) const;
  // Full jitter: uniform in [0, ceiling(attempt)).
  std::chrono::milliseconds delay(int attempt) const;
  // The delay, but at least what the target asked for in Retry-After.
  std::chrono::milliseconds delay(int attempt, std::optional<std::chrono::milliseconds> retry_after) const;

  const BackoffSettings& settings() const noexcept { return settings_; }

 private:
  BackoffSettings settings_;
  RandomSource random_;
};

struct CircuitBreakerSettings {
  int consecutive_failures = 5;  // 0: never opens on a run of failures
  double failure_ratio = 0.5;    // 0: never opens on the ratio
  int window = 20;               // the last calls the ratio looks at
  int minimum_calls = 10;        // the ratio counts once the window holds this many
  std::chrono::milliseconds open_for{30000};
  std::chrono::milliseconds probe_timeout{10000};
};

enum class BreakerState { closed, open, half_open };
std::string_view breaker_state_name(BreakerState state);  // "closed", "open", "half_open"

class CircuitBreaker {
 public:
  // Throws std::invalid_argument for a window below 1, minimum_calls
  // outside [1, window], a ratio outside [0, 1], or a non-positive
  // open_for or probe_timeout.
  explicit CircuitBreaker(CircuitBreakerSettings settings = {});

  // Whether a call may go now. In half_open the granted call is the probe:
  // report its outcome with record_success or record_failure.
  Admission allow(SteadyTime now);
  void record_success(SteadyTime now);
  void record_failure(SteadyTime now);

  // open turns half_open once its cool-down is over.
  BreakerState state(SteadyTime now) const;
  // How many times the breaker has opened (for tests and logs).
  std::uint64_t times_opened() const;

 private:
  void record(SteadyTime now, bool failed);
  void open(SteadyTime now);
  void reset(BreakerState state);

  mutable std::mutex mu_;
  CircuitBreakerSettings settings_;
  BreakerState state_ = BreakerState::closed;
  SteadyTime open_until_{};
  std::optional<SteadyTime> probe_started_;
  int failures_in_a_row_ = 0;
  std::vector<bool> outcomes_;  // ring of the last `window` calls, true = failure
  std::size_t next_outcome_ = 0;
  std::uint64_t times_opened_ = 0;
};

}  // namespace trueup::connector
