#pragma once
// The answer of a rate-limit budget or a circuit breaker to "may I call the
// target now?": yes, or how long to wait first. Nothing in the SDK sleeps;
// the caller decides how to wait (a timer, or a workflow step that retries
// later).

#include <chrono>

namespace trueup::connector {

using SteadyTime = std::chrono::steady_clock::time_point;
using WallTime = std::chrono::system_clock::time_point;

struct Admission {
  bool granted = false;
  // When not granted: the time after which asking again can succeed (always
  // positive). Zero when granted.
  std::chrono::nanoseconds wait{0};

  static Admission grant() { return Admission{true, std::chrono::nanoseconds{0}}; }
  static Admission wait_for(std::chrono::nanoseconds wait) {
    return Admission{false, wait > std::chrono::nanoseconds{0} ? wait : std::chrono::nanoseconds{1}};
  }
};

}  // namespace trueup::connector
