#include "trueup/workflow/definition.hpp"

#include <algorithm>
#include <cmath>

namespace trueup::workflow {

std::chrono::milliseconds RetryPolicy::delay_after(int failed_attempts) const {
  if (failed_attempts < 1) failed_attempts = 1;
  double ms = static_cast<double>(initial.count()) * std::pow(std::max(multiplier, 1.0), failed_attempts - 1);
  ms = std::min(ms, static_cast<double>(max_delay.count()));
  return std::chrono::milliseconds(static_cast<std::int64_t>(std::max(ms, 0.0)));
}

StepResult StepResult::fail(Error error) {
  StepResult r(Kind::error);
  r.error_ = std::move(error);
  return r;
}

StepResult StepResult::wait_for_signal(std::string name, std::optional<std::chrono::milliseconds> timeout) {
  StepResult r(Kind::wait_signal);
  r.signal_ = std::move(name);
  r.timeout_ = timeout;
  return r;
}

StepResult StepResult::sleep_until(TimePoint until) {
  StepResult r(Kind::sleep);
  r.until_ = until;
  return r;
}

std::string idempotency_key(std::string_view workflow_id, std::string_view step, bool compensating, int run) {
  std::string key;
  key.reserve(workflow_id.size() + step.size() + 16);
  key.append(workflow_id).append(":").append(step);
  if (compensating) key.append(":compensate");
  if (run > 1) key.append(":r").append(std::to_string(run));
  return key;
}

StepContext::StepContext(std::string workflow_id, std::string type, std::string correlation_key, std::string step,
                         bool compensating, int attempt, int run, const nlohmann::json& input, nlohmann::json context,
                         std::vector<Signal> signals, bool wait_timed_out, TimePoint now, TimePoint deadline)
    : workflow_id_(std::move(workflow_id)),
      type_(std::move(type)),
      correlation_key_(std::move(correlation_key)),
      step_(std::move(step)),
      compensating_(compensating),
      attempt_(attempt),
      idempotency_key_(workflow::idempotency_key(workflow_id_, step_, compensating, run)),
      input_(input),
      context_(std::move(context)),
      signals_(std::move(signals)),
      wait_timed_out_(wait_timed_out),
      now_(now),
      deadline_(deadline) {}

std::optional<nlohmann::json> StepContext::signal(std::string_view name) {
  for (const auto& s : signals_) {
    if (s.name != name) continue;
    if (std::find(consumed_.begin(), consumed_.end(), s.id) == consumed_.end()) consumed_.push_back(s.id);
    return s.payload;
  }
  return std::nullopt;
}

}  // namespace trueup::workflow
