// The SQLite engine: one connection, owned by one worker thread.

#include <sqlite3.h>

#include <charconv>
#include <string>
#include <utility>

#include "worker_store.hpp"

namespace trueup::store {
namespace {

using detail::quote_sql;

Error sqlite_error(int code, std::string_view what, std::string_view sql = {}) {
  const int primary = code & 0xff;
  Errc errc = Errc::invalid_argument;
  switch (primary) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      errc = Errc::conflict;
      break;
    case SQLITE_CONSTRAINT:
      errc = (code == SQLITE_CONSTRAINT_UNIQUE || code == SQLITE_CONSTRAINT_PRIMARYKEY) ? Errc::already_exists
                                                                                        : Errc::invalid_argument;
      break;
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
    case SQLITE_NOMEM:
      errc = Errc::unavailable;
      break;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      errc = Errc::internal;
      break;
    default:
      break;
  }
  std::string message = "sqlite: " + std::string(what) + " (" + sqlite3_errstr(code) + ")";
  if (!sql.empty()) message += quote_sql(sql);
  return make_error(errc, std::move(message));
}

Error sqlite_error(sqlite3* db, std::string_view sql = {}) {
  return sqlite_error(sqlite3_extended_errcode(db), sqlite3_errmsg(db), sql);
}

// Finalizes a prepared statement when it leaves scope.
struct StatementGuard {
  sqlite3_stmt* stmt = nullptr;
  ~StatementGuard() { sqlite3_finalize(stmt); }
};

std::optional<std::string> column_text(sqlite3_stmt* stmt, int col) {
  switch (sqlite3_column_type(stmt, col)) {
    case SQLITE_NULL:
      return std::nullopt;
    case SQLITE_FLOAT: {
      // sqlite's own text has 15 significant digits; this one round-trips.
      char buf[64];
      auto [end, ec] = std::to_chars(buf, buf + sizeof buf, sqlite3_column_double(stmt, col));
      return std::string(buf, end);
    }
    default: {
      const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, col));
      return std::string(text ? text : "", static_cast<std::size_t>(sqlite3_column_bytes(stmt, col)));
    }
  }
}

class SqliteTransaction final : public detail::AbortOnErrorTransaction {
 public:
  explicit SqliteTransaction(sqlite3* db) : db_(db) {}

 private:
  Result<Rows> run(std::string_view sql, const std::vector<Param>& params) override {
    Rows out;
    const char* next = sql.data();
    const char* const end = sql.data() + sql.size();
    while (next < end) {
      StatementGuard st;
      const char* tail = nullptr;
      int rc = sqlite3_prepare_v2(db_, next, static_cast<int>(end - next), &st.stmt, &tail);
      if (rc != SQLITE_OK) return sqlite_error(db_, sql);
      next = tail;
      if (st.stmt == nullptr) continue;  // only whitespace or a comment was left
      if (auto bound = bind(st.stmt, sql, params); !bound) return std::move(bound).error();

      out = Rows{};
      const int columns = sqlite3_column_count(st.stmt);
      for (int c = 0; c < columns; ++c) out.columns.emplace_back(sqlite3_column_name(st.stmt, c));
      const auto changes_before = sqlite3_total_changes64(db_);
      for (;;) {
        rc = sqlite3_step(st.stmt);
        if (rc == SQLITE_DONE) break;
        if (rc != SQLITE_ROW) return sqlite_error(db_, sql);
        Row row;
        row.reserve(static_cast<std::size_t>(columns));
        for (int c = 0; c < columns; ++c) row.push_back(column_text(st.stmt, c));
        out.rows.push_back(std::move(row));
      }
      // sqlite3_changes keeps the last DML's count through DDL and SELECT;
      // only trust it when this statement changed something.
      if (sqlite3_total_changes64(db_) != changes_before) out.affected = sqlite3_changes64(db_);
    }
    return out;
  }

  Status bind(sqlite3_stmt* stmt, std::string_view sql, const std::vector<Param>& params) {
    const int count = sqlite3_bind_parameter_count(stmt);
    for (int i = 1; i <= count; ++i) {
      const char* name = sqlite3_bind_parameter_name(stmt, i);
      std::string_view n = name ? name : "?";
      std::size_t index = 0;
      auto parsed = n.size() > 1 && n[0] == '$' ? std::from_chars(n.data() + 1, n.data() + n.size(), index)
                                                : std::from_chars_result{n.data(), std::errc::invalid_argument};
      if (parsed.ec != std::errc{} || parsed.ptr != n.data() + n.size() || index == 0)
        return make_error(Errc::invalid_argument,
                          "sqlite: placeholder " + std::string(n) + " is not $1..$N" + quote_sql(sql));
      if (index > params.size())
        return make_error(Errc::invalid_argument, "sqlite: $" + std::to_string(index) + " used but only " +
                                                      std::to_string(params.size()) + " parameters given" +
                                                      quote_sql(sql));
      const Param& p = params[index - 1];
      int rc = SQLITE_OK;
      if (std::holds_alternative<std::monostate>(p)) {
        rc = sqlite3_bind_null(stmt, i);
      } else if (const auto* v = std::get_if<std::int64_t>(&p)) {
        rc = sqlite3_bind_int64(stmt, i, *v);
      } else if (const auto* d = std::get_if<double>(&p)) {
        rc = sqlite3_bind_double(stmt, i, *d);
      } else {
        const auto& s = std::get<std::string>(p);
        rc = sqlite3_bind_text64(stmt, i, s.data(), s.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
      }
      if (rc != SQLITE_OK) return sqlite_error(db_, sql);
    }
    return Ok{};
  }

  sqlite3* db_;
};

class SqliteStore final : public detail::WorkerStore {
 public:
  SqliteStore(sqlite3* db, std::size_t queue_capacity) : WorkerStore(queue_capacity), db_(db) { start_workers(1); }
  ~SqliteStore() override { stop(); }

  std::string_view engine() const noexcept override { return "sqlite"; }

 protected:
  Status run_transaction(std::size_t /*worker*/, const Work& work) override {
    if (auto s = simple(db_, "BEGIN IMMEDIATE"); !s) return s;
    SqliteTransaction tx(db_);
    Status outcome = [&]() -> Status {
      try {
        return work(tx);
      } catch (...) {
        rollback();
        throw;
      }
    }();
    if (outcome && tx.failed()) outcome = *tx.failed();
    if (!outcome) {
      rollback();
      return outcome;
    }
    if (auto s = simple(db_, "COMMIT"); !s) {
      rollback();
      return s;
    }
    return Ok{};
  }

  void close_connections() noexcept override {
    sqlite3_close_v2(db_);
    db_ = nullptr;
  }

 public:
  static Status simple(sqlite3* db, const char* sql) {
    char* message = nullptr;
    int rc = sqlite3_exec(db, sql, nullptr, nullptr, &message);
    if (rc == SQLITE_OK) return Ok{};
    std::string text = message ? message : sqlite3_errmsg(db);
    sqlite3_free(message);
    return sqlite_error(sqlite3_extended_errcode(db), text, sql);
  }

 private:
  void rollback() noexcept {
    // Some errors (IOERR, FULL, BUSY...) already rolled the transaction back.
    if (!sqlite3_get_autocommit(db_)) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }

  sqlite3* db_;
};

}  // namespace

Result<std::unique_ptr<Store>> open_sqlite(const SqliteSettings& settings) {
  if (settings.path.empty()) return make_error(Errc::invalid_argument, "store.sqlite.path is empty");
  if (settings.queue_capacity == 0)
    return make_error(Errc::invalid_argument, "store.sqlite.queue_capacity must be at least 1");
  if (settings.busy_timeout.count() < 0)
    return make_error(Errc::invalid_argument, "store.sqlite.busy_timeout must not be negative");

  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(settings.path.c_str(), &db,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    Error e = make_error(Errc::unavailable, "cannot open SQLite database " + settings.path + ": " +
                                                (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc)));
    sqlite3_close_v2(db);
    return e;
  }
  sqlite3_extended_result_codes(db, 1);
  sqlite3_busy_timeout(db, static_cast<int>(settings.busy_timeout.count()));
  for (const char* pragma : {"PRAGMA journal_mode = WAL", "PRAGMA synchronous = FULL", "PRAGMA foreign_keys = ON"}) {
    if (auto s = SqliteStore::simple(db, pragma); !s) {
      Error e = make_error(s.error().code == Errc::invalid_argument ? Errc::unavailable : s.error().code,
                           "cannot set up SQLite database " + settings.path + ": " + s.error().message);
      sqlite3_close_v2(db);
      return e;
    }
  }
  return std::unique_ptr<Store>(std::make_unique<SqliteStore>(db, settings.queue_capacity));
}

}  // namespace trueup::store
