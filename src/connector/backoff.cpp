#include "trueup/connector/backoff.hpp"

#include <algorithm>
#include <cmath>
#include <random>
#include <stdexcept>

namespace trueup::connector {
namespace {

double default_random() {
  thread_local std::mt19937_64 engine{std::random_device{}()};
  return std::uniform_real_distribution<double>(0.0, 1.0)(engine);
}

}  // namespace

Backoff::Backoff(BackoffSettings settings, RandomSource random)
    : settings_(settings), random_(random ? std::move(random) : RandomSource(default_random)) {
  if (settings_.initial.count() <= 0 || settings_.cap.count() <= 0 || !(settings_.multiplier >= 1.0))
    throw std::invalid_argument("backoff: initial and cap must be positive and multiplier at least 1");
}

std::chrono::milliseconds Backoff::ceiling(int attempt) const {
  const double cap = static_cast<double>(settings_.cap.count());
  // pow overflows to +inf for large attempts, which min() turns into the cap.
  const double grown =
      static_cast<double>(settings_.initial.count()) * std::pow(settings_.multiplier, std::max(attempt, 0));
  return std::chrono::milliseconds(static_cast<std::chrono::milliseconds::rep>(std::min(cap, grown)));
}

std::chrono::milliseconds Backoff::delay(int attempt) const {
  // Clamped so that a source returning 1.0 (or garbage) stays in range.
  const double r = std::clamp(random_(), 0.0, std::nextafter(1.0, 0.0));
  return std::chrono::milliseconds(
      static_cast<std::chrono::milliseconds::rep>(std::floor(r * static_cast<double>(ceiling(attempt).count()))));
}

std::chrono::milliseconds Backoff::delay(int attempt, std::optional<std::chrono::milliseconds> retry_after) const {
  const auto jittered = delay(attempt);
  return retry_after ? std::max(jittered, *retry_after) : jittered;
}

std::string_view breaker_state_name(BreakerState state) {
  switch (state) {
    case BreakerState::closed:
      return "closed";
    case BreakerState::open:
      return "open";
    case BreakerState::half_open:
      return "half_open";
  }
  return "?";
}

CircuitBreaker::CircuitBreaker(CircuitBreakerSettings settings) : settings_(settings) {
  if (settings_.window < 1 || settings_.minimum_calls < 1 || settings_.minimum_calls > settings_.window ||
      settings_.consecutive_failures < 0 || !(settings_.failure_ratio >= 0.0 && settings_.failure_ratio <= 1.0) ||
      settings_.open_for.count() <= 0 || settings_.probe_timeout.count() <= 0)
    throw std::invalid_argument(
        "circuit breaker: window >= 1, 1 <= minimum_calls <= window, consecutive_failures >= 0, "
        "0 <= failure_ratio <= 1, open_for and probe_timeout positive");
  outcomes_.reserve(static_cast<std::size_t>(settings_.window));
}

Admission CircuitBreaker::allow(SteadyTime now) {
  std::lock_guard lock(mu_);
  if (state_ == BreakerState::closed) return Admission::grant();
  if (state_ == BreakerState::open) {
    if (now < open_until_) return Admission::wait_for(open_until_ - now);
    state_ = BreakerState::half_open;
    probe_started_.reset();
  }
  // half_open: one probe at a time; a probe never reported expires.
  if (probe_started_ && now < *probe_started_ + settings_.probe_timeout)
    return Admission::wait_for(*probe_started_ + settings_.probe_timeout - now);
  probe_started_ = now;
  return Admission::grant();
}

void CircuitBreaker::record_success(SteadyTime now) { record(now, false); }

void CircuitBreaker::record_failure(SteadyTime now) { record(now, true); }

void CircuitBreaker::record(SteadyTime now, bool failed) {
  std::lock_guard lock(mu_);
  if (state_ == BreakerState::open) return;  // a call that started before the breaker opened
  if (state_ == BreakerState::half_open) {
    // The probe's outcome decides.
    if (failed)
      open(now);
    else
      reset(BreakerState::closed);
    return;
  }
  failures_in_a_row_ = failed ? failures_in_a_row_ + 1 : 0;
  const auto window = static_cast<std::size_t>(settings_.window);
  if (outcomes_.size() < window)
    outcomes_.push_back(failed);
  else
    outcomes_[next_outcome_] = failed;
  next_outcome_ = (next_outcome_ + 1) % window;
  if (!failed) return;
  const bool run = settings_.consecutive_failures > 0 && failures_in_a_row_ >= settings_.consecutive_failures;
  const auto failures = static_cast<double>(std::count(outcomes_.begin(), outcomes_.end(), true));
  const bool ratio = settings_.failure_ratio > 0 &&
                     outcomes_.size() >= static_cast<std::size_t>(settings_.minimum_calls) &&
                     failures >= settings_.failure_ratio * static_cast<double>(outcomes_.size());
  if (run || ratio) open(now);
}

BreakerState CircuitBreaker::state(SteadyTime now) const {
  std::lock_guard lock(mu_);
  if (state_ == BreakerState::open && now >= open_until_) return BreakerState::half_open;
  return state_;
}

std::uint64_t CircuitBreaker::times_opened() const {
  std::lock_guard lock(mu_);
  return times_opened_;
}

void CircuitBreaker::open(SteadyTime now) {
  reset(BreakerState::open);
  open_until_ = now + settings_.open_for;
  ++times_opened_;
}

void CircuitBreaker::reset(BreakerState state) {
  state_ = state;
  probe_started_.reset();
  failures_in_a_row_ = 0;
  outcomes_.clear();
  next_outcome_ = 0;
}

}  // namespace trueup::connector
