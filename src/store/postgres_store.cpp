// The PostgreSQL engine: `pool_size` worker threads, each owning one
// pqxx::connection, fed from one bounded queue.

#include <pqxx/pqxx>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>

#include "postgres_conninfo.hpp"
#include "worker_store.hpp"

namespace trueup::store {
namespace {

using detail::Conninfo;
using detail::quote_sql;

Errc errc_of_sqlstate(const std::string& state) {
  if (state == "40001" || state == "40P01" || state == "55P03") return Errc::conflict;
  if (state == "23505") return Errc::already_exists;
  if (state == "57014") return Errc::timeout;
  // Connection exceptions, the server going away, and running out of connections.
  if (state.starts_with("08") || state.starts_with("57P") || state == "53300") return Errc::unavailable;
  return Errc::invalid_argument;
}

// Maps the pqxx::failure being handled (call from a catch block only). Sets
// `broken` when the connection can no longer be trusted.
Error current_failure(const Conninfo& info, std::string_view sql, bool& broken) {
  auto text = [&](const std::exception& e) { return detail::scrub(detail::one_line(e.what()), info); };
  const std::string where = sql.empty() ? std::string() : quote_sql(sql);
  try {
    throw;
  } catch (const pqxx::broken_connection& e) {
    broken = true;
    return make_error(Errc::unavailable, "postgres: connection lost: " + text(e) + where);
  } catch (const pqxx::in_doubt_error& e) {
    broken = true;
    return make_error(Errc::unavailable,
                      "postgres: connection lost during COMMIT, the outcome is unknown: " + text(e) + where);
  } catch (const pqxx::statement_completion_unknown& e) {
    broken = true;
    return make_error(Errc::unavailable, "postgres: statement outcome unknown: " + text(e) + where);
  } catch (const pqxx::transaction_rollback& e) {
    // Serialization failure or deadlock (libpqxx 6 keeps no SQLSTATE here).
    return make_error(Errc::conflict, "postgres: " + text(e) + where);
  } catch (const pqxx::sql_error& e) {
    const Errc errc = errc_of_sqlstate(e.sqlstate());
    if (errc == Errc::unavailable) broken = true;  // e.g. 57P01: the server ended the session
    return make_error(errc, "postgres: " + text(e) + " [SQLSTATE " + e.sqlstate() + "]" + where);
  } catch (const pqxx::failure& e) {
    broken = true;
    return make_error(Errc::unavailable, "postgres: " + text(e) + where);
  }
}

// PostgreSQL also counts SELECTed rows, and libpqxx 6 hides the command tag:
// judge by the statement's first keyword whether it changes rows.
bool changes_rows(std::string_view sql) {
  std::size_t i = 0;
  for (;;) {
    while (i < sql.size() && std::isspace(static_cast<unsigned char>(sql[i]))) ++i;
    if (sql.substr(i, 2) == "--") {
      i = std::min(sql.find('\n', i), sql.size());
    } else if (sql.substr(i, 2) == "/*") {
      auto end = sql.find("*/", i + 2);
      i = end == std::string_view::npos ? sql.size() : end + 2;
    } else {
      break;
    }
  }
  // The first word only (a multi-row INSERT's text runs to kilobytes).
  std::string word;
  for (std::size_t k = i; k < sql.size() && std::isalpha(static_cast<unsigned char>(sql[k])); ++k)
    word += static_cast<char>(std::toupper(static_cast<unsigned char>(sql[k])));
  if (word == "INSERT" || word == "UPDATE" || word == "DELETE" || word == "MERGE") return true;
  if (word != "WITH") return false;
  // WITH ... INSERT/UPDATE/DELETE: a data-modifying CTE or main statement.
  std::string upper;
  upper.reserve(sql.size() - i);
  for (char c : sql.substr(i)) upper += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  for (std::string_view dml : {"INSERT", "UPDATE", "DELETE", "MERGE"}) {
    for (auto pos = upper.find(dml); pos != std::string::npos; pos = upper.find(dml, pos + 1)) {
      const bool starts =
          pos == 0 || (!std::isalnum(static_cast<unsigned char>(upper[pos - 1])) && upper[pos - 1] != '_');
      const auto after = pos + dml.size();
      const bool ends =
          after >= upper.size() || (!std::isalnum(static_cast<unsigned char>(upper[after])) && upper[after] != '_');
      if (starts && ends) return true;
    }
  }
  return false;
}

// The statements one connection has prepared (server-side, by name), so the
// server parses and plans each of them once instead of at every call. A
// statement is prepared at its second use: one-off texts (a multi-row INSERT
// of an unusual size) stay unnamed. Bounded: past kMaxPrepared statements,
// the rest run unnamed.
class StatementCache {
 public:
  explicit StatementCache(bool enabled = true) : enabled_(enabled) {}

  // The name to run `sql` under; nullopt: run it unnamed.
  std::optional<std::string> name_for(pqxx::connection& connection, std::string_view sql) {
    if (!enabled_) return std::nullopt;
    if (auto it = prepared_.find(sql); it != prepared_.end()) return it->second;
    if (prepared_.size() >= kMaxPrepared) return std::nullopt;
    auto seen = seen_.find(sql);
    if (seen == seen_.end()) {
      if (seen_.size() >= kMaxSeen) seen_.clear();
      seen_.emplace(sql);
      return std::nullopt;
    }
    std::string name = "trueup_" + std::to_string(prepared_.size() + 1);
    // Registered with libpqxx here; the server prepares it at its first run
    // (a failure there is the statement's error, and it is tried again).
    connection.prepare(name, *seen);
    prepared_.emplace(std::move(seen_.extract(seen).value()), name);
    return name;
  }

  // The connection was replaced: its statements went with it.
  void clear() noexcept {
    prepared_.clear();
    seen_.clear();
  }

 private:
  static constexpr std::size_t kMaxPrepared = 256;
  static constexpr std::size_t kMaxSeen = 4096;
  bool enabled_;
  std::map<std::string, std::string, std::less<>> prepared_;
  std::set<std::string, std::less<>> seen_;
};

class PostgresTransaction final : public detail::AbortOnErrorTransaction {
 public:
  PostgresTransaction(pqxx::work& tx, pqxx::connection& connection, StatementCache& statements, const Conninfo& info)
      : tx_(tx), connection_(connection), statements_(statements), info_(info) {}

  bool broken() const { return broken_; }

  Status commit_without_flush() override {
    auto r = exec("SET LOCAL synchronous_commit = off", {});
    if (!r) return std::move(r).error();
    return Ok{};
  }

 private:
  Result<Rows> run(std::string_view sql, const std::vector<Param>& params) override {
    try {
      pqxx::result result;
      if (params.empty()) {
        // The simple protocol: allows several statements (migration files).
        result = tx_.exec(std::string(sql));
      } else {
        std::vector<std::string> text(params.size());
        std::vector<const char*> values(params.size(), nullptr);
        for (std::size_t i = 0; i < params.size(); ++i) {
          const Param& p = params[i];
          if (std::holds_alternative<std::monostate>(p)) continue;  // nullptr = NULL
          if (const auto* v = std::get_if<std::int64_t>(&p)) {
            text[i] = std::to_string(*v);
          } else if (const auto* d = std::get_if<double>(&p)) {
            char buf[64];
            auto [end, ec] = std::to_chars(buf, buf + sizeof buf, *d);
            text[i].assign(buf, end);
          } else {
            text[i] = std::get<std::string>(p);
          }
          values[i] = text[i].c_str();
        }
        if (auto name = statements_.name_for(connection_, sql))
          result = tx_.exec_prepared(*name, pqxx::prepare::make_dynamic_params(values));
        else
          result = tx_.exec_params(std::string(sql), pqxx::prepare::make_dynamic_params(values));
      }
      return to_rows(result, sql);
    } catch (const pqxx::failure&) {
      return current_failure(info_, sql, broken_);
    }
  }

  static Rows to_rows(const pqxx::result& result, std::string_view sql) {
    Rows out;
    const auto columns = result.columns();
    for (pqxx::row::size_type c = 0; c < columns; ++c) out.columns.emplace_back(result.column_name(c));
    out.rows.reserve(result.size());
    for (const auto& row : result) {
      Row r;
      r.reserve(columns);
      for (const auto& field : row) {
        if (field.is_null())
          r.emplace_back(std::nullopt);
        else
          r.emplace_back(std::string(field.c_str(), field.size()));
      }
      out.rows.push_back(std::move(r));
    }
    if (changes_rows(sql)) out.affected = static_cast<std::int64_t>(result.affected_rows());
    return out;
  }

  pqxx::work& tx_;
  pqxx::connection& connection_;
  StatementCache& statements_;
  const Conninfo& info_;
  bool broken_ = false;
};

Result<std::unique_ptr<pqxx::connection>> connect(const Conninfo& info) {
  try {
    return std::make_unique<pqxx::connection>(info.conninfo);
  } catch (const std::exception& e) {
    return make_error(Errc::unavailable, "cannot connect to PostgreSQL at " + info.redacted + ": " +
                                             detail::scrub(detail::one_line(e.what()), info));
  }
}

class PostgresStore final : public detail::WorkerStore {
 public:
  PostgresStore(Conninfo info, std::unique_ptr<pqxx::connection> first, const PostgresSettings& settings)
      : WorkerStore(
            settings.queue_capacity,
            detail::YieldPolicy{.slow = settings.yield_above,
                                .width = detail::background_width(static_cast<std::size_t>(settings.pool_size))}),
        info_(std::move(info)) {
    connections_.resize(static_cast<std::size_t>(settings.pool_size));
    statements_.resize(connections_.size(), StatementCache(settings.prepared_statements));
    connections_[0] = std::move(first);
    start_workers(connections_.size());
  }
  ~PostgresStore() override { stop(); }

  std::string_view engine() const noexcept override { return "postgres"; }

 protected:
  Status run_transaction(std::size_t worker, const Work& work) override {
    auto& connection = connections_[worker];
    // A connection that broke while idle (server restart, idle timeout) is
    // found out at BEGIN, before the Work ran: reconnect and begin once more.
    for (int attempt = 1;; ++attempt) {
      if (connection && !connection->is_open()) connection.reset();
      if (!connection) {
        // Reconnect lazily: the first job after a loss (or the first job of
        // a worker) pays for it, and fails if the server is still away.
        auto fresh = connect(info_);
        if (!fresh) return std::move(fresh).error();
        connection = std::move(*fresh);
        statements_[worker].clear();
      }
      std::optional<pqxx::work> tx;
      try {
        tx.emplace(*connection);
      } catch (const pqxx::failure&) {
        bool broken = false;
        Error e = current_failure(info_, "BEGIN", broken);
        if (!broken) return e;
        connection.reset();
        if (attempt == 2) return e;
        continue;
      }
      bool broken = false;
      Status outcome = run_work(*tx, *connection, statements_[worker], work, broken);
      tx.reset();  // rolls back unless committed; must go before its connection
      if (broken || !connection->is_open()) connection.reset();
      return outcome;
    }
  }

  Status run_work(pqxx::work& tx, pqxx::connection& connection, StatementCache& statements, const Work& work,
                  bool& broken) {
    try {
      PostgresTransaction t(tx, connection, statements, info_);
      Status s = work(t);
      broken = t.broken();
      if (s && t.failed()) s = *t.failed();
      if (!s) return s;  // the caller's tx.reset() rolls back
      tx.commit();
      return Ok{};
    } catch (const pqxx::failure&) {
      // From COMMIT: a lost connection, a serialization failure, a deferred
      // constraint.
      return current_failure(info_, {}, broken);
    }
  }

  void close_connections() noexcept override { connections_.clear(); }

 private:
  Conninfo info_;
  std::vector<std::unique_ptr<pqxx::connection>> connections_;  // [i] belongs to worker i
  std::vector<StatementCache> statements_;                      // [i]: what connections_[i] prepared
};

std::string quote_identifier(std::string_view name) {
  std::string out = "\"";
  for (char c : name) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

}  // namespace

Result<std::unique_ptr<Store>> open_postgres(const PostgresSettings& settings) {
  if (settings.pool_size < 1) return make_error(Errc::invalid_argument, "store.postgres.pool_size must be at least 1");
  if (settings.queue_capacity == 0)
    return make_error(Errc::invalid_argument, "store.postgres.queue_capacity must be at least 1");
  if (settings.yield_above.count() < 0)
    return make_error(Errc::invalid_argument, "store.postgres.yield_above must not be negative");
  auto info = detail::make_conninfo(settings);
  if (!info) return std::move(info).error();

  auto first = connect(*info);
  if (!first) return std::move(first).error();
  if (!settings.schema.empty()) {
    try {
      pqxx::nontransaction tx(**first);
      tx.exec("CREATE SCHEMA IF NOT EXISTS " + quote_identifier(settings.schema));
    } catch (const pqxx::unique_violation&) {
      // Another process created it at the same moment: fine.
    } catch (const pqxx::sql_error& e) {
      return make_error(errc_of_sqlstate(e.sqlstate()), "cannot create schema " + settings.schema + " at " +
                                                            info->redacted + ": " +
                                                            detail::scrub(detail::one_line(e.what()), *info));
    } catch (const std::exception& e) {
      return make_error(Errc::unavailable, "cannot create schema " + settings.schema + " at " + info->redacted + ": " +
                                               detail::scrub(detail::one_line(e.what()), *info));
    }
  }
  return std::unique_ptr<Store>(std::make_unique<PostgresStore>(std::move(*info), std::move(*first), settings));
}

}  // namespace trueup::store
