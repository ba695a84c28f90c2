#include "trueup/workflow/exceptions.hpp"

#include <algorithm>

#include "util.hpp"

namespace trueup::workflow {
namespace {

using nlohmann::json;

constexpr const char* kColumns =
    "id, kind, severity, ref_type, ref_id, reason, details, state, occurrences, opened_at, updated_at, "
    "resolved_at, resolved_by, resolution, resolution_reason";

ExceptionRecord from_row(const store::Row& r) {
  ExceptionRecord e;
  e.id = detail::text_or(r[0]);
  e.kind = detail::text_or(r[1]);
  e.severity = detail::text_or(r[2]);
  e.refers_to = {detail::text_or(r[3]), detail::text_or(r[4])};
  e.reason = detail::text_or(r[5]);
  e.details = detail::parse_json(r[6]);
  e.state = detail::text_or(r[7]);
  e.occurrences = static_cast<int>(detail::to_int(r[8], 1));
  e.opened_at = from_epoch_ms(detail::to_int(r[9]));
  e.updated_at = from_epoch_ms(detail::to_int(r[10]));
  if (auto v = detail::to_opt_int(r[11])) e.resolved_at = from_epoch_ms(*v);
  e.resolved_by = r[12];
  e.resolution = r[13];
  e.resolution_reason = r[14];
  return e;
}

Result<ExceptionRecord> load(store::Transaction& tx, const std::string& id, bool lock, bool postgres) {
  std::string sql = std::string("SELECT ") + kColumns + " FROM trueup_exception WHERE id = $1";
  if (lock && postgres) sql += " FOR UPDATE";
  auto rows = tx.exec(sql, {id});
  if (!rows) return std::move(rows).error();
  if (rows->rows.empty()) return make_error(Errc::not_found, "no exception with id " + id);
  return from_row(rows->rows[0]);
}

bool known_severity(const std::string& s) { return s == "info" || s == "warning" || s == "error" || s == "critical"; }

}  // namespace

json ExceptionRecord::to_json() const {
  auto opt = [](const std::optional<std::string>& s) -> json { return s ? json(*s) : json(nullptr); };
  return json{{"id", id},
              {"kind", kind},
              {"severity", severity},
              {"refers_to", {{"type", refers_to.type}, {"id", refers_to.id}}},
              {"reason", reason},
              {"details", details},
              {"state", state},
              {"occurrences", occurrences},
              {"opened_at", detail::time_json(opened_at)},
              {"updated_at", detail::time_json(updated_at)},
              {"resolved_at", detail::time_json(resolved_at)},
              {"resolved_by", opt(resolved_by)},
              {"resolution", opt(resolution)},
              {"resolution_reason", opt(resolution_reason)}};
}

json ExceptionPage::to_json() const {
  json items_json = json::array();
  for (const auto& e : items) items_json.push_back(e.to_json());
  return json{{"items", std::move(items_json)}, {"next_cursor", next_cursor ? json(*next_cursor) : json(nullptr)}};
}

ExceptionQueue::ExceptionQueue(store::Store& store, metrics::Registry& registry, const Clock& clock)
    : store_(store),
      registry_(registry),
      clock_(clock),
      resolution_seconds_(registry.histogram("trueup_exception_resolution_seconds",
                                             "Time from opening an exception to its resolution (any kind)",
                                             {60, 300, 900, 3600, 4 * 3600, 12 * 3600, 86400, 3 * 86400, 7 * 86400})) {}

Result<Opened> ExceptionQueue::open(store::Transaction& tx, const ExceptionSpec& spec) {
  if (spec.kind.empty() || spec.refers_to.type.empty() || spec.refers_to.id.empty() || spec.reason.empty())
    return make_error(Errc::invalid_argument, "an exception needs a kind, a reference (type and id) and a reason");
  if (!known_severity(spec.severity))
    return make_error(Errc::invalid_argument,
                      "exception severity '" + spec.severity + "' is not one of info, warning, error, critical");
  const auto now = epoch_ms(clock_.now());
  const std::string details = spec.details.is_null() ? "{}" : spec.details.dump();
  // ON CONFLICT on the partial unique index: a concurrent opener waits for the
  // other transaction and then does nothing instead of failing ours.
  auto inserted = tx.exec(
      "INSERT INTO trueup_exception (id, kind, severity, ref_type, ref_id, reason, details, state, occurrences, "
      "opened_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 'open', 1, $8, $8) "
      "ON CONFLICT (kind, ref_type, ref_id) WHERE state = 'open' DO NOTHING RETURNING id",
      {detail::new_id(clock_.now()), spec.kind, spec.severity, spec.refers_to.type, spec.refers_to.id, spec.reason,
       details, now});
  if (!inserted) return std::move(inserted).error();
  {
    std::lock_guard lock(mutex_);
    kinds_seen_.insert(spec.kind);
  }
  if (!inserted->rows.empty()) {
    Opened opened{detail::text_or(inserted->rows[0][0]), true};
    if (listener_) {
      ExceptionChange change;
      change.id = opened.id;
      change.kind = spec.kind;
      change.severity = spec.severity;
      change.refers_to = spec.refers_to;
      change.reason = spec.reason;
      change.opened_at = from_epoch_ms(now);
      if (auto st = listener_(tx, change); !st) return std::move(st).error();
    }
    return opened;
  }
  auto updated = tx.exec(
      "UPDATE trueup_exception SET reason = $4, severity = $5, details = $6, occurrences = occurrences + 1, "
      "updated_at = $7 WHERE kind = $1 AND ref_type = $2 AND ref_id = $3 AND state = 'open' RETURNING id",
      {spec.kind, spec.refers_to.type, spec.refers_to.id, spec.reason, spec.severity, details, now});
  if (!updated) return std::move(updated).error();
  if (updated->rows.empty())
    return make_error(Errc::conflict, "the open " + spec.kind + " exception for " + spec.refers_to.type + " " +
                                          spec.refers_to.id + " changed concurrently; try again");
  return Opened{detail::text_or(updated->rows[0][0]), false};
}

Result<ExceptionPage> ExceptionQueue::list(const ExceptionFilter& filter) {
  if (filter.limit < 1 || filter.limit > 1000)
    return make_error(Errc::invalid_argument, "limit must be between 1 and 1000");
  if (filter.state && *filter.state != "open" && *filter.state != "resolved" && *filter.state != "ignored")
    return make_error(Errc::invalid_argument, "state must be one of open, resolved, ignored");
  std::string sql = std::string("SELECT ") + kColumns + " FROM trueup_exception WHERE 1 = 1";
  std::vector<store::Param> params;
  auto add = [&](const char* column, const std::optional<std::string>& v) {
    if (!v) return;
    params.emplace_back(*v);
    sql += std::string(" AND ") + column + " $" + std::to_string(params.size());
  };
  add("kind =", filter.kind);
  add("state =", filter.state);
  add("ref_type =", filter.refers_to_type);
  add("ref_id =", filter.refers_to_id);
  add("id <", filter.cursor);
  params.emplace_back(static_cast<std::int64_t>(filter.limit + 1));
  sql += " ORDER BY id DESC LIMIT $" + std::to_string(params.size());
  return detail::query_page<ExceptionPage>(store_, sql, params, filter.limit,
                                           [](const store::Row& r) { return from_row(r); });
}

Result<ExceptionRecord> ExceptionQueue::get(const std::string& id) {
  std::optional<ExceptionRecord> out;
  auto s = store_.transact([&](store::Transaction& tx) -> Status {
    auto r = load(tx, id, false, false);
    if (!r) return std::move(r).error();
    out = std::move(*r);
    return Ok{};
  });
  if (!s) return std::move(s).error();
  return std::move(*out);
}

Result<ExceptionRecord> ExceptionQueue::close(const std::string& id, const std::string& by, const std::string& reason,
                                              const std::string& resolution, const std::string& state) {
  if (by.empty() || reason.empty())
    return make_error(Errc::invalid_argument, "say who " + resolution + "s the exception and why");
  RetryHandler handler;
  std::optional<ExceptionRecord> out;
  const bool postgres = detail::is_postgres(store_);
  auto s = store_.transact([&](store::Transaction& tx) -> Status {
    auto e = load(tx, id, true, postgres);
    if (!e) return std::move(e).error();
    if (e->state != "open")
      return make_error(Errc::conflict, "exception " + id + " is " + e->state + ", not open: nothing to " + resolution);
    if (resolution == "retry") {
      {
        std::lock_guard lock(mutex_);
        auto it = handlers_.find(e->refers_to.type);
        if (it != handlers_.end()) handler = it->second;
      }
      if (!handler)
        return make_error(Errc::unsupported, "exceptions about a " + e->refers_to.type +
                                                 " cannot be retried here; resolve or ignore it instead");
      if (auto h = handler(tx, *e); !h) return h;
    }
    const auto now = clock_.now();
    auto u = tx.exec(
        "UPDATE trueup_exception SET state = $2, resolution = $3, resolved_by = $4, resolution_reason = $5, "
        "resolved_at = $6, updated_at = $6 WHERE id = $1",
        {id, state, resolution, by, reason, epoch_ms(now)});
    if (!u) return std::move(u).error();
    if (listener_) {
      ExceptionChange change{false, id, e->kind, e->severity, e->refers_to, reason, e->opened_at, now, by, resolution};
      if (auto st = listener_(tx, change); !st) return st;
    }
    e->state = state;
    e->resolution = resolution;
    e->resolved_by = by;
    e->resolution_reason = reason;
    e->resolved_at = now;
    e->updated_at = now;
    out = std::move(*e);
    return Ok{};
  });
  if (!s) return std::move(s).error();
  resolution_seconds_.observe(std::chrono::duration<double>(*out->resolved_at - out->opened_at).count());
  return std::move(*out);
}

Result<ExceptionRecord> ExceptionQueue::resolve(const std::string& id, const std::string& by,
                                                const std::string& reason) {
  return close(id, by, reason, "resolve", "resolved");
}

Result<ExceptionRecord> ExceptionQueue::ignore(const std::string& id, const std::string& by,
                                               const std::string& reason) {
  return close(id, by, reason, "ignore", "ignored");
}

Result<ExceptionRecord> ExceptionQueue::retry(const std::string& id, const std::string& by, const std::string& reason) {
  return close(id, by, reason, "retry", "resolved");
}

Status ExceptionQueue::resolve_open(store::Transaction& tx, const std::string& kind, const Reference& ref,
                                    const std::string& by, const std::string& reason) {
  const auto now = clock_.now();
  auto u = tx.exec(
      "UPDATE trueup_exception SET state = 'resolved', resolution = 'resolve', resolved_by = $4, "
      "resolution_reason = $5, resolved_at = $6, updated_at = $6 "
      "WHERE kind = $1 AND ref_type = $2 AND ref_id = $3 AND state = 'open' RETURNING opened_at, id, severity",
      {kind, ref.type, ref.id, by, reason, epoch_ms(now)});
  if (!u) return std::move(u).error();
  for (const auto& r : u->rows) {
    const auto opened_at = from_epoch_ms(detail::to_int(r[0]));
    resolution_seconds_.observe(std::chrono::duration<double>(now - opened_at).count());
    if (listener_) {
      ExceptionChange change{
          false, detail::text_or(r[1]), kind, detail::text_or(r[2]), ref, reason, opened_at, now, by, "resolve"};
      if (auto st = listener_(tx, change); !st) return st;
    }
  }
  return Ok{};
}

void ExceptionQueue::set_retry_handler(const std::string& ref_type, RetryHandler handler) {
  std::lock_guard lock(mutex_);
  handlers_[ref_type] = std::move(handler);
}

void ExceptionQueue::clear_retry_handler(const std::string& ref_type) {
  std::lock_guard lock(mutex_);
  handlers_.erase(ref_type);
}

Status ExceptionQueue::refresh_metrics() {
  std::map<std::string, std::int64_t> counts;
  auto s = store_.transact([&](store::Transaction& tx) -> Status {
    auto rows = tx.exec("SELECT kind, COUNT(*) FROM trueup_exception WHERE state = 'open' GROUP BY kind");
    if (!rows) return std::move(rows).error();
    counts.clear();
    for (const auto& r : rows->rows) counts[detail::text_or(r[0])] = detail::to_int(r[1]);
    return Ok{};
  });
  if (!s) return s;
  std::lock_guard lock(mutex_);
  for (const auto& [kind, _] : counts) kinds_seen_.insert(kind);
  for (const auto& kind : kinds_seen_) {
    auto it = counts.find(kind);
    registry_
        .gauge("trueup_exceptions_open", "Open exceptions by kind (refreshed periodically from the database)",
               {{"kind", kind}})
        .set(it == counts.end() ? 0.0 : static_cast<double>(it->second));
  }
  return Ok{};
}

}  // namespace trueup::workflow
