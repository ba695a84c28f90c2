// Migration files: the embedded set, naming, checksums, and applying them
// through Store::transact (shared by both engines).

#include <algorithm>
#include <charconv>
#include <map>
#include <set>
#include <stdexcept>
#include <string>

#include "embedded_files.hpp"
#include "trueup/core/digest.hpp"
#include "worker_store.hpp"

namespace trueup::store {
namespace {

std::vector<Migration> load_embedded(std::string_view engine) {
  std::vector<Migration> out;
  for (const auto& file : detail::embedded_files()) {
    if (file.engine != engine) continue;
    auto version = migration_version(file.name);
    // A mis-named file is a build mistake, caught by the store's unit tests.
    if (!version)
      throw std::logic_error("migrations/" + std::string(engine) + "/" + std::string(file.name) +
                             " is not named NNNN_name.sql");
    out.push_back(Migration{*version, std::string(file.name), std::string(file.text)});
  }
  std::sort(out.begin(), out.end(), [](const Migration& a, const Migration& b) { return a.version < b.version; });
  return out;
}

}  // namespace

const std::vector<Migration>& embedded_migrations(std::string_view engine) {
  static const std::vector<Migration> postgres = load_embedded("postgres");
  static const std::vector<Migration> sqlite = load_embedded("sqlite");
  static const std::vector<Migration> none;
  if (engine == "postgres") return postgres;
  if (engine == "sqlite") return sqlite;
  return none;
}

std::optional<int> migration_version(std::string_view file_name) {
  constexpr std::string_view kSuffix = ".sql";
  if (file_name.size() <= kSuffix.size() || !file_name.ends_with(kSuffix)) return std::nullopt;
  auto stem = file_name.substr(0, file_name.size() - kSuffix.size());
  std::size_t digits = 0;
  while (digits < stem.size() && stem[digits] >= '0' && stem[digits] <= '9') ++digits;
  if (digits == 0 || digits > 9) return std::nullopt;
  // "0001.sql" or "0001_name.sql"
  if (digits < stem.size() && (stem[digits] != '_' || digits + 1 == stem.size())) return std::nullopt;
  int version = 0;
  std::from_chars(stem.data(), stem.data() + digits, version);
  if (version <= 0) return std::nullopt;
  return version;
}

std::string migration_checksum(const Migration& migration) {
  // A checkout with CRLF line endings must not look like an edited file.
  std::string text;
  text.reserve(migration.sql.size());
  for (std::size_t i = 0; i < migration.sql.size(); ++i) {
    if (migration.sql[i] == '\r' && i + 1 < migration.sql.size() && migration.sql[i + 1] == '\n') continue;
    text.push_back(migration.sql[i]);
  }
  return trueup::sha256_hex(text);
}

namespace detail {
namespace {

struct Dialect {
  std::string_view create_table;
  std::string_view lock;  // empty when the engine's write lock already serializes
};

Dialect dialect_of(std::string_view engine) {
  if (engine == "postgres")
    return {
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version BIGINT PRIMARY KEY,"
        " name TEXT NOT NULL,"
        " checksum TEXT NOT NULL,"
        " applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
        // One lock per schema, held until the transaction ends.
        "SELECT pg_advisory_xact_lock(hashtext('trueup.schema_migrations.' || "
        "coalesce(current_schema(), '')))"};
  // BEGIN IMMEDIATE already holds SQLite's single write lock.
  return {
      "CREATE TABLE IF NOT EXISTS schema_migrations ("
      " version INTEGER PRIMARY KEY,"
      " name TEXT NOT NULL,"
      " checksum TEXT NOT NULL,"
      " applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')))",
      ""};
}

struct Applied {
  std::string name;
  std::string checksum;
};

Status begin_migration_tx(Transaction& tx, const Dialect& dialect) {
  if (!dialect.lock.empty()) {
    auto locked = tx.exec(dialect.lock);
    if (!locked) return std::move(locked).error();
  }
  auto created = tx.exec(dialect.create_table);
  if (!created) return std::move(created).error();
  return Ok{};
}

Result<std::map<int, Applied>> read_applied(Transaction& tx) {
  auto rows = tx.exec("SELECT version, name, checksum FROM schema_migrations ORDER BY version");
  if (!rows) return std::move(rows).error();
  std::map<int, Applied> out;
  for (const auto& row : rows->rows) {
    if (row.size() != 3 || !row[0] || !row[1] || !row[2])
      return make_error(Errc::internal, "schema_migrations has an incomplete row");
    int version = 0;
    auto [_, ec] = std::from_chars(row[0]->data(), row[0]->data() + row[0]->size(), version);
    if (ec != std::errc{}) return make_error(Errc::internal, "schema_migrations.version is not a number: " + *row[0]);
    out.emplace(version, Applied{*row[1], *row[2]});
  }
  return out;
}

Error changed_file(const Migration& m, const Applied& a, const std::string& now) {
  return make_error(Errc::checksum_mismatch, "migration " + m.name +
                                                 " was changed after it was applied (recorded sha256 " + a.checksum +
                                                 ", the file now has " + now +
                                                 "); restore the original file and put the change in a new migration");
}

}  // namespace

Result<MigrationReport> run_migrations(Store& store, const std::vector<Migration>& migrations) {
  std::vector<const Migration*> ordered;
  std::set<int> versions;
  for (const auto& m : migrations) {
    if (m.version <= 0) return make_error(Errc::invalid_argument, "migration " + m.name + " has no positive version");
    if (!versions.insert(m.version).second)
      return make_error(Errc::invalid_argument,
                        "two migrations have version " + std::to_string(m.version) + " (" + m.name + ")");
    ordered.push_back(&m);
  }
  std::sort(ordered.begin(), ordered.end(),
            [](const Migration* a, const Migration* b) { return a->version < b->version; });
  std::map<int, std::string> checksums;
  for (const auto* m : ordered) checksums[m->version] = migration_checksum(*m);

  const Dialect dialect = dialect_of(store.engine());
  MigrationReport report;

  // First check everything already applied, so that a refusal applies nothing.
  std::vector<const Migration*> pending;
  Status checked = store.transact([&](Transaction& tx) -> Status {
    pending.clear();
    report.already_applied = 0;
    if (auto s = begin_migration_tx(tx, dialect); !s) return s;
    auto applied = read_applied(tx);
    if (!applied) return std::move(applied).error();
    for (const auto& [version, row] : *applied) {
      if (!versions.count(version))
        return make_error(Errc::unsupported,
                          "the database has migration " + row.name + " (version " + std::to_string(version) +
                              ") that this binary does not know: a newer trueup migrated it; run that "
                              "version or newer");
    }
    for (const auto* m : ordered) {
      auto it = applied->find(m->version);
      if (it == applied->end()) {
        pending.push_back(m);
      } else if (it->second.checksum != checksums[m->version]) {
        return changed_file(*m, it->second, checksums[m->version]);
      } else {
        ++report.already_applied;
      }
    }
    return Ok{};
  });
  if (!checked) return std::move(checked).error();

  for (const auto* m : pending) {
    bool applied_here = false;
    Status s = store.transact([&](Transaction& tx) -> Status {
      applied_here = false;
      if (auto begun = begin_migration_tx(tx, dialect); !begun) return begun;
      // Another migrator may have applied it since the check above.
      auto existing = tx.exec("SELECT name, checksum FROM schema_migrations WHERE version = $1",
                              {static_cast<std::int64_t>(m->version)});
      if (!existing) return std::move(existing).error();
      if (!existing->rows.empty()) {
        const auto& row = existing->rows.front();
        Applied a{row[0].value_or(""), row[1].value_or("")};
        if (a.checksum != checksums[m->version]) return changed_file(*m, a, checksums[m->version]);
        return Ok{};
      }
      auto ran = tx.exec(m->sql);
      if (!ran) {
        Error e = std::move(ran).error();
        return make_error(e.code, "migration " + m->name + " failed: " + e.message);
      }
      auto recorded = tx.exec("INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                              {static_cast<std::int64_t>(m->version), m->name, checksums[m->version]});
      if (!recorded) return std::move(recorded).error();
      applied_here = true;
      return Ok{};
    });
    if (!s) return std::move(s).error();
    if (applied_here)
      report.applied.push_back(m->name);
    else
      ++report.already_applied;
  }
  return report;
}

}  // namespace detail
}  // namespace trueup::store
