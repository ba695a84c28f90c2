#pragma once
// The durable workflow engine: starts workflows inside the caller's
// transaction, runs their steps on its worker threads with retries, timers,
// signals and compensation, shares the work with other instances through
// leases on the database, and offers the admin operations.
//
// Claiming: workers take due workflows with a lease (PostgreSQL: SELECT ...
// FOR UPDATE SKIP LOCKED; SQLite: one UPDATE ... RETURNING by the single
// writer). A lease that expires (its holder died) makes the workflow due
// again, so any instance takes it over. Every claim bumps a fencing token; an
// outcome reported under an old token is discarded, so a step's completion is
// recorded at most once. Leases and timers are compared with the injected
// Clock: instances sharing a database need clocks in sync to well within
// `lease`.
//
// Wake-up: PostgreSQL LISTEN/NOTIFY on channel "trueup_workflow" (start,
// signal, retry and resume issue NOTIFY in their transaction) when
// `EngineSettings::listen` is set, plus polling every `poll_interval`;
// in-process wake-ups always.
//
// Thread-safety: every member is safe from any thread. Blocking members
// (those without a Transaction parameter) call Store::transact: not from an
// io_context thread, not from inside a Work. define() must happen before run().

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "trueup/core/error.hpp"
#include "trueup/metrics/registry.hpp"
#include "trueup/store/store.hpp"
#include "trueup/workflow/clock.hpp"
#include "trueup/workflow/definition.hpp"
#include "trueup/workflow/exceptions.hpp"

namespace trueup::store {
class PgListener;
}

namespace trueup::workflow {

// State names as stored and shown: "pending", "running", "waiting",
// "retrying", "paused", "failed", "compensated", "completed", "cancelled".
enum class State { pending, running, waiting, retrying, paused, failed, compensated, completed, cancelled };
std::string_view to_string(State s) noexcept;
std::optional<State> parse_state(std::string_view text) noexcept;
bool is_terminal(State s) noexcept;  // failed, compensated, completed, cancelled

struct EngineSettings {
  std::string instance_id = "local";              // lease owner (trueup_instance.id)
  int workers = 4;                                // worker threads (run())
  std::chrono::milliseconds poll_interval{1000};  // fallback when no wake-up arrives
  std::chrono::milliseconds lease{60000};         // renewed before a step that might outlive it
  std::size_t claim_batch = 32;                   // workflows claimed per query and worker
  // Outcomes of the steps a worker ran within this window are recorded in one
  // transaction (group commit); a slow step closes the window early.
  std::chrono::milliseconds batch_window{20};
  std::size_t step_log_limit = 50;                    // attempts kept per workflow
  std::chrono::milliseconds metrics_interval{15000};  // refresh of the DB-derived gauges
  // Retry policy overrides, key "<type>" or "<type>.<step>" (the latter wins).
  std::map<std::string, RetryPolicy> retry_overrides;
  // Set on PostgreSQL to LISTEN for wake-ups on a dedicated connection.
  std::optional<store::PostgresSettings> listen;
};

struct Started {
  std::string id;
  bool created = false;  // false: (type, dedupe_key) existed; `id` is that workflow
};

// One workflow to start (Engine::start_batch).
struct StartRequest {
  std::string type;
  std::string correlation_key;
  std::string input;  // JSON text
  std::string dedupe_key;
};

struct WorkflowFilter {
  std::optional<State> state;
  std::optional<std::string> type;
  std::optional<std::string> correlation_key;
  std::size_t limit = 100;            // 1..1000
  std::optional<std::string> cursor;  // next_cursor of the previous page
};

struct StepAttempt {
  std::int64_t seq = 0;
  std::string step;
  std::string phase;  // run | compensate
  int attempt = 0;
  std::string outcome;  // done retry failed waiting sleeping timeout
  std::optional<std::string> error;
  TimePoint started_at;
  TimePoint finished_at;
  nlohmann::json to_json() const;
};

struct WorkflowSummary {
  std::string id;
  std::string type;
  std::string correlation_key;
  std::string dedupe_key;
  State state = State::pending;
  std::string phase;  // forward | compensating
  std::optional<std::string> current_step;
  int attempt = 0;  // failed attempts of the current step
  int run = 1;
  std::optional<std::string> waiting_for;  // signal name
  std::optional<TimePoint> due_at;
  std::optional<std::string> lease_owner;
  std::optional<std::string> last_error;
  std::optional<std::string> failed_step;
  TimePoint created_at;
  TimePoint updated_at;
  nlohmann::json to_json() const;
};

struct WorkflowDetail {
  WorkflowSummary summary;
  nlohmann::json input;
  nlohmann::json context;
  std::vector<StepAttempt> steps;  // oldest first, the last step_log_limit
  nlohmann::json to_json() const;  // summary fields + input, context, steps
};

struct WorkflowPage {
  std::vector<WorkflowSummary> items;  // newest first
  std::optional<std::string> next_cursor;
  nlohmann::json to_json() const;
};

class Engine {
 public:
  // `store`, `exceptions`, `registry` and `clock` must outlive the engine.
  // Registers the engine's metrics and the "workflow" retry handler of
  // `exceptions`. Throws std::invalid_argument for bad settings.
  Engine(store::Store& store, ExceptionQueue& exceptions, metrics::Registry& registry, const Clock& clock,
         EngineSettings settings);
  ~Engine();  // stop()
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Adds a type. Throws std::invalid_argument for an empty or duplicate type
  // name, no steps, duplicate or empty step names, or a step without `run`.
  void define(WorkflowType type);

  // Inserts a pending workflow inside the caller's transaction (so intake,
  // workflow and outbox commit together). A second start with the same
  // (type, dedupe_key) returns the existing id with created=false and changes
  // nothing. invalid_argument for an undefined type or empty keys.
  Result<Started> start(store::Transaction& tx, const std::string& type, const std::string& correlation_key,
                        const nlohmann::json& input, const std::string& dedupe_key);

  // start() for many workflows in one multi-row insert per
  // store::kMaxRowsPerStatement rows and one NOTIFY: the results in the order
  // of `requests`. A (type, dedupe_key) given twice is created once; later
  // copies come back with created=false.
  Result<std::vector<Started>> start_batch(store::Transaction& tx, std::span<const StartRequest> requests);

  // Delivers a signal to every non-terminal workflow with `correlation_key`
  // (a mailbox row each) and wakes those waiting for `name`. Returns how many
  // workflows received it (0: none; the signal is not kept for later ones).
  Result<std::size_t> signal(store::Transaction& tx, const std::string& correlation_key, const std::string& name,
                             const nlohmann::json& payload = nlohmann::json::object());

  // Starts the worker threads, the housekeeping thread and (PostgreSQL with
  // `listen`) the listener. Idempotent. Errors from starting the listener are
  // returned; the engine then still runs on polling.
  Status run();
  // Stops claiming, lets in-flight steps finish (bounded by their timeouts),
  // records their outcomes and releases the leases of claimed work not
  // started. Idempotent; run() may not be called again afterwards.
  void stop();
  // Wakes idle workers now (e.g. after work committed elsewhere).
  void wake();

  // On the calling thread: claims and runs due workflows until none is due
  // (by the clock) or `max_steps` step calls ran. Returns the number of step
  // calls. For tests and tools; may run alongside the workers.
  Result<std::size_t> run_due(std::size_t max_steps = SIZE_MAX);

  // Admin operations. Results are JSON-ready (to_json()).
  Result<WorkflowPage> list(const WorkflowFilter& filter);
  Result<WorkflowDetail> get(const std::string& id);  // not_found
  // failed / compensated / retrying -> pending, due now. compensated starts
  // over from the first step (run+1, so new idempotency keys); failed (a
  // compensation failed) resumes that compensation; retrying runs now.
  // Other states: conflict.
  Result<WorkflowSummary> retry(const std::string& id);
  Status retry(store::Transaction& tx, const std::string& id);
  // pending / running / waiting / retrying -> paused (a running step finishes
  // and its outcome is kept, then the workflow stays paused).
  Result<WorkflowSummary> pause(const std::string& id);
  // paused -> pending, due now (a step that was waiting runs again and sees
  // whether its signal arrived).
  Result<WorkflowSummary> resume(const std::string& id);
  // Any non-terminal state -> compensation of the completed steps, then
  // cancelled. A running step finishes first. Terminal states: conflict.
  Result<WorkflowSummary> cancel(const std::string& id);

  // Reads counts by state into trueup_workflows and the open exceptions into
  // trueup_exceptions_open (the housekeeping thread calls it periodically).
  Status refresh_metrics();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace trueup::workflow
