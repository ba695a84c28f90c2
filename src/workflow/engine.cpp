// The workflow engine. See include/trueup/workflow/engine.hpp for the contract
// and docs/workflows.md for the model.
//
// A workflow row says where it is (phase, step_index, attempt) and when it can
// run (due_at). A claim sets a lease (lease_owner, lease_until, a new
// lease_token) and moves due_at to the lease's end, so a claim that is never
// completed (the instance died) makes the row due again when the lease
// expires. Every write that records an outcome checks the lease_token, so a
// late completion from an instance that lost its lease changes nothing.

#include "trueup/workflow/engine.hpp"

#include <algorithm>
#include <array>
#include <map>
#include <random>
#include <set>
#include <span>
#include <stdexcept>

#include "trueup/log/log.hpp"
#include "trueup/store/pg_listener.hpp"
#include "util.hpp"

namespace trueup::workflow {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using store::Param;

constexpr std::int64_t I(std::int64_t v) { return v; }
Param opt_text(const std::optional<std::string>& v) { return v ? Param(*v) : Param(std::monostate{}); }
// Not inlined: GCC 12 -O3 reports a false maybe-uninitialized through std::optional here.
[[gnu::noinline]] Param opt_int(const std::optional<std::int64_t>& v) {
  return v ? Param(*v) : Param(std::monostate{});
}

constexpr const char* kNonTerminal = "('pending', 'running', 'waiting', 'retrying', 'paused')";

// While a group of outcomes is recorded on this thread (record_all): the
// workflows whose rows a step's on_commit changed (Engine::signal), so that
// their outcome is decided on the row as it is now, not as the group read
// it at its start.
thread_local std::set<std::string>* changed_in_group = nullptr;

// A claimed workflow as the worker sees it.
struct Claimed {
  std::string id, type, correlation_key, phase;
  int step_index = 0, attempt = 0, run = 1;
  std::string input, context;
  std::optional<std::string> wait_signal;
  std::optional<std::int64_t> wait_until;
  int pending_signals = 0;
  std::int64_t token = 0;
  bool cancel_requested = false;
  std::optional<std::string> end_state;
  std::int64_t lease_until = 0;
};

constexpr const char* kClaimColumns =
    "id, type, correlation_key, phase, step_index, attempt, run, input, context, wait_signal, wait_until, "
    "pending_signals, lease_token, cancel_requested, end_state, lease_until";

Claimed claimed_from_row(const store::Row& r) {
  Claimed c;
  c.id = detail::text_or(r[0]);
  c.type = detail::text_or(r[1]);
  c.correlation_key = detail::text_or(r[2]);
  c.phase = detail::text_or(r[3], "forward");
  c.step_index = static_cast<int>(detail::to_int(r[4]));
  c.attempt = static_cast<int>(detail::to_int(r[5]));
  c.run = static_cast<int>(detail::to_int(r[6], 1));
  c.input = detail::text_or(r[7], "{}");
  c.context = detail::text_or(r[8], "{}");
  c.wait_signal = r[9];
  c.wait_until = detail::to_opt_int(r[10]);
  c.pending_signals = static_cast<int>(detail::to_int(r[11]));
  c.token = detail::to_int(r[12]);
  c.cancel_requested = detail::to_int(r[13]) != 0;
  c.end_state = r[14];
  c.lease_until = detail::to_int(r[15]);
  return c;
}

constexpr const char* kSummaryColumns =
    "id, type, correlation_key, dedupe_key, state, phase, step_index, attempt, run, wait_signal, due_at, "
    "lease_owner, last_error, failed_step, created_at, updated_at, input, context";

const std::array<State, 9> kStates = {State::pending,     State::running,   State::waiting,
                                      State::retrying,    State::paused,    State::failed,
                                      State::compensated, State::completed, State::cancelled};

std::string plural(int n, const char* word) { return std::to_string(n) + " " + word + (n == 1 ? "" : "s"); }

}  // namespace

std::string_view to_string(State s) noexcept {
  switch (s) {
    case State::pending:
      return "pending";
    case State::running:
      return "running";
    case State::waiting:
      return "waiting";
    case State::retrying:
      return "retrying";
    case State::paused:
      return "paused";
    case State::failed:
      return "failed";
    case State::compensated:
      return "compensated";
    case State::completed:
      return "completed";
    case State::cancelled:
      return "cancelled";
  }
  return "pending";
}

std::optional<State> parse_state(std::string_view text) noexcept {
  for (State s : kStates)
    if (to_string(s) == text) return s;
  return std::nullopt;
}

bool is_terminal(State s) noexcept {
  return s == State::failed || s == State::compensated || s == State::completed || s == State::cancelled;
}

json StepAttempt::to_json() const {
  return json{{"seq", seq},
              {"step", step},
              {"phase", phase},
              {"attempt", attempt},
              {"outcome", outcome},
              {"error", error ? json(*error) : json(nullptr)},
              {"started_at", detail::time_json(started_at)},
              {"finished_at", detail::time_json(finished_at)}};
}

json WorkflowSummary::to_json() const {
  auto opt = [](const std::optional<std::string>& s) -> json { return s ? json(*s) : json(nullptr); };
  return json{{"id", id},
              {"type", type},
              {"correlation_key", correlation_key},
              {"dedupe_key", dedupe_key},
              {"state", std::string(workflow::to_string(state))},
              {"phase", phase},
              {"current_step", opt(current_step)},
              {"attempt", attempt},
              {"run", run},
              {"waiting_for", opt(waiting_for)},
              {"due_at", detail::time_json(due_at)},
              {"lease_owner", opt(lease_owner)},
              {"last_error", opt(last_error)},
              {"failed_step", opt(failed_step)},
              {"created_at", detail::time_json(created_at)},
              {"updated_at", detail::time_json(updated_at)}};
}

json WorkflowDetail::to_json() const {
  json j = summary.to_json();
  j["input"] = input;
  j["context"] = context;
  json s = json::array();
  for (const auto& a : steps) s.push_back(a.to_json());
  j["steps"] = std::move(s);
  return j;
}

json WorkflowPage::to_json() const {
  json items_json = json::array();
  for (const auto& w : items) items_json.push_back(w.to_json());
  return json{{"items", std::move(items_json)}, {"next_cursor", next_cursor ? json(*next_cursor) : json(nullptr)}};
}

struct Engine::Impl {
  Impl(store::Store& s, ExceptionQueue& e, metrics::Registry& r, const Clock& c, EngineSettings st)
      : store(s), exceptions(e), registry(r), clock(c), settings(std::move(st)), postgres(detail::is_postgres(s)) {
    if (settings.instance_id.empty()) throw std::invalid_argument("workflow engine: instance_id must not be empty");
    if (settings.workers < 1) throw std::invalid_argument("workflow engine: workers must be at least 1");
    if (settings.poll_interval.count() < 1)
      throw std::invalid_argument("workflow engine: poll_interval must be positive");
    if (settings.lease < milliseconds(1000)) throw std::invalid_argument("workflow engine: lease must be at least 1 s");
    if (settings.claim_batch < 1) throw std::invalid_argument("workflow engine: claim_batch must be at least 1");
    if (settings.step_log_limit < 1) throw std::invalid_argument("workflow engine: step_log_limit must be at least 1");
    for (State s : kStates)
      if (gauged(s))
        state_gauges[static_cast<std::size_t>(s)] = &registry.gauge(
            "trueup_workflows", "Workflows by state but completed (refreshed periodically from the database)",
            {{"state", std::string(to_string(s))}});
  }

  store::Store& store;
  ExceptionQueue& exceptions;
  metrics::Registry& registry;
  const Clock& clock;
  EngineSettings settings;
  const bool postgres;

  std::map<std::string, WorkflowType, std::less<>> types;

  std::array<metrics::Gauge*, 9> state_gauges{};
  std::mutex metrics_mutex;
  std::map<std::string, metrics::Counter*> step_counters;
  std::map<std::string, metrics::Histogram*> step_durations;

  std::mutex wake_mutex;
  std::condition_variable wake_cv;
  std::uint64_t wake_seq = 0;
  std::atomic<bool> stopping{false};

  // The lease_token a claim writes: a random 63-bit start per engine, then
  // one more per claim. So no claim of a row writes a token an earlier claim
  // of it wrote, even one lost to a database crash (claims commit without
  // waiting for their WAL flush; see claim()): a late outcome recorded under
  // a lost claim's token never matches the row's.
  std::atomic<std::uint64_t> next_token{[] {
    std::random_device rd;
    return ((std::uint64_t{rd()} << 32) | rd()) >> 2;  // leaves room to count up
  }()};
  std::int64_t new_token() { return static_cast<std::int64_t>(next_token.fetch_add(1) & 0x7fffffffffffffffULL); }
  bool running = false;
  bool stopped = false;
  std::mutex lifecycle_mutex;
  std::vector<std::thread> workers;
  std::thread housekeeping;
  std::unique_ptr<store::PgListener> listener;

  // ---- small helpers -------------------------------------------------------

  // The states trueup_workflows counts: every one but completed. Completed
  // workflows stay in the table, and counting them would scan its whole
  // history at every refresh.
  static bool gauged(State s) noexcept { return s != State::completed; }

  // "('pending', ...)": the gauged states, for an IN over the state index.
  static std::string gauged_states_sql() {
    std::string sql;
    for (State s : kStates)
      if (gauged(s)) sql += (sql.empty() ? "('" : ", '") + std::string(to_string(s)) + "'";
    return sql + ")";
  }

  std::int64_t now_ms() const { return epoch_ms(clock.now()); }

  const WorkflowType* find_type(std::string_view name) const {
    auto it = types.find(name);
    return it == types.end() ? nullptr : &it->second;
  }

  RetryPolicy policy_for(const WorkflowType& type, const Step& step) const {
    if (auto it = settings.retry_overrides.find(type.name + "." + step.name); it != settings.retry_overrides.end())
      return it->second;
    if (auto it = settings.retry_overrides.find(type.name); it != settings.retry_overrides.end()) return it->second;
    return step.retry;
  }

  // The last step at or before `from` that has a compensation; -1 when none.
  static int prev_compensable(const WorkflowType& type, int from) {
    for (int i = std::min(from, static_cast<int>(type.steps.size()) - 1); i >= 0; --i)
      if (type.steps[static_cast<std::size_t>(i)].compensate) return i;
    return -1;
  }

  void count_step(const std::string& type, const std::string& outcome) {
    metrics::Counter* c = nullptr;
    {
      std::lock_guard lock(metrics_mutex);
      auto& slot = step_counters[type + '\0' + outcome];
      if (!slot)
        slot = &registry.counter("trueup_workflow_steps_total", "Step calls by workflow type and outcome",
                                 {{"type", type}, {"outcome", outcome}});
      c = slot;
    }
    c->inc();
  }

  void observe_duration(const std::string& type, double seconds) {
    metrics::Histogram* h = nullptr;
    {
      std::lock_guard lock(metrics_mutex);
      auto& slot = step_durations[type];
      if (!slot)
        slot = &registry.histogram("trueup_workflow_step_duration_seconds", "Duration of step calls by workflow type",
                                   metrics::latency_buckets(), {{"type", type}});
      h = slot;
    }
    h->observe(seconds);
  }

  void wake() {
    {
      std::lock_guard lock(wake_mutex);
      ++wake_seq;
    }
    wake_cv.notify_all();
  }

  Status notify(store::Transaction& tx) {
    if (!postgres) return Ok{};
    auto r = tx.exec("NOTIFY trueup_workflow");
    if (!r) return std::move(r).error();
    return Ok{};
  }

  // ---- claiming --------------------------------------------------------------

  // How long a lease on a workflow about to run `step` lasts: the configured
  // lease, and at least the step's timeout with 5 s to spare.
  std::int64_t lease_ms(const Step& step) const {
    return std::max(settings.lease, step.timeout + milliseconds(5000)).count();
  }

  // The claim's lease_until: per type, the longest lease its steps need, so
  // the step claimed (whichever it is) needs no renewal before it runs.
  // Parameters from $5 on; types not defined here get the configured lease ($2).
  std::string claim_lease_sql(std::int64_t now, std::vector<Param>& params) const {
    if (types.empty()) return "$2";
    std::string sql = "CASE type";
    for (const auto& [name, type] : types) {
      std::int64_t longest = settings.lease.count();
      for (const auto& step : type.steps) longest = std::max(longest, lease_ms(step));
      params.emplace_back(name);
      params.emplace_back(now + longest);
      sql += " WHEN $" + std::to_string(params.size() - 1) + " THEN $" + std::to_string(params.size());
    }
    return "CAST(" + sql + " ELSE $2 END AS BIGINT)";
  }

  Result<std::vector<Claimed>> claim(std::size_t limit) {
    std::vector<Claimed> out;
    const std::int64_t now = now_ms();
    const std::int64_t until = now + settings.lease.count();
    std::vector<Param> params{settings.instance_id, until, now, static_cast<std::int64_t>(limit)};
    const std::string lease = claim_lease_sql(now, params);
    params.emplace_back(new_token());
    const std::string token = "$" + std::to_string(params.size());
    std::string sql;
    if (postgres) {
      sql = "UPDATE trueup_workflow w SET state = 'running', lease_owner = $1, lease_until = " + lease +
            ", due_at = " + lease + ", lease_token = " + token +
            ", updated_at = $3 FROM (SELECT id FROM trueup_workflow "
            "WHERE due_at <= $3 AND (lease_until IS NULL OR lease_until <= $3) ORDER BY due_at LIMIT $4 "
            "FOR UPDATE SKIP LOCKED) c WHERE w.id = c.id RETURNING "
            "w.id, w.type, w.correlation_key, w.phase, w.step_index, w.attempt, w.run, w.input, w.context, "
            "w.wait_signal, w.wait_until, w.pending_signals, w.lease_token, w.cancel_requested, w.end_state, "
            "w.lease_until";
    } else {
      // SQLite has one writer: the UPDATE itself is the claim.
      sql = "UPDATE trueup_workflow SET state = 'running', lease_owner = $1, lease_until = " + lease +
            ", due_at = " + lease + ", lease_token = " + token +
            ", updated_at = $3 WHERE id IN (SELECT id FROM trueup_workflow "
            "WHERE due_at <= $3 AND (lease_until IS NULL OR lease_until <= $3) ORDER BY due_at LIMIT $4) "
            "RETURNING " +
            std::string(kClaimColumns);
    }
    auto s = store.transact([&](store::Transaction& tx) -> Status {
      out.clear();
      // A claim need not wait for its WAL flush: one lost to a database
      // crash leaves the row's old lease_token, and no later claim writes
      // the lost one again (new_token), so the outcome recorded under it is
      // discarded as a lost lease and the step runs again (possibly while
      // the first call still runs: the row is due at once, not after a
      // lease; same idempotency key). Recording an outcome commits
      // synchronously, which flushes the claim before it.
      if (auto async = tx.commit_without_flush(); !async) return async;
      auto rows = tx.exec(sql, params);
      if (!rows) return std::move(rows).error();
      for (const auto& r : rows->rows) out.push_back(claimed_from_row(r));
      return Ok{};
    });
    if (!s) return std::move(s).error();
    return out;
  }

  // Gives a claimed, not yet run workflow back (stop, unknown type).
  void release(const Claimed& w, std::int64_t due, const std::optional<std::string>& error) {
    const std::string state = w.wait_until ? "waiting" : (w.attempt > 0 ? "retrying" : "pending");
    auto s = store.transact([&](store::Transaction& tx) -> Status {
      std::string sql =
          "UPDATE trueup_workflow SET state = $3, due_at = $4, lease_owner = NULL, lease_until = NULL, "
          "updated_at = $5";
      if (error) sql += ", last_error = $6";
      sql += " WHERE id = $1 AND lease_token = $2";
      std::vector<Param> params{w.id, w.token, state, due, now_ms()};
      if (error) params.emplace_back(*error);
      auto r = tx.exec(sql, params);
      if (!r) return std::move(r).error();
      return Ok{};
    });
    if (!s) log::warn("workflow: could not release lease", {{"workflow_id", w.id}, {"error", s.error().describe()}});
  }

  // ---- running one step --------------------------------------------------------

  // A step call whose outcome is not recorded yet.
  struct Pending {
    Claimed w;
    const WorkflowType* type;
    const Step* step;
    bool compensating;
    std::unique_ptr<json> input;
    std::unique_ptr<StepContext> ctx;
    StepResult result;
    TimePoint started, finished;
  };

  // Runs a claimed workflow's current step (or compensation); nullopt when it
  // could not run (lease lost, type unknown: released).
  std::optional<Pending> run_step(Claimed w) {
    const WorkflowType* type = find_type(w.type);
    if (!type) {
      release(w, now_ms() + 60000, "workflow type " + w.type + " is not defined in instance " + settings.instance_id);
      return std::nullopt;
    }
    if (w.cancel_requested && w.phase == "forward") {
      // Cancelled while its holder was away: start compensating now.
      auto s =
          store.transact([&](store::Transaction& tx) -> Status { return begin_compensation_for_cancel(tx, w, *type); });
      if (!s) {
        log::warn("workflow: cancel failed", {{"workflow_id", w.id}, {"error", s.error().describe()}});
        return std::nullopt;
      }
      if (w.phase != "compensating") return std::nullopt;  // already cancelled
    }
    if (w.step_index < 0 || w.step_index >= static_cast<int>(type->steps.size())) {
      release(w, now_ms() + 60000,
              "workflow is at step " + std::to_string(w.step_index) + " but type " + w.type + " has " +
                  std::to_string(type->steps.size()));
      return std::nullopt;
    }
    const bool compensating = w.phase == "compensating";
    const Step& step = type->steps[static_cast<std::size_t>(w.step_index)];

    // A step must not outlive its lease: renew first when it might.
    const std::int64_t now = now_ms();
    if (w.lease_until - now < step.timeout.count()) {
      const std::int64_t until = now + lease_ms(step);
      bool kept = false;
      auto s = store.transact([&](store::Transaction& tx) -> Status {
        auto r = tx.exec(
            "UPDATE trueup_workflow SET lease_until = $3, due_at = $3 WHERE id = $1 AND lease_token = $2 "
            "AND lease_owner = $4",
            {w.id, w.token, until, settings.instance_id});
        if (!r) return std::move(r).error();
        kept = r->affected == 1;
        return Ok{};
      });
      if (!s || !kept) {
        count_step(w.type, "lease_lost");
        return std::nullopt;
      }
      w.lease_until = until;
    }

    std::vector<StepContext::Signal> signals;
    if (w.pending_signals > 0) {
      auto s = store.transact([&](store::Transaction& tx) -> Status {
        auto r =
            tx.exec("SELECT id, name, payload FROM trueup_workflow_signal WHERE workflow_id = $1 ORDER BY id", {w.id});
        if (!r) return std::move(r).error();
        for (const auto& row : r->rows)
          signals.push_back({detail::to_int(row[0]), detail::text_or(row[1]), detail::parse_json(row[2])});
        return Ok{};
      });
      if (!s) {
        release(w, now + 1000, "could not read signals: " + s.error().describe());
        return std::nullopt;
      }
    }

    auto input = std::make_unique<json>(detail::parse_json(w.input));
    json context = detail::parse_json(w.context);
    if (!context.is_object()) context = json::object();
    const TimePoint started = clock.now();
    const bool timed_out = w.wait_until && epoch_ms(started) >= *w.wait_until;
    auto ctx = std::make_unique<StepContext>(w.id, w.type, w.correlation_key, step.name, compensating, w.attempt + 1,
                                             w.run, *input, std::move(context), std::move(signals), timed_out, started,
                                             started + step.timeout);
    const StepFunction& fn = compensating ? step.compensate : step.run;
    const auto steady_start = std::chrono::steady_clock::now();
    StepResult result = StepResult::done();
    try {
      result = fn(*ctx);
    } catch (const std::exception& e) {
      result = StepResult::fail(make_error(Errc::internal, std::string("the step threw: ") + e.what()));
    } catch (...) {
      result = StepResult::fail(make_error(Errc::internal, "the step threw an unknown exception"));
    }
    const TimePoint finished = clock.now();
    observe_duration(w.type, std::chrono::duration<double>(std::chrono::steady_clock::now() - steady_start).count());
    if (finished - started > step.timeout && result.kind() != StepResult::Kind::error)
      result = StepResult::fail(make_error(
          Errc::timeout, "the step took longer than its timeout of " + std::to_string(step.timeout.count()) + " ms"));

    return Pending{std::move(w),      type,    &step,   compensating, std::move(input), std::move(ctx),
                   std::move(result), started, finished};
  }

  // Records the outcomes of `batch` in one transaction (group commit); when
  // that fails (an on_commit write, a conflict), records each on its own.
  // Returns the workflows to continue with at once (still leased).
  std::vector<Claimed> record_all(std::vector<Pending>& batch, bool allow_inline) {
    std::vector<Claimed> next;
    if (batch.empty()) return next;
    if (batch.size() > 1) {
      // One lock order for every worker (see WorkflowType::record_order).
      auto key = [](const Pending& p) {
        return p.type->record_order ? p.type->record_order(*p.input) : p.w.correlation_key;
      };
      std::vector<std::pair<std::string, std::size_t>> order;
      order.reserve(batch.size());
      for (std::size_t i = 0; i < batch.size(); ++i)
        order.emplace_back(batch[i].type->name + '\x1f' + key(batch[i]), i);
      std::stable_sort(order.begin(), order.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
      std::vector<Pending> sorted;
      sorted.reserve(batch.size());
      for (const auto& [k, i] : order) sorted.push_back(std::move(batch[i]));
      batch = std::move(sorted);
      std::vector<Completion> done(batch.size());
      auto s = store.transact([&](store::Transaction& tx) -> Status {
        // The group's rows in one statement (locked on PostgreSQL), not one
        // round trip per workflow; those of types signalled from steps at
        // their own turn (WorkflowType::signalled_from_steps).
        json ids = json::array();
        for (const auto& p : batch)
          if (!p.type->signalled_from_steps) ids.push_back(p.w.id);
        store::Rows read;
        if (!ids.empty()) {
          static const std::string pg = std::string(kRecordColumnsSql) +
                                        "id = ANY(ARRAY(SELECT jsonb_array_elements_text($1::jsonb))) ORDER BY id "
                                        "FOR UPDATE";
          static const std::string sqlite = std::string(kRecordColumnsSql) + "id IN (SELECT value FROM json_each($1))";
          auto cur = tx.exec(postgres ? pg : sqlite, {ids.dump()});
          if (!cur) return std::move(cur).error();
          read = std::move(*cur);
        }
        std::map<std::string, const store::Row*, std::less<>> rows;
        for (const auto& r : read.rows)
          if (r[0]) rows.emplace(*r[0], &r);
        std::set<std::string> changed;
        changed_in_group = &changed;
        struct Reset {
          ~Reset() { changed_in_group = nullptr; }
        } reset;
        StepLogRows step_log = json::array();
        for (std::size_t i = 0; i < batch.size(); ++i) {
          auto& p = batch[i];
          done[i] = Completion{};
          const store::Row* row = nullptr;  // read at its turn
          if (!p.type->signalled_from_steps) {
            auto it = rows.find(p.w.id);
            row = it == rows.end() ? &kNoRow : it->second;
          }
          if (auto r = record(tx, done[i], p.w, *p.type, *p.step, p.compensating, *p.ctx, p.result, p.started,
                              p.finished, allow_inline, true, row, &step_log);
              !r)
            return r;
        }
        return insert_step_log(tx, step_log);
      });
      if (s) {
        for (std::size_t i = 0; i < batch.size(); ++i) {
          if (done[i].lost) {
            count_step(batch[i].w.type, "lease_lost");
            continue;
          }
          count_step(batch[i].w.type, done[i].outcome);
          if (done[i].next) next.push_back(std::move(*done[i].next));
        }
        return next;
      }
    }
    for (auto& p : batch) {
      auto n = complete(p.w, *p.type, *p.step, p.compensating, *p.ctx, p.result, p.started, p.finished, allow_inline);
      if (n) next.push_back(std::move(*n));
    }
    return next;
  }

  struct Completion {
    bool lost = false;
    std::optional<Error> commit_error;
    std::optional<Claimed> next;
    std::string outcome;
  };

  std::optional<Claimed> complete(const Claimed& w, const WorkflowType& type, const Step& step, bool compensating,
                                  StepContext& ctx, StepResult result, TimePoint started, TimePoint finished,
                                  bool allow_inline) {
    Completion c;
    auto attempt_once = [&](bool with_commits) {
      return store.transact([&](store::Transaction& tx) -> Status {
        c = Completion{};
        return record(tx, c, w, type, step, compensating, ctx, result, started, finished, allow_inline, with_commits);
      });
    };
    Status s = attempt_once(true);
    if (!s && c.commit_error) {
      // A write registered with on_commit failed: the step is not recorded as
      // done; record the attempt as failed with that error instead.
      result = StepResult::fail(*c.commit_error);
      s = attempt_once(false);
    }
    if (!s) {
      // The outcome is lost; the lease expires and the step runs again.
      log::warn("workflow: could not record a step's outcome",
                {{"workflow_id", w.id}, {"step", step.name}, {"error", s.error().describe()}});
      count_step(w.type, "unrecorded");
      return std::nullopt;
    }
    if (c.lost) {
      log::warn("workflow: lease lost; the step's outcome is discarded", {{"workflow_id", w.id}, {"step", step.name}});
      count_step(w.type, "lease_lost");
      return std::nullopt;
    }
    count_step(w.type, c.outcome);
    return c.next;
  }

  Status open_failure_exception(store::Transaction& tx, const Claimed& w, const std::string& reason,
                                const std::string& severity, const std::string& last_error) {
    ExceptionSpec spec;
    spec.kind = "workflow_failed";
    spec.severity = severity;
    spec.refers_to = {"workflow", w.id};
    spec.reason = reason;
    spec.details = json{{"type", w.type}, {"correlation_key", w.correlation_key}, {"last_error", last_error}};
    auto r = exceptions.open(tx, spec);
    if (!r) return std::move(r).error();
    return Ok{};
  }

  // What record() reads of a workflow's row first: its id, then the columns
  // it decides on; the WHERE clause follows.
  static constexpr std::string_view kRecordColumnsSql =
      "SELECT id, state, lease_token, cancel_requested, log_seq, had_exception, run, failed_step, last_error, "
      "pending_signals FROM trueup_workflow WHERE ";
  static inline const store::Row kNoRow{};  // a workflow row that is gone

  // PostgreSQL's jsonb refuses \u0000 (and a text parameter ends at a NUL
  // anyway): an error text that carries one is logged without it, or the
  // outcome could never be recorded.
  static std::string without_nul(std::string text) {
    std::erase(text, '\0');
    return text;
  }

  // Step log rows (trueup_workflow_step) as a JSON array of objects, written
  // in one statement whatever their number: one statement text, so one
  // prepared statement (a VALUES list would make one per row count).
  using StepLogRows = json;
  Status insert_step_log(store::Transaction& tx, const StepLogRows& rows) const {
    if (rows.empty()) return Ok{};
    static const std::string pg =
        "INSERT INTO trueup_workflow_step (workflow_id, seq, step, phase, attempt, outcome, error, started_at, "
        "finished_at) SELECT workflow_id, seq, step, phase, attempt, outcome, error, started_at, finished_at FROM "
        "jsonb_to_recordset($1::jsonb) AS r(workflow_id TEXT, seq BIGINT, step TEXT, phase TEXT, attempt INTEGER, "
        "outcome TEXT, error TEXT, started_at BIGINT, finished_at BIGINT)";
    static const std::string sqlite =
        "INSERT INTO trueup_workflow_step (workflow_id, seq, step, phase, attempt, outcome, error, started_at, "
        "finished_at) SELECT value ->> 'workflow_id', value ->> 'seq', value ->> 'step', value ->> 'phase', "
        "value ->> 'attempt', value ->> 'outcome', value ->> 'error', value ->> 'started_at', "
        "value ->> 'finished_at' FROM json_each($1)";
    auto l = tx.exec(postgres ? pg : sqlite, {rows.dump(-1, ' ', false, json::error_handler_t::replace)});
    if (!l) return std::move(l).error();
    return Ok{};
  }

  // Records one step call's outcome inside `tx` (see complete()). `locked`:
  // the workflow's row as kRecordColumnsSql reads it, already read (and
  // locked) in `tx` by the caller; kNoRow when it is gone; else read here.
  // `step_log`: where its step log row goes for the caller to insert (with
  // the group's others) before the commit; else inserted here.
  Status record(store::Transaction& tx, Completion& c, const Claimed& w, const WorkflowType& type, const Step& step,
                bool compensating, StepContext& ctx, const StepResult& result, TimePoint started, TimePoint finished,
                bool allow_inline, bool with_commits, const store::Row* locked = nullptr,
                StepLogRows* step_log = nullptr) {
    store::Rows own;
    if (locked && changed_in_group && changed_in_group->contains(w.id)) locked = nullptr;  // read it again
    if (!locked) {
      auto cur = tx.exec(std::string(kRecordColumnsSql) + "id = $1" + (postgres ? " FOR UPDATE" : ""), {w.id});
      if (!cur) return std::move(cur).error();
      own = std::move(*cur);
      locked = own.rows.empty() ? &kNoRow : &own.rows[0];
    }
    if (locked->empty() || detail::to_int((*locked)[2]) != w.token) {
      c.lost = true;
      return Ok{};
    }
    // Without the id: the columns as numbered below.
    const std::span<const std::optional<std::string>> row(locked->data() + 1, locked->size() - 1);
    const std::string db_state = detail::text_or(row[0]);
    const bool cancel = detail::to_int(row[2]) != 0;
    const std::int64_t seq = detail::to_int(row[3]) + 1;
    bool had_exception = detail::to_int(row[4]) != 0;
    std::optional<std::string> failed_step = row[6];
    std::optional<std::string> last_error = row[7];
    // Signals may have arrived while the step ran.
    int pending = static_cast<int>(detail::to_int(row[8]));

    const std::int64_t now = epoch_ms(finished);
    const RetryPolicy policy = policy_for(type, step);
    const int attempt_no = w.attempt + 1;

    // The new row, starting from what it was.
    std::string state = "running";
    std::string phase = w.phase;
    int step_index = w.step_index;
    int attempt = w.attempt;
    std::optional<std::string> end_state = w.end_state;
    std::optional<std::string> wait_signal;
    std::optional<std::int64_t> wait_until;
    std::optional<std::int64_t> due;
    bool keep_lease = false;
    bool save_context = false;
    bool terminal = false;
    std::string outcome;
    std::optional<std::string> error_text;
    std::optional<std::pair<std::string, std::string>> exception;  // reason, severity

    auto finish_compensation = [&]() {
      terminal = true;
      state = end_state.value_or("compensated");
      if (state == "compensated") {
        const std::string what = failed_step ? "stopped at step '" + *failed_step + "'" : "stopped";
        exception.emplace("Workflow " + w.type + " for '" + w.correlation_key + "' " + what + ": " +
                              last_error.value_or("unknown error") +
                              ". The steps it had completed were undone. Fix the cause, then retry the workflow.",
                          "error");
      }
    };
    // Moves to compensating the steps before `from` (inclusive), ending in `end`.
    auto start_compensation = [&](int from, const std::string& end) {
      phase = "compensating";
      end_state = end;
      attempt = 0;
      step_index = prev_compensable(type, from);
      if (step_index < 0) {
        step_index = 0;
        finish_compensation();
      }
    };
    auto advance = [&]() {  // the current step (or compensation) is done
      attempt = 0;
      save_context = true;
      if (!compensating) {
        step_index = w.step_index + 1;
        if (step_index >= static_cast<int>(type.steps.size())) {
          terminal = true;
          state = "completed";
        }
      } else {
        step_index = prev_compensable(type, w.step_index - 1);
        if (step_index < 0) {
          step_index = 0;
          finish_compensation();
        }
      }
    };

    switch (result.kind()) {
      case StepResult::Kind::done:
        outcome = "done";
        advance();
        break;
      case StepResult::Kind::wait_signal:
        outcome = "waiting";
        save_context = true;
        attempt = 0;
        state = "waiting";
        wait_signal = result.signal_name();
        if (result.timeout()) wait_until = now + result.timeout()->count();
        due = wait_until;
        break;
      case StepResult::Kind::sleep:
        outcome = "sleeping";
        save_context = true;
        attempt = 0;
        state = "waiting";
        wait_until = epoch_ms(result.until());
        due = wait_until;
        break;
      case StepResult::Kind::error: {
        const Error& e = *result.error();
        error_text = e.describe();
        const bool again = e.retryable() && attempt_no < policy.max_attempts;
        if (again) {
          outcome = "retry";
          state = "retrying";
          attempt = attempt_no;
          due = now + policy.delay_after(attempt_no).count();
          last_error = "step '" + step.name + "'" + (compensating ? " (compensation)" : "") + ", attempt " +
                       std::to_string(attempt_no) + ": " + *error_text;
        } else {
          outcome = "failed";
          const std::string why = e.retryable() ? "gave up after " + plural(attempt_no, "attempt") : "permanent error";
          if (!compensating) {
            failed_step = step.name;
            last_error = "step '" + step.name + "' failed (" + why + "): " + *error_text;
            start_compensation(w.step_index - 1, cancel ? "cancelled" : "compensated");
          } else {
            terminal = true;
            state = "failed";
            const std::string first = last_error.value_or("unknown error");
            last_error = "undoing step '" + step.name + "' failed (" + why + "): " + *error_text;
            exception.emplace("Workflow " + w.type + " for '" + w.correlation_key + "' failed (" + first +
                                  ") and undoing step '" + step.name + "' failed too (" + why + "): " + *error_text +
                                  ". Some of its effects may remain: check '" + step.name +
                                  "' in the target system, then retry the workflow (resumes the undo) or resolve "
                                  "the exception.",
                              "critical");
          }
        }
        break;
      }
    }

    // Operators' requests made while the step ran.
    if (!terminal && cancel && phase == "forward") {
      // Completed steps: those before step_index (after this call's outcome).
      start_compensation(step_index - 1, "cancelled");
      wait_signal.reset();
      wait_until.reset();
      due.reset();
      if (!terminal) state = "running";
    }
    if (!terminal && db_state == "paused" && !cancel) {
      state = "paused";
      due.reset();
      keep_lease = false;
    } else if (!terminal && state == "running") {
      // The next step (or compensation) is due now.
      if (allow_inline) {
        keep_lease = true;
      } else {
        state = "pending";
        due = now;
      }
    }

    // on_commit writes: with the step's successful outcome only.
    if (with_commits && result.kind() != StepResult::Kind::error) {
      for (auto& work : ctx.commits()) {
        Status s = Status(Ok{});
        try {
          s = work(tx);
        } catch (const std::exception& e) {
          s = make_error(Errc::internal, std::string("an on_commit write threw: ") + e.what());
        }
        if (!s) {
          c.commit_error = s.error();
          return s;
        }
      }
    }

    // Signals the step read are consumed with its successful outcome.
    if (terminal && pending > 0) {
      auto d = tx.exec("DELETE FROM trueup_workflow_signal WHERE workflow_id = $1", {w.id});
      if (!d) return std::move(d).error();
      pending = 0;
    } else if (result.kind() != StepResult::Kind::error) {
      for (std::int64_t id : ctx.consumed_signals()) {
        auto d = tx.exec("DELETE FROM trueup_workflow_signal WHERE id = $1", {id});
        if (!d) return std::move(d).error();
        pending -= static_cast<int>(d->affected);
      }
      if (result.kind() == StepResult::Kind::wait_signal && state == "waiting") {
        auto m = tx.exec("SELECT 1 FROM trueup_workflow_signal WHERE workflow_id = $1 AND name = $2 LIMIT 1",
                         {w.id, *wait_signal});
        if (!m) return std::move(m).error();
        if (!m->rows.empty()) due = now;  // it arrived while the step ran
      }
    }
    if (pending < 0) pending = 0;

    if (exception) {
      if (auto s = open_failure_exception(tx, w, exception->first, exception->second, last_error.value_or("")); !s)
        return s;
      had_exception = true;
    } else if (state == "completed" && had_exception) {
      if (auto s = exceptions.resolve_open(tx, "workflow_failed", {"workflow", w.id}, "trueup",
                                           "the workflow completed after a retry");
          !s)
        return s;
    }

    std::optional<std::int64_t> lease_until;
    std::optional<std::string> lease_owner;
    if (keep_lease) {
      const Step& next = type.steps[static_cast<std::size_t>(step_index)];
      lease_until = now + lease_ms(next);
      lease_owner = settings.instance_id;
      due = lease_until;
    }
    if (terminal) due.reset();

    auto u = tx.exec(
        "UPDATE trueup_workflow SET state = $2, phase = $3, step_index = $4, attempt = $5, context = $6, "
        "wait_signal = $7, wait_until = $8, pending_signals = $9, due_at = $10, lease_owner = $11, "
        "lease_until = $12, end_state = $13, last_error = $14, failed_step = $15, had_exception = $16, "
        "log_seq = $17, updated_at = $18, cancel_requested = CASE WHEN $19 = 1 THEN 0 ELSE cancel_requested END "
        "WHERE id = $1",
        {w.id, state, phase, I(step_index), I(attempt), save_context ? ctx.context().dump() : w.context,
         opt_text(wait_signal), opt_int(wait_until), I(pending), opt_int(due), opt_text(lease_owner),
         opt_int(lease_until), opt_text(end_state), opt_text(last_error), opt_text(failed_step),
         I(had_exception ? 1 : 0), seq, now, I(phase == "compensating" ? 1 : 0)});
    if (!u) return std::move(u).error();

    json log_row{{"workflow_id", w.id},
                 {"seq", seq},
                 {"step", step.name},
                 {"phase", compensating ? "compensate" : "run"},
                 {"attempt", attempt_no},
                 {"outcome", outcome},
                 {"error", error_text ? json(without_nul(*error_text)) : json(nullptr)},
                 {"started_at", epoch_ms(started)},
                 {"finished_at", now}};
    if (step_log) {
      step_log->push_back(std::move(log_row));
    } else if (auto l = insert_step_log(tx, json::array({std::move(log_row)})); !l) {
      return l;
    }
    const auto limit = static_cast<std::int64_t>(settings.step_log_limit);
    if (seq > limit) {
      auto t = tx.exec("DELETE FROM trueup_workflow_step WHERE workflow_id = $1 AND seq <= $2", {w.id, seq - limit});
      if (!t) return std::move(t).error();
    }

    c.outcome = outcome;
    if (keep_lease) {
      Claimed n = w;
      n.phase = phase;
      n.step_index = step_index;
      n.attempt = attempt;
      n.context = save_context ? ctx.context().dump() : w.context;
      n.wait_signal.reset();
      n.wait_until.reset();
      n.pending_signals = pending;
      n.cancel_requested = false;
      n.end_state = end_state;
      n.lease_until = *lease_until;
      c.next = std::move(n);
    }
    return Ok{};
  }

  // A claimed workflow whose cancel was requested while nobody held it.
  Status begin_compensation_for_cancel(store::Transaction& tx, Claimed& w, const WorkflowType& type) {
    auto cur = tx.exec(
        std::string("SELECT lease_token FROM trueup_workflow WHERE id = $1") + (postgres ? " FOR UPDATE" : ""), {w.id});
    if (!cur) return std::move(cur).error();
    if (cur->rows.empty() || detail::to_int(cur->rows[0][0]) != w.token)
      return make_error(Errc::conflict, "lease lost");
    const int from = prev_compensable(type, w.step_index - 1);
    const std::int64_t now = now_ms();
    if (from < 0) {
      auto u = tx.exec(
          "UPDATE trueup_workflow SET state = 'cancelled', due_at = NULL, lease_owner = NULL, lease_until = NULL, "
          "cancel_requested = 0, end_state = 'cancelled', pending_signals = 0, updated_at = $2 WHERE id = $1",
          {w.id, now});
      if (!u) return std::move(u).error();
      auto d = tx.exec("DELETE FROM trueup_workflow_signal WHERE workflow_id = $1", {w.id});
      if (!d) return std::move(d).error();
      w.phase = "done";
      return Ok{};
    }
    auto u = tx.exec(
        "UPDATE trueup_workflow SET phase = 'compensating', step_index = $2, attempt = 0, wait_signal = NULL, "
        "wait_until = NULL, cancel_requested = 0, end_state = 'cancelled', updated_at = $3 WHERE id = $1",
        {w.id, I(from), now});
    if (!u) return std::move(u).error();
    w.phase = "compensating";
    w.step_index = from;
    w.attempt = 0;
    w.wait_signal.reset();
    w.wait_until.reset();
    w.cancel_requested = false;
    w.end_state = "cancelled";
    return Ok{};
  }

  // Runs claimed workflows and whatever follows inline, recording outcomes
  // in groups (one transaction per batch_window); returns step calls made.
  // Workflows beyond `budget` calls, or left when stopping, are released.
  std::size_t process(std::vector<Claimed> current, std::size_t budget) {
    std::size_t calls = 0;
    while (!current.empty()) {
      std::vector<Claimed> next;
      std::vector<Pending> pending;
      auto window_start = std::chrono::steady_clock::now();
      auto flush = [&] {
        const bool inline_ok = !stopping.load() && calls < budget;
        for (auto& n : record_all(pending, inline_ok)) next.push_back(std::move(n));
        pending.clear();
        window_start = std::chrono::steady_clock::now();
      };
      for (auto& w : current) {
        if (stopping.load() || calls >= budget) {
          release(w, now_ms(), std::nullopt);
          continue;
        }
        ++calls;
        if (auto p = run_step(std::move(w))) pending.push_back(std::move(*p));
        if (std::chrono::steady_clock::now() - window_start >= settings.batch_window) flush();
      }
      flush();
      current = std::move(next);
    }
    return calls;
  }

  // ---- loops -------------------------------------------------------------------

  void worker_loop() {
    while (!stopping.load()) {
      std::uint64_t seen;
      {
        std::lock_guard lock(wake_mutex);
        seen = wake_seq;
      }
      auto claimed = claim(settings.claim_batch);
      if (!claimed) {
        log::warn("workflow: claiming work failed", {{"error", claimed.error().describe()}});
        std::unique_lock lock(wake_mutex);
        wake_cv.wait_for(lock, settings.poll_interval, [&] { return stopping.load(); });
        continue;
      }
      if (claimed->empty()) {
        std::unique_lock lock(wake_mutex);
        wake_cv.wait_for(lock, settings.poll_interval, [&] { return stopping.load() || wake_seq != seen; });
        continue;
      }
      process(std::move(*claimed), SIZE_MAX);
    }
  }

  void housekeeping_loop() {
    while (!stopping.load()) {
      if (auto s = refresh_metrics(); !s)
        log::warn("workflow: refreshing metrics failed", {{"error", s.error().describe()}});
      std::unique_lock lock(wake_mutex);
      wake_cv.wait_for(lock, settings.metrics_interval, [&] { return stopping.load(); });
    }
  }

  Status refresh_metrics() {
    std::map<std::string, std::int64_t> counts;
    auto s = store.transact([&](store::Transaction& tx) -> Status {
      // An index range over (state, type): the cost follows the workflows
      // that are not completed, not the table's history.
      static const std::string sql =
          "SELECT state, COUNT(*) FROM trueup_workflow WHERE state IN " + gauged_states_sql() + " GROUP BY state";
      auto rows = tx.exec(sql);
      if (!rows) return std::move(rows).error();
      counts.clear();
      for (const auto& r : rows->rows) counts[detail::text_or(r[0])] = detail::to_int(r[1]);
      return Ok{};
    });
    if (!s) return s;
    for (State st : kStates) {
      auto* gauge = state_gauges[static_cast<std::size_t>(st)];
      if (!gauge) continue;
      auto it = counts.find(std::string(to_string(st)));
      gauge->set(it == counts.end() ? 0.0 : static_cast<double>(it->second));
    }
    return exceptions.refresh_metrics();
  }

  // ---- admin -----------------------------------------------------------------------

  WorkflowSummary summary_from_row(const store::Row& r) const {
    WorkflowSummary s;
    s.id = detail::text_or(r[0]);
    s.type = detail::text_or(r[1]);
    s.correlation_key = detail::text_or(r[2]);
    s.dedupe_key = detail::text_or(r[3]);
    s.state = parse_state(detail::text_or(r[4])).value_or(State::pending);
    s.phase = detail::text_or(r[5]);
    const int index = static_cast<int>(detail::to_int(r[6]));
    if (const auto* t = find_type(s.type);
        t && !is_terminal(s.state) && index >= 0 && index < static_cast<int>(t->steps.size()))
      s.current_step = t->steps[static_cast<std::size_t>(index)].name;
    s.attempt = static_cast<int>(detail::to_int(r[7]));
    s.run = static_cast<int>(detail::to_int(r[8], 1));
    s.waiting_for = s.state == State::waiting ? r[9] : std::nullopt;
    if (auto v = detail::to_opt_int(r[10])) s.due_at = from_epoch_ms(*v);
    s.lease_owner = r[11];
    s.last_error = r[12];
    s.failed_step = r[13];
    s.created_at = from_epoch_ms(detail::to_int(r[14]));
    s.updated_at = from_epoch_ms(detail::to_int(r[15]));
    return s;
  }

  Result<WorkflowSummary> load_summary(store::Transaction& tx, const std::string& id, bool lock) {
    auto r = tx.exec(std::string("SELECT ") + kSummaryColumns + " FROM trueup_workflow WHERE id = $1" +
                         (lock && postgres ? " FOR UPDATE" : ""),
                     {id});
    if (!r) return std::move(r).error();
    if (r->rows.empty()) return make_error(Errc::not_found, "no workflow with id " + id);
    return summary_from_row(r->rows[0]);
  }

  struct Row {
    WorkflowSummary summary;
    int step_index = 0;
    bool leased = false;  // a live lease: a step is running somewhere
  };

  Result<Row> lock_row(store::Transaction& tx, const std::string& id) {
    auto r = tx.exec(std::string("SELECT ") + kSummaryColumns + ", lease_until FROM trueup_workflow WHERE id = $1" +
                         (postgres ? " FOR UPDATE" : ""),
                     {id});
    if (!r) return std::move(r).error();
    if (r->rows.empty()) return make_error(Errc::not_found, "no workflow with id " + id);
    Row row;
    row.summary = summary_from_row(r->rows[0]);
    row.step_index = static_cast<int>(detail::to_int(r->rows[0][6]));
    const auto lease_until = detail::to_opt_int(r->rows[0][18]);
    row.leased = row.summary.lease_owner && lease_until && *lease_until > now_ms();
    return row;
  }

  static Error refused(const WorkflowSummary& s, const std::string& action, const std::string& allowed) {
    return make_error(Errc::conflict, "workflow " + s.id + " is " + std::string(to_string(s.state)) + ": only " +
                                          allowed + " workflows can be " + action);
  }

  Status retry_in(store::Transaction& tx, const std::string& id) {
    auto row = lock_row(tx, id);
    if (!row) return std::move(row).error();
    const auto& s = row->summary;
    const std::int64_t now = now_ms();
    Result<store::Rows> u = store::Rows{};
    switch (s.state) {
      case State::retrying:
        u = tx.exec("UPDATE trueup_workflow SET due_at = $2, updated_at = $2 WHERE id = $1", {id, now});
        break;
      case State::compensated:
        // Everything was undone: start over, with new idempotency keys.
        u = tx.exec(
            "UPDATE trueup_workflow SET state = 'pending', phase = 'forward', step_index = 0, attempt = 0, "
            "run = run + 1, context = '{}', wait_signal = NULL, wait_until = NULL, end_state = NULL, "
            "cancel_requested = 0, due_at = $2, updated_at = $2 WHERE id = $1",
            {id, now});
        break;
      case State::failed:
        // A compensation failed: resume it.
        u = tx.exec(
            "UPDATE trueup_workflow SET state = 'pending', attempt = 0, due_at = $2, updated_at = $2 WHERE id = $1",
            {id, now});
        break;
      default:
        return refused(s, "retried", "failed, compensated or retrying");
    }
    if (!u) return std::move(u).error();
    return notify(tx);
  }

  template <class F>
  Result<WorkflowSummary> admin(const std::string& id, F&& change) {
    std::optional<WorkflowSummary> out;
    auto s = store.transact([&](store::Transaction& tx) -> Status {
      if (auto c = change(tx); !c) return c;
      auto r = load_summary(tx, id, false);
      if (!r) return std::move(r).error();
      out = std::move(*r);
      return Ok{};
    });
    if (!s) return std::move(s).error();
    wake();
    return std::move(*out);
  }

  Status pause_in(store::Transaction& tx, const std::string& id) {
    auto row = lock_row(tx, id);
    if (!row) return std::move(row).error();
    const auto st = row->summary.state;
    if (st != State::pending && st != State::running && st != State::waiting && st != State::retrying)
      return refused(row->summary, "paused", "pending, running, waiting or retrying");
    // A running step keeps its lease and finishes; its outcome is kept and
    // the workflow then stays paused.
    auto u = tx.exec("UPDATE trueup_workflow SET state = 'paused', due_at = NULL, updated_at = $2 WHERE id = $1",
                     {id, now_ms()});
    if (!u) return std::move(u).error();
    return Ok{};
  }

  Status resume_in(store::Transaction& tx, const std::string& id) {
    auto row = lock_row(tx, id);
    if (!row) return std::move(row).error();
    if (row->summary.state != State::paused) return refused(row->summary, "resumed", "paused");
    // Claims skip live leases, so a step still running is not run twice.
    auto u = tx.exec("UPDATE trueup_workflow SET state = 'pending', due_at = $2, updated_at = $2 WHERE id = $1",
                     {id, now_ms()});
    if (!u) return std::move(u).error();
    return notify(tx);
  }

  Status cancel_in(store::Transaction& tx, const std::string& id) {
    auto row = lock_row(tx, id);
    if (!row) return std::move(row).error();
    const auto& s = row->summary;
    if (is_terminal(s.state)) return refused(s, "cancelled", "pending, running, waiting, retrying or paused");
    const std::int64_t now = now_ms();
    if (row->leased) {
      // The holder starts compensating when its step ends (or whoever takes
      // the lease over does).
      auto u = tx.exec(
          "UPDATE trueup_workflow SET cancel_requested = 1, due_at = COALESCE(lease_until, $2), updated_at = $2 "
          "WHERE id = $1",
          {id, now});
      if (!u) return std::move(u).error();
      return Ok{};
    }
    const WorkflowType* type = find_type(s.type);
    if (!type)
      return make_error(Errc::conflict, "workflow " + id + " has type " + s.type +
                                            ", which this instance does not define: cancel it from an instance "
                                            "that does");
    int from = s.phase == "compensating" ? row->step_index : prev_compensable(*type, row->step_index - 1);
    if (s.phase == "compensating") from = prev_compensable(*type, from);
    if (from < 0) {
      auto u = tx.exec(
          "UPDATE trueup_workflow SET state = 'cancelled', end_state = 'cancelled', due_at = NULL, "
          "lease_owner = NULL, lease_until = NULL, cancel_requested = 0, pending_signals = 0, updated_at = $2 "
          "WHERE id = $1",
          {id, now});
      if (!u) return std::move(u).error();
      auto d = tx.exec("DELETE FROM trueup_workflow_signal WHERE workflow_id = $1", {id});
      if (!d) return std::move(d).error();
      return Ok{};
    }
    auto u = tx.exec(
        "UPDATE trueup_workflow SET state = 'pending', phase = 'compensating', step_index = $2, attempt = 0, "
        "wait_signal = NULL, wait_until = NULL, end_state = 'cancelled', cancel_requested = 0, due_at = $3, "
        "updated_at = $3 WHERE id = $1",
        {id, I(from), now});
    if (!u) return std::move(u).error();
    return notify(tx);
  }
};

Engine::Engine(store::Store& store, ExceptionQueue& exceptions, metrics::Registry& registry, const Clock& clock,
               EngineSettings settings)
    : impl_(std::make_unique<Impl>(store, exceptions, registry, clock, std::move(settings))) {
  exceptions.set_retry_handler(
      "workflow", [this](store::Transaction& tx, const ExceptionRecord& e) { return retry(tx, e.refers_to.id); });
}

Engine::~Engine() {
  stop();
  impl_->exceptions.clear_retry_handler("workflow");
}

void Engine::define(WorkflowType type) {
  if (type.name.empty()) throw std::invalid_argument("workflow type: the name must not be empty");
  if (type.steps.empty()) throw std::invalid_argument("workflow type " + type.name + ": it has no steps");
  std::set<std::string> names;
  for (const auto& s : type.steps) {
    if (s.name.empty()) throw std::invalid_argument("workflow type " + type.name + ": a step has no name");
    if (!names.insert(s.name).second)
      throw std::invalid_argument("workflow type " + type.name + ": two steps are named " + s.name);
    if (!s.run) throw std::invalid_argument("workflow type " + type.name + ": step " + s.name + " has no function");
    if (s.timeout.count() <= 0)
      throw std::invalid_argument("workflow type " + type.name + ": step " + s.name + " needs a positive timeout");
    if (s.retry.max_attempts < 1)
      throw std::invalid_argument("workflow type " + type.name + ": step " + s.name + " needs max_attempts >= 1");
  }
  std::lock_guard lock(impl_->lifecycle_mutex);
  if (impl_->running) throw std::logic_error("workflow engine: define() after run()");
  if (!impl_->types.emplace(type.name, std::move(type)).second)
    throw std::invalid_argument("workflow type is defined twice");
}

Result<Started> Engine::start(store::Transaction& tx, const std::string& type, const std::string& correlation_key,
                              const nlohmann::json& input, const std::string& dedupe_key) {
  StartRequest request{type, correlation_key, input.dump(), dedupe_key};
  auto out = start_batch(tx, std::span<const StartRequest>(&request, 1));
  if (!out) return std::move(out).error();
  return std::move(out->front());
}

Result<std::vector<Started>> Engine::start_batch(store::Transaction& tx, std::span<const StartRequest> requests) {
  for (const auto& r : requests) {
    if (!impl_->find_type(r.type))
      return make_error(Errc::invalid_argument, "workflow type " + r.type + " is not defined");
    if (r.correlation_key.empty() || r.dedupe_key.empty())
      return make_error(Errc::invalid_argument, "a workflow needs a correlation key and a dedupe key");
  }
  const auto now = impl_->clock.now();
  const std::int64_t ms = epoch_ms(now);
  std::vector<std::pair<std::string, std::string>> keys;
  keys.reserve(requests.size());
  for (const auto& r : requests) keys.emplace_back(r.type, r.dedupe_key);
  const store::KeyedInsert spec{
      "INSERT INTO trueup_workflow (id, type, correlation_key, dedupe_key, state, input, context, due_at, "
      "created_at, updated_at)",
      6,
      [](std::size_t c, int p) {
        const std::string ph = "$" + std::to_string(p);
        // state and context are constants; the time fills three columns.
        return c == 4 ? "'pending', " + ph + ", '{}'" : c == 5 ? ph + ", " + ph + ", " + ph : ph;
      },
      "(type, dedupe_key)",
      "id",
      "trueup_workflow"};
  auto rows = store::insert_unless_present(tx, spec, keys, [&](std::size_t i, std::vector<store::Param>& out) {
    const auto& r = requests[i];
    out.insert(out.end(), {detail::new_id(now), r.type, r.correlation_key, r.dedupe_key, r.input, ms});
  });
  if (!rows) return std::move(rows).error();
  std::vector<Started> out;
  out.reserve(requests.size());
  bool created_any = false;
  for (const auto& row : *rows) {
    out.push_back(Started{row.id, row.inserted});
    created_any |= row.inserted;
  }
  if (created_any) {
    if (auto n = impl_->notify(tx); !n) return std::move(n).error();
    impl_->wake();
  }
  return out;
}

Result<std::size_t> Engine::signal(store::Transaction& tx, const std::string& correlation_key, const std::string& name,
                                   const nlohmann::json& payload) {
  if (correlation_key.empty() || name.empty())
    return make_error(Errc::invalid_argument, "a signal needs a correlation key and a name");
  auto& impl = *impl_;
  auto ids = tx.exec(std::string("SELECT id FROM trueup_workflow WHERE correlation_key = $1 AND state IN ") +
                         kNonTerminal + " ORDER BY id" + (impl.postgres ? " FOR UPDATE" : ""),
                     {correlation_key});
  if (!ids) return std::move(ids).error();
  const std::int64_t now = impl.now_ms();
  const std::string text = payload.dump();
  for (const auto& r : ids->rows) {
    const std::string id = detail::text_or(r[0]);
    auto i =
        tx.exec("INSERT INTO trueup_workflow_signal (workflow_id, name, payload, received_at) VALUES ($1, $2, $3, $4)",
                {id, name, text, now});
    if (!i) return std::move(i).error();
    // A waiting workflow becomes due now; one whose step is running finds the
    // signal when it records its outcome.
    auto u = tx.exec(
        "UPDATE trueup_workflow SET pending_signals = pending_signals + 1, updated_at = $3, "
        "due_at = CASE WHEN state = 'waiting' AND wait_signal = $2 THEN $3 ELSE due_at END WHERE id = $1",
        {id, name, now});
    if (!u) return std::move(u).error();
    if (changed_in_group) changed_in_group->insert(id);
  }
  if (!ids->rows.empty()) {
    if (auto n = impl.notify(tx); !n) return std::move(n).error();
    impl.wake();
  }
  return ids->rows.size();
}

Status Engine::run() {
  auto& impl = *impl_;
  std::lock_guard lock(impl.lifecycle_mutex);
  if (impl.running) return Ok{};
  if (impl.stopped) return make_error(Errc::unavailable, "workflow engine: stopped; it cannot run again");
  impl.running = true;
  Status listener_status = Ok{};
  if (impl.postgres && impl.settings.listen) {
    store::PgListenerSettings ls;
    ls.connection = *impl.settings.listen;
    ls.channels = {"trueup_workflow"};
    auto l = store::start_pg_listener(
        ls, [&impl](std::string_view, std::string_view) { impl.wake(); }, [&impl] { impl.wake(); });
    if (l)
      impl.listener = std::move(*l);
    else
      listener_status = std::move(l).error();
  }
  for (int i = 0; i < impl.settings.workers; ++i) impl.workers.emplace_back([&impl] { impl.worker_loop(); });
  impl.housekeeping = std::thread([&impl] { impl.housekeeping_loop(); });
  return listener_status;
}

void Engine::stop() {
  auto& impl = *impl_;
  std::lock_guard lock(impl.lifecycle_mutex);
  if (impl.stopped) return;
  impl.stopped = true;
  impl.stopping = true;
  impl.wake();
  for (auto& t : impl.workers)
    if (t.joinable()) t.join();
  impl.workers.clear();
  if (impl.housekeeping.joinable()) impl.housekeeping.join();
  if (impl.listener) impl.listener->stop();
  impl.listener.reset();
}

void Engine::wake() { impl_->wake(); }

Result<std::size_t> Engine::run_due(std::size_t max_steps) {
  auto& impl = *impl_;
  std::size_t calls = 0;
  while (calls < max_steps && !impl.stopping.load()) {
    auto claimed = impl.claim(std::min<std::size_t>(impl.settings.claim_batch, max_steps - calls));
    if (!claimed) return std::move(claimed).error();
    if (claimed->empty()) break;
    calls += impl.process(std::move(*claimed), max_steps - calls);
  }
  return calls;
}

Result<WorkflowPage> Engine::list(const WorkflowFilter& filter) {
  auto& impl = *impl_;
  if (filter.limit < 1 || filter.limit > 1000)
    return make_error(Errc::invalid_argument, "limit must be between 1 and 1000");
  std::string sql = std::string("SELECT ") + kSummaryColumns + " FROM trueup_workflow WHERE 1 = 1";
  std::vector<Param> params;
  auto add = [&](const char* clause, const std::optional<std::string>& v) {
    if (!v) return;
    params.emplace_back(*v);
    sql += std::string(" AND ") + clause + " $" + std::to_string(params.size());
  };
  add("state =", filter.state ? std::optional<std::string>(std::string(to_string(*filter.state))) : std::nullopt);
  add("type =", filter.type);
  add("correlation_key =", filter.correlation_key);
  add("id <", filter.cursor);
  params.emplace_back(static_cast<std::int64_t>(filter.limit + 1));
  sql += " ORDER BY id DESC LIMIT $" + std::to_string(params.size());
  return detail::query_page<WorkflowPage>(impl.store, sql, params, filter.limit,
                                          [&impl](const store::Row& r) { return impl.summary_from_row(r); });
}

Result<WorkflowDetail> Engine::get(const std::string& id) {
  auto& impl = *impl_;
  WorkflowDetail d;
  auto s = impl.store.transact([&](store::Transaction& tx) -> Status {
    auto r = tx.exec(std::string("SELECT ") + kSummaryColumns + " FROM trueup_workflow WHERE id = $1", {id});
    if (!r) return std::move(r).error();
    if (r->rows.empty()) return make_error(Errc::not_found, "no workflow with id " + id);
    d.summary = impl.summary_from_row(r->rows[0]);
    d.input = detail::parse_json(r->rows[0][16]);
    d.context = detail::parse_json(r->rows[0][17]);
    auto steps = tx.exec(
        "SELECT seq, step, phase, attempt, outcome, error, started_at, finished_at FROM trueup_workflow_step "
        "WHERE workflow_id = $1 ORDER BY seq",
        {id});
    if (!steps) return std::move(steps).error();
    d.steps.clear();
    for (const auto& row : steps->rows) {
      StepAttempt a;
      a.seq = detail::to_int(row[0]);
      a.step = detail::text_or(row[1]);
      a.phase = detail::text_or(row[2]);
      a.attempt = static_cast<int>(detail::to_int(row[3]));
      a.outcome = detail::text_or(row[4]);
      a.error = row[5];
      a.started_at = from_epoch_ms(detail::to_int(row[6]));
      a.finished_at = from_epoch_ms(detail::to_int(row[7]));
      d.steps.push_back(std::move(a));
    }
    return Ok{};
  });
  if (!s) return std::move(s).error();
  return d;
}

Result<WorkflowSummary> Engine::retry(const std::string& id) {
  return impl_->admin(id, [&](store::Transaction& tx) { return impl_->retry_in(tx, id); });
}

Status Engine::retry(store::Transaction& tx, const std::string& id) {
  auto s = impl_->retry_in(tx, id);
  if (s) impl_->wake();
  return s;
}

Result<WorkflowSummary> Engine::pause(const std::string& id) {
  return impl_->admin(id, [&](store::Transaction& tx) { return impl_->pause_in(tx, id); });
}

Result<WorkflowSummary> Engine::resume(const std::string& id) {
  return impl_->admin(id, [&](store::Transaction& tx) { return impl_->resume_in(tx, id); });
}

Result<WorkflowSummary> Engine::cancel(const std::string& id) {
  return impl_->admin(id, [&](store::Transaction& tx) { return impl_->cancel_in(tx, id); });
}

Status Engine::refresh_metrics() { return impl_->refresh_metrics(); }

}  // namespace trueup::workflow
