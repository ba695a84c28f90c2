// Several workflow engines ("instances", each with its own store connections)
// sharing one PostgreSQL schema: lease takeover after a crash, no duplicate
// step executions under load, and LISTEN/NOTIFY wake-ups.

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <map>
#include <mutex>
#include <thread>

#include "trueup/metrics/registry.hpp"
#include "trueup/store/pg_listener.hpp"
#include "unit/workflow_test_support.hpp"

namespace trueup::workflow {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

Step step(std::string name, StepFunction run) {
  Step s;
  s.name = std::move(name);
  s.run = std::move(run);
  s.timeout = 10s;  // shorter than the lease: a step's lease covers its timeout
  return s;
}

class WorkflowInstancesPg : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = std::make_unique<test::TestDatabase>(test::Db::postgres);
    ASSERT_TRUE(db_->ok());
    store_b_ = db_->open_another();
    ASSERT_NE(store_b_, nullptr);
  }
  void TearDown() override {
    if (store_b_) store_b_->stop();
    store_b_.reset();
    db_.reset();
  }

  std::unique_ptr<test::TestDatabase> db_;
  std::unique_ptr<store::Store> store_b_;
};

// Instance A runs step 1, then "crashes" in step 2 (its call hangs past the
// lease). Instance B takes the lease over and finishes; A's late outcome is
// discarded. Step 1 never runs again; step 2's writes commit once.
TEST_F(WorkflowInstancesPg, ExpiredLeaseIsTakenOverAndTheLateOutcomeDiscarded) {
  ManualClock clock;
  metrics::Registry registry_a, registry_b;
  ExceptionQueue exceptions_a(db_->store(), registry_a, clock);
  ExceptionQueue exceptions_b(*store_b_, registry_b, clock);
  EngineSettings sa;
  sa.instance_id = "instance-a";
  sa.lease = 30s;
  EngineSettings sb = sa;
  sb.instance_id = "instance-b";
  Engine a(db_->store(), exceptions_a, registry_a, clock, sa);
  Engine b(*store_b_, exceptions_b, registry_b, clock, sb);

  db_->exec("CREATE TABLE effects (workflow_id TEXT NOT NULL, step TEXT NOT NULL, instance TEXT NOT NULL)");
  std::mutex mutex;
  std::map<std::string, int> calls;  // step -> executions
  std::promise<void> a_in_step2;
  std::promise<void> release_a;
  auto release_a_future = release_a.get_future().share();

  auto make_type = [&](const std::string& instance) {
    auto effect = [&, instance](StepContext& ctx, const std::string& name) {
      {
        std::lock_guard lock(mutex);
        ++calls[name];
      }
      const std::string id = ctx.workflow_id();
      ctx.on_commit([id, name, instance](store::Transaction& tx) -> Status {
        auto r = tx.exec("INSERT INTO effects VALUES ($1, $2, $3)", {id, name, instance});
        if (!r) return std::move(r).error();
        return Ok{};
      });
    };
    WorkflowType t{"crashy", {}};
    t.steps.push_back(step("one", [=](StepContext& ctx) {
      effect(ctx, "one");
      return StepResult::done();
    }));
    t.steps.push_back(step("two", [=, &a_in_step2](StepContext& ctx) {
      effect(ctx, "two");
      if (instance == "instance-a") {
        a_in_step2.set_value();
        release_a_future.wait();  // hangs until the test lets it finish
      }
      return StepResult::done();
    }));
    t.steps.push_back(step("three", [=](StepContext& ctx) {
      effect(ctx, "three");
      return StepResult::done();
    }));
    return t;
  };
  a.define(make_type("instance-a"));
  b.define(make_type("instance-b"));

  const auto id = test::start(a, db_->store(), "crashy", "order-1", json::object(), "e1").id;
  std::thread a_thread([&] { (void)a.run_due(); });
  a_in_step2.get_future().wait();

  // While A's lease is valid, B finds nothing to do.
  auto none = b.run_due();
  ASSERT_TRUE(none);
  EXPECT_EQ(*none, 0u);
  EXPECT_EQ(db_->scalar("SELECT lease_owner FROM trueup_workflow WHERE id = $1", {id}), "instance-a");

  clock.advance(31s);  // A's lease expires
  auto ran = b.run_due();
  ASSERT_TRUE(ran) << ran.error().describe();
  EXPECT_EQ(*ran, 2u);  // two and three
  EXPECT_EQ(db_->scalar("SELECT state FROM trueup_workflow WHERE id = $1", {id}), "completed");

  release_a.set_value();
  a_thread.join();

  EXPECT_EQ(db_->scalar("SELECT state FROM trueup_workflow WHERE id = $1", {id}), "completed");
  EXPECT_EQ(calls["one"], 1);  // a completed step never runs again
  EXPECT_EQ(calls["two"], 2);  // A's hung call and B's
  EXPECT_EQ(calls["three"], 1);
  // Only recorded outcomes committed their writes: A's late "two" did not.
  EXPECT_EQ(db_->scalar("SELECT COUNT(*) FROM effects WHERE workflow_id = $1", {id}), "3");
  EXPECT_EQ(db_->scalar("SELECT instance FROM effects WHERE step = 'two'"), "instance-b");
  EXPECT_NE(registry_a.render().find("outcome=\"lease_lost\"} 1"), std::string::npos);
}

// Two engines with worker threads process 1000 workflows of two no-op steps:
// every step runs exactly once.
TEST_F(WorkflowInstancesPg, TwoEnginesShareTheWorkWithoutDuplicates) {
  SystemClock clock;
  metrics::Registry registry_a, registry_b;
  ExceptionQueue exceptions_a(db_->store(), registry_a, clock);
  ExceptionQueue exceptions_b(*store_b_, registry_b, clock);
  EngineSettings sa;
  sa.instance_id = "instance-a";
  sa.workers = 3;
  sa.poll_interval = 100ms;
  sa.listen = db_->pg();
  EngineSettings sb = sa;
  sb.instance_id = "instance-b";
  Engine a(db_->store(), exceptions_a, registry_a, clock, sa);
  Engine b(*store_b_, exceptions_b, registry_b, clock, sb);

  std::mutex mutex;
  std::map<std::string, int> calls;  // workflow id + step -> executions
  std::map<std::string, int> by_instance;
  auto type = [&](const std::string& instance) {
    auto count = [&, instance](StepContext& ctx) {
      std::lock_guard lock(mutex);
      ++calls[ctx.workflow_id() + "/" + ctx.step()];
      ++by_instance[instance];
      return StepResult::done();
    };
    return WorkflowType{"noop", {step("first", count), step("second", count)}};
  };
  a.define(type("a"));
  b.define(type("b"));
  ASSERT_TRUE(a.run());
  ASSERT_TRUE(b.run());

  constexpr int kWorkflows = 1000;
  // Start them in batches from both stores, as two intake instances would.
  for (int batch = 0; batch < kWorkflows / 100; ++batch) {
    store::Store& store = batch % 2 == 0 ? db_->store() : *store_b_;
    Engine& engine = batch % 2 == 0 ? a : b;
    auto s = store.transact([&](store::Transaction& tx) -> Status {
      for (int i = 0; i < 100; ++i) {
        auto r =
            engine.start(tx, "noop", "c" + std::to_string(i), json::object(), "m" + std::to_string(batch * 100 + i));
        if (!r) return std::move(r).error();
      }
      return Ok{};
    });
    ASSERT_TRUE(s) << s.error().describe();
  }
  EXPECT_TRUE(test::eventually([&] {
    return db_->scalar("SELECT COUNT(*) FROM trueup_workflow WHERE state = 'completed'") == std::to_string(kWorkflows);
  })) << db_->scalar("SELECT COUNT(*) FROM trueup_workflow WHERE state = 'completed'");
  a.stop();
  b.stop();

  std::lock_guard lock(mutex);
  EXPECT_EQ(calls.size(), 2u * kWorkflows);
  int duplicates = 0;
  for (const auto& [key, n] : calls)
    if (n != 1) ++duplicates;
  EXPECT_EQ(duplicates, 0);
  EXPECT_GT(by_instance["a"], 0);
  EXPECT_GT(by_instance["b"], 0);
  EXPECT_EQ(db_->scalar("SELECT COUNT(*) FROM trueup_workflow WHERE lease_owner IS NOT NULL"), "0");
  std::cout << "[ figures  ] steps by instance: a=" << by_instance["a"] << " b=" << by_instance["b"] << "\n";
}

// With LISTEN/NOTIFY a workflow started elsewhere runs long before the poll
// interval (10 minutes here) would find it.
TEST_F(WorkflowInstancesPg, NotifyWakesAnIdleEngine) {
  SystemClock clock;
  metrics::Registry registry;
  ExceptionQueue exceptions(db_->store(), registry, clock);
  EngineSettings s;
  s.instance_id = "listener";
  s.workers = 1;
  s.poll_interval = 600s;
  s.listen = db_->pg();
  Engine engine(db_->store(), exceptions, registry, clock, s);
  std::atomic<int> calls{0};
  engine.define({"woken", {step("a", [&](StepContext&) {
                   ++calls;
                   return StepResult::done();
                 })}});
  // A second engine object only to start workflows through the other store:
  // its wake() reaches none of the listener's workers.
  metrics::Registry other_registry;
  ExceptionQueue other_exceptions(*store_b_, other_registry, clock);
  Engine starter(*store_b_, other_exceptions, other_registry, clock, s);
  starter.define({"woken", {step("a", [](StepContext&) { return StepResult::done(); })}});

  ASSERT_TRUE(engine.run());
  test::start(starter, *store_b_, "woken", "c", json::object(), "d1");
  EXPECT_TRUE(test::eventually([&] { return calls.load() == 1; }, 30s));
  // The worker now claims once more, finds nothing and waits for the poll
  // interval. Not synchronisation: this only gives it time to go idle, so the
  // next workflow can only be found through NOTIFY.
  std::this_thread::sleep_for(300ms);
  test::start(starter, *store_b_, "woken", "c", json::object(), "d2");
  EXPECT_TRUE(test::eventually([&] { return calls.load() == 2; }, 30s));
  engine.stop();
}

// The listener on its own: notifications arrive with their payload.
TEST_F(WorkflowInstancesPg, ListenerDeliversNotifications) {
  std::mutex mutex;
  std::vector<std::string> payloads;
  store::PgListenerSettings ls;
  ls.connection = db_->pg();
  ls.channels = {"trueup_test_channel"};
  auto listener = store::start_pg_listener(ls, [&](std::string_view channel, std::string_view payload) {
    std::lock_guard lock(mutex);
    payloads.push_back(std::string(channel) + ":" + std::string(payload));
  });
  ASSERT_TRUE(listener) << listener.error().describe();
  EXPECT_TRUE((*listener)->connected());
  db_->exec("SELECT pg_notify('trueup_test_channel', 'hello')");
  EXPECT_TRUE(test::eventually(
      [&] {
        std::lock_guard lock(mutex);
        return !payloads.empty();
      },
      30s));
  (*listener)->stop();
  std::lock_guard lock(mutex);
  ASSERT_EQ(payloads.size(), 1u);
  EXPECT_EQ(payloads[0], "trueup_test_channel:hello");

  ls.channels = {"Bad-Name"};
  auto bad = store::start_pg_listener(ls, {});
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, Errc::invalid_argument);
}

}  // namespace
}  // namespace trueup::workflow
