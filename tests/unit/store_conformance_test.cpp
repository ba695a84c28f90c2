// One conformance suite for both store engines. Instantiated as Sqlite/... (a
// temp file; label unit) and Postgres/... (TRUEUP_TEST_PG_URL, a fresh schema
// per test; label pg). Engine-specific cases follow at the end.

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <condition_variable>
#include <filesystem>
#include <future>
#include <mutex>
#include <thread>

#include "support/test_env.hpp"
#include "trueup/store/async.hpp"
#include "trueup/store/store.hpp"

// libpqxx 6.4 does not free libpq's error result when a connection breaks in
// the middle of a query (it throws broken_connection first): about 2 KB per
// lost connection. The reconnect tests below break connections on purpose;
// this keeps sanitizer builds (-DTRUEUP_SANITIZE=address) green.
extern "C" const char* __lsan_default_suppressions() { return "leak:PQmakeEmptyPGresult\n"; }

namespace trueup::store {
namespace {

namespace fs = std::filesystem;

enum class Engine { sqlite, postgres };

std::string engine_name(const ::testing::TestParamInfo<Engine>& info) {
  return info.param == Engine::sqlite ? "Sqlite" : "Postgres";
}

// Waits until `n` callbacks have been counted.
class Countdown {
 public:
  explicit Countdown(int n) : left_(n) {}
  void count() {
    std::lock_guard lock(mutex_);
    if (--left_ == 0) zero_.notify_all();
  }
  void wait() {
    std::unique_lock lock(mutex_);
    zero_.wait(lock, [&] { return left_ <= 0; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable zero_;
  int left_;
};

Status exec_ok(Transaction& tx, std::string_view sql, const std::vector<Param>& params = {}) {
  auto r = tx.exec(sql, params);
  if (!r) return std::move(r).error();
  return Ok{};
}

class StoreConformance : public ::testing::TestWithParam<Engine> {
 protected:
  void SetUp() override {
    if (GetParam() == Engine::sqlite) {
      dir_ = fs::temp_directory_path() / testing::unique_name("trueup_store");
      fs::create_directories(dir_);
    } else {
      url_ = testing::require_pg_url();
      ASSERT_FALSE(url_.empty());
      schema_ = testing::unique_name("store_test");
    }
    store_ = open();
    ASSERT_NE(store_, nullptr);
  }

  void TearDown() override {
    if (store_ && GetParam() == Engine::postgres) {
      auto dropped = store_->transact(
          [&](Transaction& tx) { return exec_ok(tx, "DROP SCHEMA IF EXISTS " + schema_ + " CASCADE"); });
      EXPECT_TRUE(dropped.ok()) << dropped.error().describe();
    }
    store_.reset();
    if (!dir_.empty()) fs::remove_all(dir_);
  }

  // Another store on the same database (file or schema).
  std::unique_ptr<Store> open(std::size_t queue_capacity = 10000, int pool_size = 4) {
    Result<std::unique_ptr<Store>> opened = make_error(Errc::internal, "not opened");
    if (GetParam() == Engine::sqlite) {
      SqliteSettings s;
      s.path = (dir_ / "store.db").string();
      s.queue_capacity = queue_capacity;
      opened = open_sqlite(s);
    } else {
      PostgresSettings s;
      s.url = url_;
      s.schema = schema_;
      s.pool_size = pool_size;
      s.queue_capacity = queue_capacity;
      opened = open_postgres(s);
    }
    EXPECT_TRUE(opened.ok()) << opened.error().describe();
    return opened ? std::move(*opened) : nullptr;
  }

  Result<Rows> query(std::string_view sql, const std::vector<Param>& params = {}) {
    Result<Rows> out = make_error(Errc::internal, "not run");
    auto s = store_->transact([&](Transaction& tx) -> Status {
      out = tx.exec(sql, params);
      return Ok{};
    });
    if (!s) return std::move(s).error();
    return out;
  }

  void run(std::string_view sql) {
    auto s = store_->transact([&](Transaction& tx) { return exec_ok(tx, sql); });
    ASSERT_TRUE(s.ok()) << s.error().describe();
  }

  std::int64_t count(std::string_view table) {
    auto r = query("SELECT count(*) FROM " + std::string(table));
    EXPECT_TRUE(r.ok()) << r.error().describe();
    if (!r || r->rows.size() != 1 || !r->rows[0][0]) return -1;
    return std::stoll(*r->rows[0][0]);
  }

  bool table_exists(std::string_view table) { return query("SELECT 1 FROM " + std::string(table)).ok(); }

  std::unique_ptr<Store> store_;
  fs::path dir_;
  std::string url_;
  std::string schema_;
};

std::vector<Migration> two_migrations() {
  return {
      {1, "0001_widgets.sql",
       "CREATE TABLE widgets (id BIGINT PRIMARY KEY, name TEXT NOT NULL);\n"
       "INSERT INTO widgets (id, name) VALUES (1, 'first');\n"},
      {2, "0002_gadgets.sql", "CREATE TABLE gadgets (id BIGINT PRIMARY KEY);"},
  };
}

TEST_P(StoreConformance, ReportsItsEngine) {
  EXPECT_EQ(store_->engine(), GetParam() == Engine::sqlite ? "sqlite" : "postgres");
  auto ping = store_->ping();
  EXPECT_TRUE(ping.ok()) << ping.error().describe();
}

TEST_P(StoreConformance, EmbeddedMigrationsApplyFromEmptyThenAreANoOp) {
  const auto& migrations = embedded_migrations(store_->engine());
  ASSERT_FALSE(migrations.empty());

  auto first = store_->migrate(migrations);
  ASSERT_TRUE(first.ok()) << first.error().describe();
  ASSERT_EQ(first->applied.size(), migrations.size());
  for (std::size_t i = 0; i < migrations.size(); ++i) EXPECT_EQ(first->applied[i], migrations[i].name);
  EXPECT_EQ(first->already_applied, 0u);
  EXPECT_EQ(count("schema_migrations"), static_cast<std::int64_t>(migrations.size()));
  EXPECT_EQ(count("trueup_instance"), 0);

  auto recorded = query("SELECT version, name, checksum FROM schema_migrations WHERE version = $1", {std::int64_t{1}});
  ASSERT_TRUE(recorded.ok()) << recorded.error().describe();
  ASSERT_EQ(recorded->rows.size(), 1u);
  EXPECT_EQ(recorded->rows[0][1], migrations[0].name);
  EXPECT_EQ(recorded->rows[0][2], migration_checksum(migrations[0]));

  auto second = store_->migrate(migrations);
  ASSERT_TRUE(second.ok()) << second.error().describe();
  EXPECT_TRUE(second->applied.empty());
  EXPECT_EQ(second->already_applied, migrations.size());
  EXPECT_EQ(count("schema_migrations"), static_cast<std::int64_t>(migrations.size()));
}

TEST_P(StoreConformance, MigrationsApplyInVersionOrderEachOnce) {
  auto ms = two_migrations();
  std::swap(ms[0], ms[1]);  // the order given must not matter
  auto first = store_->migrate({ms[1]});
  ASSERT_TRUE(first.ok()) << first.error().describe();
  EXPECT_EQ(first->applied, std::vector<std::string>{"0001_widgets.sql"});

  auto second = store_->migrate(ms);
  ASSERT_TRUE(second.ok()) << second.error().describe();
  EXPECT_EQ(second->applied, std::vector<std::string>{"0002_gadgets.sql"});
  EXPECT_EQ(second->already_applied, 1u);
  EXPECT_EQ(count("widgets"), 1);  // the INSERT in 0001 ran exactly once
  EXPECT_EQ(count("gadgets"), 0);
}

TEST_P(StoreConformance, ChangedAppliedFileIsRefusedWithChecksumMismatch) {
  auto ms = two_migrations();
  ASSERT_TRUE(store_->migrate({ms[0]}).ok());

  ms[0].sql += "-- an edit after release\n";
  auto again = store_->migrate(ms);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, Errc::checksum_mismatch);
  EXPECT_NE(again.error().message.find("0001_widgets.sql"), std::string::npos) << again.error().message;
  EXPECT_FALSE(table_exists("gadgets"));  // nothing applied after a refusal
}

TEST_P(StoreConformance, LineEndingsDoNotChangeTheChecksum) {
  auto ms = two_migrations();
  ASSERT_TRUE(store_->migrate(ms).ok());
  for (auto& m : ms) {
    std::string crlf;
    for (char c : m.sql) crlf += c == '\n' ? std::string("\r\n") : std::string(1, c);
    m.sql = crlf;
  }
  auto again = store_->migrate(ms);
  ASSERT_TRUE(again.ok()) << again.error().describe();
  EXPECT_EQ(again->already_applied, 2u);
}

TEST_P(StoreConformance, DatabaseNewerThanTheBinaryIsRefused) {
  auto ms = two_migrations();
  ASSERT_TRUE(store_->migrate(ms).ok());
  auto older = store_->migrate({ms[0]});
  ASSERT_FALSE(older.ok());
  EXPECT_EQ(older.error().code, Errc::unsupported);
  EXPECT_NE(older.error().message.find("0002_gadgets.sql"), std::string::npos) << older.error().message;
}

TEST_P(StoreConformance, FailingMigrationNamesTheFileAndLeavesNoTrace) {
  std::vector<Migration> ms = {
      {1, "0001_ok.sql", "CREATE TABLE ok_table (id BIGINT);"},
      {2, "0002_broken.sql", "CREATE TABLE half_done (id BIGINT);\nCREATE TABLE oops (;"},
  };
  auto r = store_->migrate(ms);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::invalid_argument);
  EXPECT_NE(r.error().message.find("0002_broken.sql"), std::string::npos) << r.error().message;
  EXPECT_TRUE(table_exists("ok_table"));
  EXPECT_FALSE(table_exists("half_done"));  // the file's first statement rolled back with it
  EXPECT_EQ(count("schema_migrations"), 1);
}

TEST_P(StoreConformance, CommitPersists) {
  run("CREATE TABLE orders (id BIGINT PRIMARY KEY, total_minor BIGINT NOT NULL)");
  auto s = store_->transact([](Transaction& tx) -> Status {
    auto r = tx.exec("INSERT INTO orders (id, total_minor) VALUES ($1, $2)", {std::int64_t{7}, std::int64_t{1999}});
    if (!r) return std::move(r).error();
    EXPECT_EQ(r->affected, 1);
    return Ok{};
  });
  ASSERT_TRUE(s.ok()) << s.error().describe();

  // Seen from a second store, i.e. another connection.
  auto other = open();
  ASSERT_NE(other, nullptr);
  Result<Rows> rows = make_error(Errc::internal, "not run");
  ASSERT_TRUE(other
                  ->transact([&](Transaction& tx) -> Status {
                    rows = tx.exec("SELECT total_minor FROM orders WHERE id = $1", {std::int64_t{7}});
                    return Ok{};
                  })
                  .ok());
  ASSERT_TRUE(rows.ok()) << rows.error().describe();
  ASSERT_EQ(rows->rows.size(), 1u);
  EXPECT_EQ(rows->rows[0][0], "1999");
}

TEST_P(StoreConformance, ErrorReturnRollsBack) {
  run("CREATE TABLE orders (id BIGINT PRIMARY KEY)");
  auto s = store_->transact([](Transaction& tx) -> Status {
    if (auto r = exec_ok(tx, "INSERT INTO orders (id) VALUES (1)"); !r) return r;
    return make_error(Errc::not_found, "sku 123 is not mapped");
  });
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, Errc::not_found);
  EXPECT_EQ(s.error().message, "sku 123 is not mapped");
  EXPECT_EQ(count("orders"), 0);
}

TEST_P(StoreConformance, ExecErrorRollsBack) {
  run("CREATE TABLE orders (id BIGINT PRIMARY KEY)");
  auto s = store_->transact([](Transaction& tx) -> Status {
    if (auto r = exec_ok(tx, "INSERT INTO orders (id) VALUES (1)"); !r) return r;
    return exec_ok(tx, "INSERT INTO no_such_table (id) VALUES (1)");
  });
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, Errc::invalid_argument);
  EXPECT_NE(s.error().message.find("no_such_table"), std::string::npos) << s.error().message;
  EXPECT_EQ(count("orders"), 0);
}

TEST_P(StoreConformance, IgnoredExecErrorStillAbortsTheTransaction) {
  run("CREATE TABLE orders (id BIGINT PRIMARY KEY)");
  Result<Rows> later = make_error(Errc::internal, "not run");
  auto s = store_->transact([&](Transaction& tx) -> Status {
    EXPECT_TRUE(tx.exec("INSERT INTO orders (id) VALUES (1)").ok());
    EXPECT_FALSE(tx.exec("SELEC oops").ok());
    later = tx.exec("INSERT INTO orders (id) VALUES (2)");
    return Ok{};  // the error is ignored: the store must not commit anyway
  });
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, Errc::invalid_argument);
  ASSERT_FALSE(later.ok());
  EXPECT_EQ(later.error().code, Errc::invalid_argument);
  EXPECT_EQ(count("orders"), 0);
}

TEST_P(StoreConformance, DuplicateKeyIsAlreadyExists) {
  run("CREATE TABLE orders (id BIGINT PRIMARY KEY)");
  run("INSERT INTO orders (id) VALUES (1)");
  auto s = store_->transact(
      [](Transaction& tx) { return exec_ok(tx, "INSERT INTO orders (id) VALUES ($1)", {std::int64_t{1}}); });
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, Errc::already_exists) << s.error().describe();
}

TEST_P(StoreConformance, ThrowingWorkRollsBackAndIsInternal) {
  run("CREATE TABLE orders (id BIGINT PRIMARY KEY)");
  auto s = store_->transact([](Transaction& tx) -> Status {
    (void)tx.exec("INSERT INTO orders (id) VALUES (1)");
    throw std::runtime_error("bug in a workflow step");
  });
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, Errc::internal);
  EXPECT_EQ(count("orders"), 0);
  EXPECT_TRUE(store_->ping().ok());  // the worker survived
}

TEST_P(StoreConformance, ParamsOfEveryTypeRoundTrip) {
  run("CREATE TABLE params (id BIGINT PRIMARY KEY, i BIGINT, d DOUBLE PRECISION, s TEXT, n TEXT)");
  struct Case {
    std::int64_t id;
    Param i, d, s, n;
  };
  const std::string tricky = "it's \"quoted\"; \\ back-slash $1 -- DROP TABLE params; Grüße ✓";
  const std::vector<Case> cases = {
      {1, std::int64_t{INT64_MAX}, 2.5, tricky, std::monostate{}},
      {2, std::int64_t{INT64_MIN}, -0.125, std::string(), std::monostate{}},
      {3, std::int64_t{0}, 1e-7, std::string("'"), std::monostate{}},
      {4, std::monostate{}, std::monostate{}, std::monostate{}, std::monostate{}},
      {5, std::int64_t{42}, 0.1, std::string("line\nbreak\ttab"), std::monostate{}},
  };
  auto s = store_->transact([&](Transaction& tx) -> Status {
    for (const auto& c : cases) {
      // Placeholders out of order of appearance, one of them used twice.
      auto r = tx.exec("INSERT INTO params (s, i, id, d, n) VALUES ($4, $2, $1, $3, $5)", {c.id, c.i, c.d, c.s, c.n});
      if (!r) return std::move(r).error();
    }
    return Ok{};
  });
  ASSERT_TRUE(s.ok()) << s.error().describe();

  auto rows = query("SELECT id, i, d, s, n FROM params ORDER BY id");
  ASSERT_TRUE(rows.ok()) << rows.error().describe();
  EXPECT_EQ(rows->columns, (std::vector<std::string>{"id", "i", "d", "s", "n"}));
  ASSERT_EQ(rows->rows.size(), cases.size());
  auto text = [](const Param& p) -> std::optional<std::string> {
    if (std::holds_alternative<std::monostate>(p)) return std::nullopt;
    if (auto* v = std::get_if<std::int64_t>(&p)) return std::to_string(*v);
    if (std::holds_alternative<std::string>(p)) return std::get<std::string>(p);
    return "double";
  };
  for (std::size_t k = 0; k < cases.size(); ++k) {
    const auto& row = rows->rows[k];
    const auto& c = cases[k];
    SCOPED_TRACE("id " + std::to_string(c.id));
    EXPECT_EQ(row[0], std::to_string(c.id));
    EXPECT_EQ(row[1], text(c.i));
    if (auto* d = std::get_if<double>(&c.d)) {
      ASSERT_TRUE(row[2].has_value());
      EXPECT_EQ(std::stod(*row[2]), *d) << *row[2];
    } else {
      EXPECT_EQ(row[2], std::nullopt);
    }
    EXPECT_EQ(row[3], text(c.s));
    EXPECT_EQ(row[4], std::nullopt);
  }
  EXPECT_EQ(rows->rows[0][2], "2.5");  // shortest exact form on both engines

  // NULL compares as unknown, and the empty string is not NULL.
  auto empty = query("SELECT id FROM params WHERE s = $1 OR i = $2 OR s = $1", {std::string(), std::monostate{}});
  ASSERT_TRUE(empty.ok()) << empty.error().describe();
  ASSERT_EQ(empty->rows.size(), 1u);
  EXPECT_EQ(empty->rows[0][0], "2");

  auto tricky_back = query("SELECT id FROM params WHERE s = $1", {tricky});
  ASSERT_TRUE(tricky_back.ok());
  ASSERT_EQ(tricky_back->rows.size(), 1u);
  EXPECT_EQ(tricky_back->rows[0][0], "1");
  EXPECT_EQ(count("params"), 5);
}

TEST_P(StoreConformance, AffectedCountsChangedRowsOnly) {
  run("CREATE TABLE stock (sku TEXT PRIMARY KEY, qty BIGINT NOT NULL)");
  std::vector<std::int64_t> affected;
  auto s = store_->transact([&](Transaction& tx) -> Status {
    for (auto sql :
         {"INSERT INTO stock (sku, qty) VALUES ('a', 1), ('b', 2), ('c', 3)",
          "UPDATE stock SET qty = qty + 1 WHERE qty >= 2", "SELECT sku FROM stock", "CREATE TABLE other (id BIGINT)",
          "DELETE FROM stock WHERE sku = 'a'", "UPDATE stock SET qty = 0 WHERE sku = 'none'"}) {
      auto r = tx.exec(sql);
      if (!r) return std::move(r).error();
      affected.push_back(r->affected);
    }
    return Ok{};
  });
  ASSERT_TRUE(s.ok()) << s.error().describe();
  EXPECT_EQ(affected, (std::vector<std::int64_t>{3, 2, 0, 0, 1, 0}));
}

TEST_P(StoreConformance, MissingParameterIsInvalidArgument) {
  auto r = query("SELECT $2", {std::int64_t{1}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::invalid_argument);
}

TEST_P(StoreConformance, ConcurrentPostsFromManyThreadsAllComplete) {
  run("CREATE TABLE events (thread BIGINT NOT NULL, seq BIGINT NOT NULL, PRIMARY KEY (thread, seq))");
  constexpr int kThreads = 8;
  constexpr int kPerThread = 40;
  Countdown done(kThreads * kPerThread);
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        store_->post(
            [t, i](Transaction& tx) {
              return exec_ok(tx, "INSERT INTO events (thread, seq) VALUES ($1, $2)",
                             {std::int64_t{t}, std::int64_t{i}});
            },
            [&](Status s) {
              if (!s) failures++;
              done.count();
            });
      }
    });
  }
  for (auto& t : threads) t.join();
  done.wait();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(count("events"), kThreads * kPerThread);
}

TEST_P(StoreConformance, FullQueueIsOverloaded) {
  auto store = open(/*queue_capacity=*/2, /*pool_size=*/1);
  ASSERT_NE(store, nullptr);
  std::promise<void> started;
  std::promise<void> release;
  auto released = release.get_future().share();
  Countdown finished(3);
  std::vector<Status> outcomes;
  std::mutex outcomes_mutex;
  auto record = [&](Status s) {
    {
      std::lock_guard lock(outcomes_mutex);
      outcomes.push_back(std::move(s));
    }
    finished.count();
  };

  // The only worker is busy; then two items fill the queue.
  store->post(
      [&](Transaction&) -> Status {
        started.set_value();
        released.wait();
        return Ok{};
      },
      record);
  started.get_future().wait();
  store->post([](Transaction&) -> Status { return Ok{}; }, record);
  store->post([](Transaction&) -> Status { return Ok{}; }, record);

  std::optional<Status> rejected;
  store->post([](Transaction&) -> Status { return Ok{}; }, [&](Status s) { rejected = std::move(s); });
  ASSERT_TRUE(rejected.has_value()) << "a rejected post must report at once";
  ASSERT_FALSE(rejected->ok());
  EXPECT_EQ(rejected->error().code, Errc::overloaded);
  EXPECT_TRUE(rejected->error().retryable());

  auto blocked = store->transact([](Transaction&) -> Status { return Ok{}; });
  ASSERT_FALSE(blocked.ok());
  EXPECT_EQ(blocked.error().code, Errc::overloaded);

  release.set_value();
  finished.wait();
  for (const auto& s : outcomes) EXPECT_TRUE(s.ok());
}

TEST_P(StoreConformance, InteractiveWorkGoesBeforeQueuedBackgroundWork) {
  auto store = open(100, /*pool_size=*/1);
  ASSERT_NE(store, nullptr);
  std::promise<void> started;
  std::promise<void> release;
  auto released = release.get_future().share();
  Countdown finished(4);
  std::mutex order_mutex;
  std::vector<std::string> order;
  auto job = [&](std::string name) {
    return [&, name](Transaction&) -> Status {
      std::lock_guard lock(order_mutex);
      order.push_back(name);
      return Ok{};
    };
  };
  auto done = [&](Status s) {
    EXPECT_TRUE(s.ok());
    finished.count();
  };
  // The only worker is busy; two background jobs wait, then an interactive one.
  store->post(
      [&](Transaction&) -> Status {
        started.set_value();
        released.wait();
        return Ok{};
      },
      done);
  started.get_future().wait();
  store->post(job("background-1"), done);
  store->post(job("background-2"), done);
  store->post_interactive(job("interactive"), done);
  release.set_value();
  finished.wait();
  EXPECT_EQ(order, (std::vector<std::string>{"interactive", "background-1", "background-2"}));
}

TEST_P(StoreConformance, AConnectionIsKeptForInteractiveWorkWhenThePoolHasThree) {
  if (GetParam() == Engine::sqlite) GTEST_SKIP() << "SQLite has one connection";
  auto store = open(100, /*pool_size=*/3);
  ASSERT_NE(store, nullptr);
  // Three background jobs that hold their connection until released: two of
  // the three connections take them, the third waits for interactive work.
  std::promise<void> release;
  auto released = release.get_future().share();
  std::atomic<int> started{0};
  Countdown two_started(2);
  Countdown finished(3);
  for (int i = 0; i < 3; ++i)
    store->post(
        [&](Transaction&) -> Status {
          started.fetch_add(1);
          two_started.count();
          released.wait();
          return Ok{};
        },
        [&](Status) { finished.count(); });
  two_started.wait();
  std::promise<Status> interactive;
  auto outcome = interactive.get_future();
  store->post_interactive([](Transaction& tx) -> Status { return exec_ok(tx, "SELECT 1"); },
                          [&](Status s) { interactive.set_value(std::move(s)); });
  // Bounded, so that a store without the kept connection fails instead of hanging.
  const bool ran = outcome.wait_for(std::chrono::seconds(30)) == std::future_status::ready;
  EXPECT_TRUE(ran) << "the interactive transaction waited behind background work";
  if (ran) {
    EXPECT_TRUE(outcome.get().ok());
  }
  EXPECT_EQ(started.load(), 2) << "background work took the kept connection";
  release.set_value();
  finished.wait();
}

TEST_P(StoreConformance, StopFinishesQueuedWorkThenRefuses) {
  run("CREATE TABLE events (id BIGINT PRIMARY KEY)");
  auto store = open(100, 1);
  ASSERT_NE(store, nullptr);
  std::atomic<int> ok{0};
  for (int i = 0; i < 20; ++i) {
    store->post([i](Transaction& tx) { return exec_ok(tx, "INSERT INTO events (id) VALUES ($1)", {std::int64_t{i}}); },
                [&](Status s) {
                  if (s) ok++;
                });
  }
  store->stop();
  EXPECT_EQ(ok.load(), 20);  // every queued item ran before stop returned
  store->stop();             // idempotent
  auto after = store->transact([](Transaction&) -> Status { return Ok{}; });
  ASSERT_FALSE(after.ok());
  EXPECT_EQ(after.error().code, Errc::unavailable);
  EXPECT_EQ(count("events"), 20);
}

TEST_P(StoreConformance, BlockingCallFromInsideWorkIsRefusedNotDeadlocked) {
  Status inner = Ok{};
  auto s = store_->transact([&](Transaction&) -> Status {
    inner = store_->transact([](Transaction&) -> Status { return Ok{}; });
    return Ok{};
  });
  ASSERT_TRUE(s.ok()) << s.error().describe();
  ASSERT_FALSE(inner.ok());
  EXPECT_EQ(inner.error().code, Errc::internal);
}

TEST_P(StoreConformance, AsyncTransactResumesOnTheCoroutinesExecutor) {
  run("CREATE TABLE orders (id BIGINT PRIMARY KEY)");
  boost::asio::io_context io;
  const auto io_thread = std::this_thread::get_id();
  std::thread::id work_thread;
  std::vector<std::thread::id> resumed_on;
  std::optional<Status> committed, refused;

  boost::asio::co_spawn(
      io,
      [&]() -> boost::asio::awaitable<void> {
        committed = co_await async_transact(*store_, [&](Transaction& tx) {
          work_thread = std::this_thread::get_id();
          return exec_ok(tx, "INSERT INTO orders (id) VALUES ($1)", {std::int64_t{1}});
        });
        resumed_on.push_back(std::this_thread::get_id());
        refused = co_await async_transact(*store_, [](Transaction& tx) {
          return exec_ok(tx, "INSERT INTO orders (id) VALUES ($1)", {std::int64_t{1}});
        });
        resumed_on.push_back(std::this_thread::get_id());
      },
      boost::asio::detached);
  io.run();  // returns once the coroutine has finished

  ASSERT_TRUE(committed.has_value());
  EXPECT_TRUE(committed->ok()) << committed->error().describe();
  ASSERT_TRUE(refused.has_value());
  ASSERT_FALSE(refused->ok());
  EXPECT_EQ(refused->error().code, Errc::already_exists);
  EXPECT_NE(work_thread, io_thread);
  EXPECT_EQ(resumed_on, (std::vector<std::thread::id>{io_thread, io_thread}));
  EXPECT_EQ(count("orders"), 1);
}

INSTANTIATE_TEST_SUITE_P(Sqlite, StoreConformance, ::testing::Values(Engine::sqlite), engine_name);
INSTANTIATE_TEST_SUITE_P(Postgres, StoreConformance, ::testing::Values(Engine::postgres), engine_name);

// ---- SQLite only ----

class SqliteStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / testing::unique_name("trueup_sqlite");
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::unique_ptr<Store> open(std::chrono::milliseconds busy_timeout = std::chrono::milliseconds(5000)) {
    SqliteSettings s;
    s.path = (dir_ / "store.db").string();
    s.busy_timeout = busy_timeout;
    auto r = open_sqlite(s);
    EXPECT_TRUE(r.ok()) << r.error().describe();
    return r ? std::move(*r) : nullptr;
  }

  fs::path dir_;
};

TEST_F(SqliteStoreTest, ConnectionIsDurableAndChecksForeignKeys) {
  auto store = open();
  ASSERT_NE(store, nullptr);
  std::vector<std::optional<std::string>> values;
  auto s = store->transact([&](Transaction& tx) -> Status {
    for (auto pragma : {"PRAGMA journal_mode", "PRAGMA synchronous", "PRAGMA foreign_keys"}) {
      auto r = tx.exec(pragma);
      if (!r) return std::move(r).error();
      values.push_back(r->rows.at(0).at(0));
    }
    return Ok{};
  });
  ASSERT_TRUE(s.ok()) << s.error().describe();
  EXPECT_EQ(values, (std::vector<std::optional<std::string>>{"wal", "2", "1"}));

  s = store->transact([](Transaction& tx) -> Status {
    if (auto r = exec_ok(tx, "CREATE TABLE parent (id INTEGER PRIMARY KEY)"); !r) return r;
    if (auto r = exec_ok(tx, "CREATE TABLE child (parent_id INTEGER REFERENCES parent (id))"); !r) return r;
    return Ok{};
  });
  ASSERT_TRUE(s.ok());
  s = store->transact([](Transaction& tx) { return exec_ok(tx, "INSERT INTO child (parent_id) VALUES (9)"); });
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, Errc::invalid_argument);
}

TEST_F(SqliteStoreTest, WriteLockHeldByAnotherConnectionIsConflict) {
  auto holder = open();
  auto waiter = open(std::chrono::milliseconds(0));
  ASSERT_NE(holder, nullptr);
  ASSERT_NE(waiter, nullptr);
  std::promise<void> started;
  std::promise<void> release;
  std::promise<Status> held;
  holder->post(
      [&](Transaction&) -> Status {
        started.set_value();
        release.get_future().wait();
        return Ok{};
      },
      [&](Status s) { held.set_value(std::move(s)); });
  started.get_future().wait();

  auto s = waiter->transact([](Transaction&) -> Status { return Ok{}; });
  release.set_value();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, Errc::conflict) << s.error().describe();
  EXPECT_TRUE(held.get_future().get().ok());
}

TEST_F(SqliteStoreTest, UnopenablePathIsUnavailable) {
  SqliteSettings s;
  s.path = (dir_ / "missing-dir" / "store.db").string();
  auto r = open_sqlite(s);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::unavailable);
  EXPECT_NE(r.error().message.find("missing-dir"), std::string::npos);
}

// ---- PostgreSQL only ----

class PostgresStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    url_ = testing::require_pg_url();
    ASSERT_FALSE(url_.empty());
    schema_ = testing::unique_name("store_test");
  }
  void TearDown() override {
    auto store = open(1);
    if (store)
      (void)store->transact(
          [&](Transaction& tx) { return exec_ok(tx, "DROP SCHEMA IF EXISTS " + schema_ + " CASCADE"); });
  }

  std::unique_ptr<Store> open(int pool_size, bool prepared_statements = true) {
    PostgresSettings s;
    s.url = url_;
    s.schema = schema_;
    s.pool_size = pool_size;
    s.prepared_statements = prepared_statements;
    auto r = open_postgres(s);
    EXPECT_TRUE(r.ok()) << r.error().describe();
    return r ? std::move(*r) : nullptr;
  }

  std::string url_;
  std::string schema_;
};

TEST_F(PostgresStoreTest, LostConnectionFailsTheJobAndTheNextOneReconnects) {
  auto store = open(1);
  ASSERT_NE(store, nullptr);
  std::string pid_before;
  auto s = store->transact([&](Transaction& tx) -> Status {
    auto pid = tx.exec("SELECT pg_backend_pid()");
    if (!pid) return std::move(pid).error();
    pid_before = *pid->rows[0][0];
    return exec_ok(tx, "SELECT pg_terminate_backend(pg_backend_pid())");
  });
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, Errc::unavailable) << s.error().describe();

  std::string pid_after;
  s = store->transact([&](Transaction& tx) -> Status {
    auto pid = tx.exec("SELECT pg_backend_pid()");
    if (!pid) return std::move(pid).error();
    pid_after = *pid->rows[0][0];
    return Ok{};
  });
  ASSERT_TRUE(s.ok()) << s.error().describe();
  EXPECT_NE(pid_after, pid_before);

  // The new session kept the schema setting.
  auto schema = store->transact([&](Transaction& tx) -> Status {
    auto r = tx.exec("SELECT current_schema()");
    if (!r) return std::move(r).error();
    EXPECT_EQ(r->rows[0][0], schema_);
    return Ok{};
  });
  EXPECT_TRUE(schema.ok());
}

TEST_F(PostgresStoreTest, ConnectionLostWhileIdleIsReplacedBeforeTheNextWork) {
  auto store = open(1);
  auto killer = open(1);
  ASSERT_NE(store, nullptr);
  ASSERT_NE(killer, nullptr);
  auto backend_pid = [&]() -> std::string {
    std::string pid;
    auto s = store->transact([&](Transaction& tx) -> Status {
      auto r = tx.exec("SELECT pg_backend_pid()");
      if (!r) return std::move(r).error();
      pid = *r->rows[0][0];
      return Ok{};
    });
    EXPECT_TRUE(s.ok()) << s.error().describe();
    return pid;
  };
  const std::string before = backend_pid();
  ASSERT_FALSE(before.empty());
  // Waits (up to 10 s) until that backend has exited.
  auto killed = killer->transact([&](Transaction& tx) {
    return exec_ok(tx, "SELECT pg_terminate_backend($1::int, 10000)", {std::stoll(before)});
  });
  ASSERT_TRUE(killed.ok()) << killed.error().describe();

  const std::string after = backend_pid();  // succeeds: no Work had run on the dead session
  EXPECT_FALSE(after.empty());
  EXPECT_NE(after, before);
}

TEST_F(PostgresStoreTest, SqlStatesMapToErrc) {
  auto store = open(1);
  ASSERT_NE(store, nullptr);
  auto raise = [&](const std::string& sqlstate) {
    return store->transact([&](Transaction& tx) {
      return exec_ok(tx, "DO $$ BEGIN RAISE EXCEPTION 'raised' USING ERRCODE = '" + sqlstate + "'; END $$");
    });
  };
  EXPECT_EQ(raise("40001").error().code, Errc::conflict);
  EXPECT_EQ(raise("40P01").error().code, Errc::conflict);
  EXPECT_EQ(raise("23505").error().code, Errc::already_exists);
  EXPECT_EQ(raise("22012").error().code, Errc::invalid_argument);

  auto timed_out = store->transact([](Transaction& tx) -> Status {
    if (auto s = exec_ok(tx, "SET LOCAL statement_timeout = 50"); !s) return s;
    return exec_ok(tx, "SELECT pg_sleep(5)");
  });
  ASSERT_FALSE(timed_out.ok());
  EXPECT_EQ(timed_out.error().code, Errc::timeout) << timed_out.error().describe();
  EXPECT_TRUE(store->ping().ok());
}

// The statements the session has prepared (pg_prepared_statements is per session).
std::vector<std::string> prepared_on(Store& store) {
  std::vector<std::string> out;
  auto s = store.transact([&](Transaction& tx) -> Status {
    auto r = tx.exec("SELECT statement FROM pg_prepared_statements ORDER BY statement");
    if (!r) return std::move(r).error();
    for (const auto& row : r->rows) out.push_back(*row[0]);
    return Ok{};
  });
  EXPECT_TRUE(s.ok()) << s.error().describe();
  return out;
}

TEST_F(PostgresStoreTest, AStatementIsPreparedAtItsSecondUseAndStillReportsItsErrors) {
  auto store = open(1);
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(
      store->transact([](Transaction& tx) { return exec_ok(tx, "CREATE TABLE items (id BIGINT PRIMARY KEY)"); }).ok());
  const std::string insert = "INSERT INTO items (id) VALUES ($1)";
  auto add = [&](std::int64_t id) {
    return store->transact([&](Transaction& tx) { return exec_ok(tx, insert, {id}); });
  };

  ASSERT_TRUE(add(1).ok());
  EXPECT_TRUE(prepared_on(*store).empty());  // a first use runs unnamed
  ASSERT_TRUE(add(2).ok());
  EXPECT_EQ(prepared_on(*store), std::vector<std::string>{insert});
  ASSERT_TRUE(add(3).ok());
  EXPECT_EQ(prepared_on(*store), std::vector<std::string>{insert});

  // A prepared statement's failure is the same error, and the connection
  // goes on with the statement still prepared.
  auto duplicate = add(3);
  ASSERT_FALSE(duplicate.ok());
  EXPECT_EQ(duplicate.error().code, Errc::already_exists) << duplicate.error().describe();
  ASSERT_TRUE(add(4).ok());
  auto count = store->transact([](Transaction& tx) -> Status {
    auto r = tx.exec("SELECT count(*) FROM items WHERE id > $1", {std::int64_t{0}});
    if (!r) return std::move(r).error();
    EXPECT_EQ(r->rows.at(0).at(0), "4");
    return Ok{};
  });
  EXPECT_TRUE(count.ok()) << count.error().describe();

  // A statement that fails to prepare (an unknown table) is an error each
  // time, not a poisoned name.
  for (int i = 0; i < 3; ++i) {
    auto missing = store->transact(
        [](Transaction& tx) { return exec_ok(tx, "SELECT 1 FROM no_such_table WHERE 1 = $1", {std::int64_t{1}}); });
    ASSERT_FALSE(missing.ok());
    EXPECT_NE(missing.error().message.find("no_such_table"), std::string::npos) << missing.error().describe();
  }
  ASSERT_TRUE(add(5).ok());
}

TEST_F(PostgresStoreTest, PreparedStatementsCanBeSwitchedOff) {
  auto store = open(1, /*prepared_statements=*/false);
  ASSERT_NE(store, nullptr);
  for (std::int64_t i = 0; i < 3; ++i)
    ASSERT_TRUE(store->transact([&](Transaction& tx) { return exec_ok(tx, "SELECT $1::bigint + 1", {i}); }).ok());
  EXPECT_TRUE(prepared_on(*store).empty());
}

TEST_F(PostgresStoreTest, ConcurrentMigratorsApplyEachFileOnce) {
  std::vector<Migration> ms = {
      {1, "0001_counter.sql", "CREATE TABLE counter (n BIGINT NOT NULL); INSERT INTO counter VALUES (0);"},
      {2, "0002_bump.sql", "UPDATE counter SET n = n + 1;"},
      {3, "0003_bump.sql", "UPDATE counter SET n = n + 1;"},
  };
  constexpr int kMigrators = 4;
  std::vector<std::unique_ptr<Store>> stores;
  for (int i = 0; i < kMigrators; ++i) stores.push_back(open(1));
  std::vector<std::thread> threads;
  std::vector<std::optional<Result<MigrationReport>>> reports(kMigrators);
  for (int i = 0; i < kMigrators; ++i) threads.emplace_back([&, i] { reports[i].emplace(stores[i]->migrate(ms)); });
  for (auto& t : threads) t.join();

  std::size_t applied = 0;
  for (auto& r : reports) {
    ASSERT_TRUE(r->ok()) << r->error().describe();
    applied += (*r)->applied.size();
  }
  EXPECT_EQ(applied, ms.size());
  std::optional<std::string> n;
  ASSERT_TRUE(stores[0]
                  ->transact([&](Transaction& tx) -> Status {
                    auto r = tx.exec("SELECT n FROM counter");
                    if (!r) return std::move(r).error();
                    n = r->rows.at(0).at(0);
                    return Ok{};
                  })
                  .ok());
  EXPECT_EQ(n, "2");
}

}  // namespace
}  // namespace trueup::store
