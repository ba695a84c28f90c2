#pragma once
// Test support for the workflow engine: a migrated store per test (an SQLite
// temp file, or a fresh PostgreSQL schema from TRUEUP_TEST_PG_URL), a manual
// clock, a metrics registry, an exception queue, and helpers to read rows.

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include "support/test_env.hpp"
#include "trueup/store/store.hpp"
#include "trueup/workflow/engine.hpp"
#include "trueup/workflow/exceptions.hpp"

namespace trueup::workflow::test {

enum class Db { sqlite, postgres };

inline std::string db_name(const ::testing::TestParamInfo<Db>& info) {
  return info.param == Db::sqlite ? "Sqlite" : "Postgres";
}

// A migrated store; dropped (schema) or deleted (file) at destruction.
class TestDatabase {
 public:
  explicit TestDatabase(Db db, int pool_size = 4) : db_(db) {
    if (db == Db::sqlite) {
      dir_ = std::filesystem::temp_directory_path() / trueup::testing::unique_name("trueup_wf");
      std::filesystem::create_directories(dir_);
      store::SqliteSettings s;
      s.path = (dir_ / "wf.db").string();
      auto opened = store::open_sqlite(s);
      if (!opened) {
        ADD_FAILURE() << opened.error().describe();
        return;
      }
      store_ = std::move(*opened);
    } else {
      pg_.url = trueup::testing::require_pg_url();
      if (pg_.url.empty()) return;
      pg_.schema = trueup::testing::unique_name("wf_test");
      pg_.pool_size = pool_size;
      store_ = open_another();
      if (!store_) return;
    }
    auto m = store_->migrate(store::embedded_migrations(store_->engine()));
    if (!m) ADD_FAILURE() << m.error().describe();
  }

  ~TestDatabase() {
    if (!store_) return;
    if (db_ == Db::postgres) {
      auto s = store_->transact([&](store::Transaction& tx) -> Status {
        auto r = tx.exec("DROP SCHEMA IF EXISTS " + pg_.schema + " CASCADE");
        if (!r) return std::move(r).error();
        return Ok{};
      });
      (void)s;
    }
    store_->stop();
    store_.reset();
    if (!dir_.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(dir_, ec);
    }
  }

  bool ok() const { return store_ != nullptr; }
  store::Store& store() { return *store_; }
  Db db() const { return db_; }
  const store::PostgresSettings& pg() const { return pg_; }

  // Another store on the same database and schema (PostgreSQL only): what a
  // second instance would open.
  std::unique_ptr<store::Store> open_another() {
    auto opened = store::open_postgres(pg_);
    if (!opened) {
      ADD_FAILURE() << opened.error().describe();
      return nullptr;
    }
    return std::move(*opened);
  }

  // The first column of the first row of `sql`, or "" when none/NULL.
  std::string scalar(const std::string& sql, const std::vector<store::Param>& params = {}) {
    std::string out;
    auto s = store_->transact([&](store::Transaction& tx) -> Status {
      auto r = tx.exec(sql, params);
      if (!r) return std::move(r).error();
      if (!r->rows.empty() && !r->rows[0].empty() && r->rows[0][0]) out = *r->rows[0][0];
      return Ok{};
    });
    EXPECT_TRUE(s) << s.error().describe();
    return out;
  }

  void exec(const std::string& sql, const std::vector<store::Param>& params = {}) {
    auto s = store_->transact([&](store::Transaction& tx) -> Status {
      auto r = tx.exec(sql, params);
      if (!r) return std::move(r).error();
      return Ok{};
    });
    ASSERT_TRUE(s) << s.error().describe();
  }

 private:
  Db db_;
  std::filesystem::path dir_;
  store::PostgresSettings pg_;
  std::unique_ptr<store::Store> store_;
};

// Starts a workflow in its own transaction.
inline Started start(Engine& engine, store::Store& store, const std::string& type, const std::string& correlation,
                     const nlohmann::json& input, const std::string& dedupe) {
  Started out;
  auto s = store.transact([&](store::Transaction& tx) -> Status {
    auto r = engine.start(tx, type, correlation, input, dedupe);
    if (!r) return std::move(r).error();
    out = *r;
    return Ok{};
  });
  EXPECT_TRUE(s) << s.error().describe();
  return out;
}

inline std::size_t signal(Engine& engine, store::Store& store, const std::string& correlation, const std::string& name,
                          const nlohmann::json& payload) {
  std::size_t out = 0;
  auto s = store.transact([&](store::Transaction& tx) -> Status {
    auto r = engine.signal(tx, correlation, name, payload);
    if (!r) return std::move(r).error();
    out = *r;
    return Ok{};
  });
  EXPECT_TRUE(s) << s.error().describe();
  return out;
}

// Waits (bounded) until `done()` holds, checking every 20 ms: for effects of
// background threads. False when the deadline passed.
template <class F>
bool eventually(F&& done, std::chrono::milliseconds deadline = std::chrono::seconds(60)) {
  const auto until = std::chrono::steady_clock::now() + deadline;
  while (std::chrono::steady_clock::now() < until) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return done();
}

}  // namespace trueup::workflow::test
