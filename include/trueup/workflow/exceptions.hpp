#pragma once
// The exception queue: things Trueup could not finish on its own, each saying
// what it refers to and why in plain words, for an operator to retry, resolve
// or ignore. Rows live in `trueup_exception` (migrations/*/0003_workflows.sql).
//
// Opening is deduplicated: there is at most one *open* exception per (kind,
// reference); opening again updates its reason and counts the occurrence.
//
// retry(id): calls the retry handler registered for the reference's type (the
// workflow engine registers "workflow": Engine::retry) in the same transaction
// and marks the exception resolved with resolution "retry" at once. If the
// retried work fails again, a new exception opens; the retried one keeps the
// operator's audit trail. A workflow that completes after a retry made through
// the workflow admin API resolves its still-open exception itself (by
// "trueup", resolution "resolve").
//
// Thread-safety: all members are safe from any thread; blocking members call
// Store::transact and must not run on an io_context thread or inside a Work.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "trueup/core/error.hpp"
#include "trueup/metrics/registry.hpp"
#include "trueup/store/store.hpp"
#include "trueup/workflow/clock.hpp"

namespace trueup::workflow {

// What an exception is about: ("workflow", id), ("message", id), ("sku", sku), ("order", id).
struct Reference {
  std::string type;
  std::string id;
};

struct ExceptionSpec {
  std::string kind;                // workflow_failed, unmapped_sku, malformed_payload, ...
  std::string severity = "error";  // info | warning | error | critical
  Reference refers_to;
  std::string reason;  // plain words: what differs or failed, what to do
  nlohmann::json details = nlohmann::json::object();
};

struct ExceptionRecord {
  std::string id;
  std::string kind;
  std::string severity;
  Reference refers_to;
  std::string reason;
  nlohmann::json details;
  std::string state;  // open | resolved | ignored
  int occurrences = 1;
  TimePoint opened_at;
  TimePoint updated_at;
  std::optional<TimePoint> resolved_at;
  std::optional<std::string> resolved_by;
  std::optional<std::string> resolution;  // retry | resolve | ignore
  std::optional<std::string> resolution_reason;

  // {"id","kind","severity","refers_to":{"type","id"},"reason","details","state",
  //  "occurrences","opened_at","updated_at","resolved_at","resolved_by",
  //  "resolution","resolution_reason"} with RFC 3339 UTC times (null when unset).
  nlohmann::json to_json() const;
};

struct ExceptionFilter {
  std::optional<std::string> kind;
  std::optional<std::string> state;
  std::optional<std::string> refers_to_type;
  std::optional<std::string> refers_to_id;
  std::size_t limit = 100;            // 1..1000
  std::optional<std::string> cursor;  // next_cursor of the previous page
};

struct ExceptionPage {
  std::vector<ExceptionRecord> items;      // newest first
  std::optional<std::string> next_cursor;  // set when more may follow
  nlohmann::json to_json() const;          // {"items":[...],"next_cursor":...}
};

struct Opened {
  std::string id;
  bool created = false;  // false: an open one already existed
};

// Called inside the retry transaction with the exception's reference; an error
// rolls everything back (the exception stays open).
using RetryHandler = std::function<Status(store::Transaction&, const ExceptionRecord&)>;

// A change of an exception's life, seen inside the transaction that makes it:
// a new open exception (not a repeat of an open one), or its closing.
struct ExceptionChange {
  bool opened = true;  // false: closed
  std::string id;
  std::string kind;
  std::string severity;  // set when opened
  Reference refers_to;   // set when opened
  std::string reason;    // opened: the reason; closed: the resolution reason
  TimePoint opened_at;
  std::optional<TimePoint> resolved_at;
  std::string resolved_by;  // closed only
  std::string resolution;   // closed only: retry | resolve | ignore
};
// Called in the same transaction (e.g. to append an event to the outbox); an
// error rolls the change back.
using ExceptionListener = std::function<Status(store::Transaction&, const ExceptionChange&)>;

class ExceptionQueue {
 public:
  // Registers the metrics. `store`, `registry` and `clock` must outlive it.
  ExceptionQueue(store::Store& store, metrics::Registry& registry, const Clock& clock);
  ExceptionQueue(const ExceptionQueue&) = delete;
  ExceptionQueue& operator=(const ExceptionQueue&) = delete;

  // Inside the caller's transaction. invalid_argument when kind, reference or
  // reason is empty or the severity unknown.
  Result<Opened> open(store::Transaction& tx, const ExceptionSpec& spec);

  Result<ExceptionPage> list(const ExceptionFilter& filter);
  // not_found when there is no such id.
  Result<ExceptionRecord> get(const std::string& id);

  // open -> resolved/ignored, recording who and why. not_found; conflict when
  // the exception is not open; invalid_argument when `by` or `reason` is empty.
  Result<ExceptionRecord> resolve(const std::string& id, const std::string& by, const std::string& reason);
  Result<ExceptionRecord> ignore(const std::string& id, const std::string& by, const std::string& reason);
  // As resolve, with resolution "retry", after the handler for the reference
  // type accepted the retry in the same transaction. unsupported when no
  // handler is registered for that type; the handler's error otherwise.
  Result<ExceptionRecord> retry(const std::string& id, const std::string& by, const std::string& reason);

  // Resolves the open exception of `kind` for `ref`, if any, inside `tx`.
  Status resolve_open(store::Transaction& tx, const std::string& kind, const Reference& ref, const std::string& by,
                      const std::string& reason);

  // Registers the handler for references of `ref_type` (replacing any).
  void set_retry_handler(const std::string& ref_type, RetryHandler handler);
  // Set before use (not synchronised with running calls).
  void set_listener(ExceptionListener listener) { listener_ = std::move(listener); }
  void clear_retry_handler(const std::string& ref_type);

  // Reads open counts by kind from the database into trueup_exceptions_open.
  // Called periodically by the engine's housekeeping (never per scrape).
  Status refresh_metrics();

 private:
  Result<ExceptionRecord> close(const std::string& id, const std::string& by, const std::string& reason,
                                const std::string& resolution, const std::string& state);

  store::Store& store_;
  metrics::Registry& registry_;
  const Clock& clock_;
  metrics::Histogram& resolution_seconds_;
  std::mutex mutex_;
  std::map<std::string, RetryHandler> handlers_;
  ExceptionListener listener_;
  std::set<std::string> kinds_seen_;
};

}  // namespace trueup::workflow
