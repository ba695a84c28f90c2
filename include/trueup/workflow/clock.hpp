#pragma once
// The time source of the workflow engine and the exception queue. Everything
// they schedule (retries, timers, leases, signal timeouts) is compared against
// `Clock::now()`, so tests drive time with a ManualClock instead of sleeping.
//
// Thread-safety: both clocks are safe to use from any thread.

#include <atomic>
#include <chrono>
#include <cstdint>

namespace trueup::workflow {

using TimePoint = std::chrono::system_clock::time_point;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint now() const = 0;
};

// Wall-clock time (std::chrono::system_clock).
class SystemClock final : public Clock {
 public:
  TimePoint now() const override { return std::chrono::system_clock::now(); }
};

// Time that moves only when told to; starts at `start`.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(TimePoint start = TimePoint{std::chrono::hours(24 * 365 * 55)}) : ms_(to_ms(start)) {}
  TimePoint now() const override { return TimePoint{std::chrono::milliseconds(ms_.load())}; }
  void set(TimePoint t) { ms_.store(to_ms(t)); }
  void advance(std::chrono::milliseconds by) { ms_.fetch_add(by.count()); }

 private:
  static std::int64_t to_ms(TimePoint t) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  }
  std::atomic<std::int64_t> ms_;
};

// Milliseconds since the Unix epoch, the unit stored in the database.
inline std::int64_t epoch_ms(TimePoint t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}
inline TimePoint from_epoch_ms(std::int64_t ms) { return TimePoint{std::chrono::milliseconds(ms)}; }

}  // namespace trueup::workflow
