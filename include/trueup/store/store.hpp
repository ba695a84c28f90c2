#pragma once
// The durable store: a transactional SQL database behind one interface, with
// two engines (PostgreSQL for production, SQLite as the embedded default).
//
// SQL passed to `Transaction::exec` uses `$1, $2, ...` placeholders on both
// engines; parameters are bound, never spliced into the text. A placeholder
// may appear in any order and more than once.
//
// Thread-safety: a Store is safe to use from any thread. Work runs on the
// store's own connection threads (one connection each); a Transaction is only
// valid inside the Work it was handed to. The queue of waiting work is
// bounded: when it is full, `transact`/`post` fail with Errc::overloaded.
// Blocking calls (`transact`, `ping`, `migrate`) must not be made from an
// io_context thread; coroutines use `trueup/store/async.hpp` instead. They must
// not be made from inside a Work either (that would wait on itself): such a
// call fails at once with Errc::internal.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "trueup/core/error.hpp"

namespace trueup::store {

// A bound parameter: NULL, integer, float or text.
using Param = std::variant<std::monostate, std::int64_t, double, std::string>;

// A result row: each column as text, or nullopt for SQL NULL. Floats are
// written in their shortest exact form on both engines ("2.5", "1e-07").
using Row = std::vector<std::optional<std::string>>;

struct Rows {
  std::vector<std::string> columns;
  std::vector<Row> rows;
  std::int64_t affected = 0;  // rows changed by INSERT/UPDATE/DELETE, else 0
};

class Transaction {
 public:
  virtual ~Transaction() = default;
  // Runs one statement. Without parameters the text may hold several
  // statements (migrations do); the result is the last statement's.
  //
  // Errors: conflict (serialization failure, deadlock, lock busy),
  // already_exists (unique/primary-key violation), unavailable (connection
  // lost, storage unusable), timeout (statement timeout), invalid_argument
  // (any other SQL error; the message has the database's text and the SQL).
  //
  // After a failed exec the transaction is aborted on both engines: later
  // execs fail with the same error, and the transaction rolls back even if the
  // Work returns Ok (transact then reports that first error).
  virtual Result<Rows> exec(std::string_view sql, const std::vector<Param>& params = {}) = 0;

  // Lets this transaction's commit return before its WAL reaches the disk
  // (PostgreSQL: synchronous_commit = off for it alone), for work whose loss
  // in a database crash is harmless because it is done again. The commit
  // stays atomic and becomes durable with the next one that waits. Nothing
  // on SQLite.
  virtual Status commit_without_flush() { return Ok{}; }
};

// Work done inside one transaction. Returning an error rolls back; returning
// Ok commits. The commit's own failure is reported to the caller. A Work that
// throws is rolled back and reported as Errc::internal.
using Work = std::function<Status(Transaction&)>;

struct Migration {
  int version = 0;   // from the file name: 0001_init.sql -> 1
  std::string name;  // the file name
  std::string sql;   // the file's content
};

struct MigrationReport {
  std::vector<std::string> applied;  // file names applied by this call
  std::size_t already_applied = 0;   // files found applied with a matching checksum
};

class Store {
 public:
  virtual ~Store() = default;

  // "postgres" or "sqlite".
  virtual std::string_view engine() const noexcept = 0;

  // Runs `work` in a transaction on a store thread and waits for it.
  virtual Status transact(Work work) = 0;

  // Queues `work` and returns at once; `done` is called on a store thread
  // with the outcome (commit included). When the work cannot be queued (queue
  // full: overloaded; store stopped: unavailable) `done` is called at once on
  // the calling thread. `done` must not block for long and must not throw.
  virtual void post(Work work, std::function<void(Status)> done) = 0;

  // As post(), for work someone is waiting on right now (an HTTP request's
  // commit): it goes before queued background work (workflow steps, the
  // relay, pollers), and with three or more connections one of them serves
  // only such work, so a caller never waits behind a long background
  // transaction. The queue's capacity covers both lanes. `waiting_since` is
  // when the caller's wait began (an earlier queue of its own included); how
  // long it waited in all decides whether background work yields
  // (PostgresSettings::yield_above).
  virtual void post_interactive(Work work, std::function<void(Status)> done,
                                std::chrono::steady_clock::time_point waiting_since) {
    (void)waiting_since;
    post(std::move(work), std::move(done));
  }
  void post_interactive(Work work, std::function<void(Status)> done) {
    post_interactive(std::move(work), std::move(done), std::chrono::steady_clock::now());
  }

  // What waits for and holds the store's connections now, for /metrics.
  struct LaneLoad {
    std::size_t queued = 0;
    std::size_t running = 0;
  };
  struct Load {
    LaneLoad interactive, background;
    // Set while background work yields (PostgresSettings::yield_above): how
    // many background transactions may run at once.
    std::optional<std::size_t> background_limit;
    // Interactive transactions whose callers waited longer than yield_above.
    std::uint64_t slow_interactive = 0;
  };
  virtual Load load() const { return {}; }

  // A cheap round trip to the database.
  virtual Status ping() = 0;

  // Applies every migration not yet applied, in version order, each in its
  // own transaction together with its row in `schema_migrations`, recording
  // its checksum. Concurrent migrators are serialized (PostgreSQL advisory
  // lock; SQLite's write lock). Refuses, before applying anything, with
  // Errc::checksum_mismatch when an applied file has changed since, and with
  // Errc::unsupported when the database has a version `migrations` does not
  // know (a newer binary migrated it). A failing file's error (usually
  // invalid_argument) names the file; files before it stay applied.
  virtual Result<MigrationReport> migrate(const std::vector<Migration>& migrations) = 0;

  // Finishes queued work, then closes connections. Idempotent. Later work
  // fails with Errc::unavailable. Not to be called from a store thread.
  virtual void stop() = 0;
};

struct PostgresSettings {
  std::string url;                                  // postgresql://user:pw@host:port/db
                                                    // or "host=... dbname=..." keywords
  int pool_size = 4;                                // connections = threads
  std::chrono::milliseconds connect_timeout{5000};  // rounded up to whole seconds
  std::size_t queue_capacity = 10000;               // waiting work items
  // Statements with parameters are prepared on their connection (named,
  // server-side) at their second use, up to 256 per connection, so the
  // server parses and plans them once. Off for a pooler that does not keep
  // prepared statements across transactions.
  bool prepared_statements = true;
  // Background work may yield to interactive work (post_interactive: the
  // intake commits HTTP requests wait on). With `yield_above` set, a request
  // that waited longer than that for its commit narrows background work to
  // one transaction at a time; one more may run per second without another
  // such wait, and all may once no interactive work was seen for a second.
  // Zero (the default) never yields: background work that falls behind a
  // sustained load can then not catch up (docs/store.md).
  std::chrono::milliseconds yield_above{0};
  // When set: created if missing and made the search_path of every
  // connection (so tables and schema_migrations live there). Lower-case
  // letters, digits and '_'; the URL must not set `options` then.
  std::string schema;
};

struct SqliteSettings {
  std::string path = "trueup.db";  // ":memory:" for tests
  std::chrono::milliseconds busy_timeout{5000};
  std::size_t queue_capacity = 10000;
};

// Opens a store. Connection failures at open are reported as errors, not
// thrown: Errc::unavailable with the redacted URL (never the password);
// invalid settings give Errc::invalid_argument.
Result<std::unique_ptr<Store>> open_postgres(const PostgresSettings& settings);
Result<std::unique_ptr<Store>> open_sqlite(const SqliteSettings& settings);

// The migrations compiled into this binary from migrations/<engine>/, in
// version order; empty for an unknown engine.
const std::vector<Migration>& embedded_migrations(std::string_view engine);

// Parses "0001_init.sql" -> 1; nullopt when the name is not numbered.
std::optional<int> migration_version(std::string_view file_name);

// Hex SHA-256 of the migration's text (line endings normalised to "\n"),
// recorded when applied.
std::string migration_checksum(const Migration& migration);

// Multi-row statements (batch inserts): "($1, $2), ($3, $4)" for `rows`
// tuples of `columns` placeholders numbered from `first`. `column(c, n)`, when
// given, writes column c's placeholder n (to add a cast or a decode);
// otherwise it is "$n". Callers keep a statement to kMaxRowsPerStatement rows,
// which stays under both engines' limit on bound parameters.
std::string values_tuples(std::size_t rows, std::size_t columns, int first = 1,
                          const std::function<std::string(std::size_t column, int n)>& column = {});
inline constexpr std::size_t kMaxRowsPerStatement = 500;

// A batch "insert unless present" over a two-part unique key (a, b), for the
// batch APIs (inbox, workflow starts). Rows go in key order, so transactions
// inserting overlapping batches take the unique-index locks in one order (no
// deadlock); ON CONFLICT DO NOTHING waits for a concurrent insert of the same
// key, so exactly one transaction inserts it, and the others find it with a
// fresh snapshot (READ COMMITTED).
struct KeyedInsert {
  std::string insert_into;  // "INSERT INTO t (a, b, c)"; " VALUES <tuples>" follows
  std::size_t columns = 0;  // parameters per row
  std::function<std::string(std::size_t column, int n)> column_sql;  // as in values_tuples
  std::string key_columns;                                           // "(a, b)"
  std::string id_column;                                             // returned per row
  std::string table;                                                 // for finding the rows already there
};
struct KeyedRow {
  std::string id;         // the row's id column, as text
  bool inserted = false;  // by this call; only the first row of equal keys
};
// `keys[i]` is row i's key; `params_of(i, out)` appends row i's `columns`
// parameters. Errc::conflict when a row is neither inserted nor found (a
// concurrent insert rolled back): the caller's transaction retries.
Result<std::vector<KeyedRow>> insert_unless_present(
    Transaction& tx, const KeyedInsert& spec, const std::vector<std::pair<std::string, std::string>>& keys,
    const std::function<void(std::size_t row, std::vector<Param>& out)>& params_of);

// A PostgreSQL URL or keyword string with its password replaced by "***",
// fit for logs and messages.
std::string redact_url(std::string_view url);

}  // namespace trueup::store
