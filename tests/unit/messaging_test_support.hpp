#pragma once
// Shared by the messaging tests: a store with migrations 0001, 0002 and 0013
// (the outbox's pending queue) applied
// (SQLite in a temp file, or PostgreSQL in a fresh schema), and a clock the
// test moves.

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "support/test_env.hpp"
#include "trueup/messaging/clock.hpp"
#include "trueup/store/store.hpp"

namespace trueup::messaging::test {

enum class Engine { sqlite, postgres };

inline std::string engine_name(const ::testing::TestParamInfo<Engine>& info) {
  return info.param == Engine::sqlite ? "Sqlite" : "Postgres";
}

struct TestStore {
  std::unique_ptr<store::Store> store;
  std::string sqlite_dir;
  std::string schema;
  std::string pg_url;

  ~TestStore() {
    if (store) store->stop();
    if (!sqlite_dir.empty()) std::filesystem::remove_all(sqlite_dir);
  }
};

// Only this module's migrations (and the first): tests stay independent of
// other modules' tables.
// `up_to`: the last version applied (a schema as an older release left it).
inline std::vector<store::Migration> messaging_migrations(std::string_view engine, int up_to = 13) {
  std::vector<store::Migration> out;
  for (const auto& m : store::embedded_migrations(engine))
    if ((m.version <= 2 || m.version == 13) && m.version <= up_to) out.push_back(m);
  return out;
}

inline store::PostgresSettings pg_settings(const std::string& schema, int pool_size = 8) {
  store::PostgresSettings s;
  s.url = trueup::testing::require_pg_url();
  s.schema = schema;
  s.pool_size = pool_size;
  return s;
}

inline std::unique_ptr<TestStore> open_test_store(Engine engine, std::string schema = {}, int up_to = 13) {
  auto t = std::make_unique<TestStore>();
  if (engine == Engine::sqlite) {
    t->sqlite_dir = (std::filesystem::temp_directory_path() / trueup::testing::unique_name("trueup_msg")).string();
    std::filesystem::create_directories(t->sqlite_dir);
    store::SqliteSettings s;
    s.path = t->sqlite_dir + "/trueup.db";
    auto st = store::open_sqlite(s);
    if (!st) {
      ADD_FAILURE() << st.error().describe();
      return t;
    }
    t->store = std::move(*st);
  } else {
    t->schema = schema.empty() ? trueup::testing::unique_name("msg") : schema;
    auto st = store::open_postgres(pg_settings(t->schema));
    if (!st) {
      ADD_FAILURE() << st.error().describe();
      return t;
    }
    t->store = std::move(*st);
  }
  auto m = t->store->migrate(messaging_migrations(t->store->engine(), up_to));
  if (!m) ADD_FAILURE() << m.error().describe();
  return t;
}

// A clock at a fixed instant that tests move forward.
class ManualClock {
 public:
  ManualClock() : now_(std::chrono::system_clock::now().time_since_epoch().count()) {}
  Clock clock() {
    return [this] { return std::chrono::system_clock::time_point(std::chrono::system_clock::duration(now_.load())); };
  }
  void advance(std::chrono::system_clock::duration d) { now_ += d.count(); }

 private:
  std::atomic<std::chrono::system_clock::rep> now_;
};

// One value of a single-row query.
inline std::optional<std::string> query_one(store::Store& s, const std::string& sql,
                                            const std::vector<store::Param>& params = {}) {
  std::optional<std::string> out;
  auto st = s.transact([&](store::Transaction& tx) -> Status {
    auto r = tx.exec(sql, params);
    if (!r) return std::move(r).error();
    if (!r->rows.empty()) out = r->rows[0][0];
    return Ok{};
  });
  if (!st) ADD_FAILURE() << st.error().describe();
  return out;
}

inline std::int64_t query_int(store::Store& s, const std::string& sql, const std::vector<store::Param>& params = {}) {
  auto v = query_one(s, sql, params);
  return v ? std::stoll(*v) : -1;
}

// The raw bytes of `table`.payload for row `id` (BYTEA on PostgreSQL).
inline std::string read_payload(store::Store& s, const std::string& table, std::int64_t id) {
  const bool pg = s.engine() == "postgres";
  auto v = query_one(
      s, std::string("SELECT ") + (pg ? "encode(payload, 'hex')" : "payload") + " FROM " + table + " WHERE id = $1",
      {id});
  if (!v) return {};
  if (!pg) return *v;
  std::string out;
  for (std::size_t i = 0; i + 1 < v->size(); i += 2)
    out.push_back(static_cast<char>(std::stoi(v->substr(i, 2), nullptr, 16)));
  return out;
}

// Waits (bounded) for a condition polled from the database or the bus.
template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return pred();
}

}  // namespace trueup::messaging::test
