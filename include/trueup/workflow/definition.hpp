#pragma once
// Workflow definitions in C++: a workflow type is an ordered list of steps;
// a step is a function over a persisted JSON context, with an optional
// compensation, a retry policy and a timeout.
//
// Steps run on the engine's worker threads, outside any database transaction,
// and may block (network calls). What a step wants committed together with its
// completion it registers with StepContext::on_commit; the engine runs those
// writes in the short transaction that records the step as completed (or as
// waiting/sleeping), so they commit exactly when the step's outcome does.
//
// A StepContext is only valid during the call it is handed to, on that thread.

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "trueup/core/error.hpp"
#include "trueup/store/store.hpp"
#include "trueup/workflow/clock.hpp"

namespace trueup::workflow {

// Delay before attempt n+1 after n failed attempts: min(initial * multiplier^(n-1), max_delay).
// After `max_attempts` failed attempts the step counts as failed permanently.
struct RetryPolicy {
  std::chrono::milliseconds initial{1000};
  double multiplier = 2.0;
  std::chrono::milliseconds max_delay{100000};
  int max_attempts = 10;

  // The delay after `failed_attempts` (>= 1) failures.
  std::chrono::milliseconds delay_after(int failed_attempts) const;
};

// What a step's call ended with.
class StepResult {
 public:
  enum class Kind { done, error, wait_signal, sleep };

  // The step's work is finished; the engine moves to the next step.
  static StepResult done() { return StepResult(Kind::done); }
  // Failed: retried (per the step's RetryPolicy) when error.retryable(), else
  // the workflow fails permanently and completed steps are compensated.
  static StepResult fail(Error error);
  // Park until a signal `name` arrives for the workflow's correlation key (or
  // `timeout` passes); then this same step runs again and reads the signal with
  // StepContext::signal(name) or sees StepContext::wait_timed_out().
  static StepResult wait_for_signal(std::string name, std::optional<std::chrono::milliseconds> timeout = std::nullopt);
  // Park until `until` (a timer); then this same step runs again.
  static StepResult sleep_until(TimePoint until);

  StepResult(Ok) : kind_(Kind::done) {}                            // NOLINT: `return Ok{};`
  StepResult(Error error) : StepResult(fail(std::move(error))) {}  // NOLINT: `return make_error(...);`

  Kind kind() const noexcept { return kind_; }
  const std::optional<Error>& error() const noexcept { return error_; }
  const std::string& signal_name() const noexcept { return signal_; }
  const std::optional<std::chrono::milliseconds>& timeout() const noexcept { return timeout_; }
  TimePoint until() const noexcept { return until_; }

 private:
  explicit StepResult(Kind kind) : kind_(kind) {}
  Kind kind_;
  std::optional<Error> error_;
  std::string signal_;
  std::optional<std::chrono::milliseconds> timeout_;
  TimePoint until_{};
};

// Writes committed in the transaction that records the step's outcome. An
// error rolls that transaction back: the step is then recorded as a failed
// attempt with this error (retried when it is retryable).
using CommitWork = std::function<Status(store::Transaction&)>;

class StepContext {
 public:
  struct Signal {
    std::int64_t id = 0;
    std::string name;
    nlohmann::json payload;
  };

  StepContext(std::string workflow_id, std::string type, std::string correlation_key, std::string step,
              bool compensating, int attempt, int run, const nlohmann::json& input, nlohmann::json context,
              std::vector<Signal> signals, bool wait_timed_out, TimePoint now, TimePoint deadline);

  const std::string& workflow_id() const noexcept { return workflow_id_; }
  const std::string& type() const noexcept { return type_; }
  const std::string& correlation_key() const noexcept { return correlation_key_; }
  const std::string& step() const noexcept { return step_; }
  // True when this call is the step's compensation.
  bool compensating() const noexcept { return compensating_; }
  // 1 for the first attempt, 2 for the first retry, ...
  int attempt() const noexcept { return attempt_; }
  // Stable for the step across attempts, signals and timers (and across
  // instances): use it as the outbound call's idempotency key. Changes only
  // when an operator retries a compensated workflow from the start.
  // Form: "<workflow id>:<step>" (":compensate" appended for compensations,
  // ":r<run>" when run > 1).
  const std::string& idempotency_key() const noexcept { return idempotency_key_; }

  // The workflow's input (as given to Engine::start).
  const nlohmann::json& input() const noexcept { return input_; }
  // The persisted context: read and write; saved when the step completes
  // (done, waiting or sleeping), discarded when it fails.
  nlohmann::json& context() noexcept { return context_; }

  // The oldest unconsumed signal `name` delivered to this workflow, if any.
  // Reading it consumes it when the step completes (done, waiting, sleeping).
  std::optional<nlohmann::json> signal(std::string_view name);
  // True when the step waited for a signal whose timeout has passed with no
  // such signal, or slept and its timer is due.
  bool wait_timed_out() const noexcept { return wait_timed_out_; }

  // The engine clock's time when the call began, and when it must be done
  // (outbound calls should use it as their deadline).
  TimePoint now() const noexcept { return now_; }
  TimePoint deadline() const noexcept { return deadline_; }

  void on_commit(CommitWork work) { commits_.push_back(std::move(work)); }

  // For the engine.
  std::vector<CommitWork>& commits() noexcept { return commits_; }
  const std::vector<std::int64_t>& consumed_signals() const noexcept { return consumed_; }

 private:
  std::string workflow_id_, type_, correlation_key_, step_;
  bool compensating_;
  int attempt_;
  std::string idempotency_key_;
  const nlohmann::json& input_;
  nlohmann::json context_;
  std::vector<Signal> signals_;
  std::vector<std::int64_t> consumed_;
  bool wait_timed_out_;
  TimePoint now_, deadline_;
  std::vector<CommitWork> commits_;
};

using StepFunction = std::function<StepResult(StepContext&)>;

struct Step {
  std::string name;  // unique within the type; part of idempotency keys
  StepFunction run;
  StepFunction compensate;                   // empty: nothing to undo
  RetryPolicy retry;                         // also used for the compensation
  std::chrono::milliseconds timeout{60000};  // a call running longer counts as Errc::timeout
};

struct WorkflowType {
  std::string name;  // e.g. "stock_movement"; a metric label
  std::vector<Step> steps;
  // A worker records the outcomes of several steps in one transaction,
  // ordered by type name and then by this key of each workflow's input
  // (empty: its correlation key). Workers on other threads and instances do
  // the same, so steps whose on_commit writes lock rows named by the key
  // (e.g. a stock position: "<sku>|<location>") lock them in one order and
  // do not deadlock.
  std::function<std::string(const nlohmann::json& input)> record_order = {};
  // Set when other workflows' steps signal this type from their on_commit
  // writes (Engine::signal inside the recording transaction). A group of
  // outcomes locks its members' rows up front, before any on_commit write;
  // such a member's row is locked at its own turn instead, so a group that
  // signals it while holding rows of its own (say, a document's group row)
  // waits for this group rather than deadlocking with it.
  bool signalled_from_steps = false;
};

// The derived idempotency key (see StepContext::idempotency_key).
std::string idempotency_key(std::string_view workflow_id, std::string_view step, bool compensating, int run);

}  // namespace trueup::workflow
