// The workflow engine on both store engines: Sqlite/... (a temp file; label
// unit) and Postgres/... (a fresh schema of TRUEUP_TEST_PG_URL; label pg, run
// from tests/pg). Time is a ManualClock and steps run through run_due() on the
// test's thread, so retries, timers and timeouts need no sleeping.

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <string>
#include <vector>

#include "trueup/metrics/registry.hpp"
#include "workflow_test_support.hpp"

namespace trueup::workflow {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using test::Db;

ExceptionFilter exception_filter(std::optional<std::string> kind, std::optional<std::string> state = std::nullopt) {
  ExceptionFilter f;
  f.kind = std::move(kind);
  f.state = std::move(state);
  return f;
}

WorkflowFilter workflow_filter(std::optional<State> state, std::optional<std::string> type = std::nullopt,
                               std::optional<std::string> correlation = std::nullopt, std::size_t limit = 100,
                               std::optional<std::string> cursor = std::nullopt) {
  WorkflowFilter f;
  f.state = state;
  f.type = std::move(type);
  f.correlation_key = std::move(correlation);
  f.limit = limit;
  f.cursor = std::move(cursor);
  return f;
}

class WorkflowEngineTest : public ::testing::TestWithParam<Db> {
 protected:
  void SetUp() override {
    db_ = std::make_unique<test::TestDatabase>(GetParam());
    ASSERT_TRUE(db_->ok());
    exceptions_ = std::make_unique<ExceptionQueue>(db_->store(), registry_, clock_);
    settings_.instance_id = "test-instance";
    settings_.step_log_limit = 50;
  }

  void TearDown() override {
    engine_.reset();
    exceptions_.reset();
    db_.reset();
  }

  Engine& engine() {
    if (!engine_) engine_ = std::make_unique<Engine>(db_->store(), *exceptions_, registry_, clock_, settings_);
    return *engine_;
  }

  std::size_t run_due() {
    auto r = engine().run_due();
    EXPECT_TRUE(r) << r.error().describe();
    return r ? *r : 0;
  }

  std::string start(const std::string& type, const std::string& correlation = "order-1",
                    const json& input = json::object(), const std::string& dedupe = "") {
    auto s = test::start(engine(), db_->store(), type, correlation, input,
                         dedupe.empty() ? "dedupe-" + std::to_string(++starts_) : dedupe);
    return s.id;
  }

  WorkflowDetail get(const std::string& id) {
    auto r = engine().get(id);
    EXPECT_TRUE(r) << r.error().describe();
    return r ? *r : WorkflowDetail{};
  }

  State state(const std::string& id) { return get(id).summary.state; }

  std::int64_t open_exceptions(const std::string& workflow_id) {
    return std::stoll(db_->scalar(
        "SELECT COUNT(*) FROM trueup_exception WHERE ref_type = 'workflow' AND ref_id = $1 AND state = 'open'",
        {workflow_id}));
  }

  static Step step(std::string name, StepFunction run, StepFunction compensate = {}) {
    Step s;
    s.name = std::move(name);
    s.run = std::move(run);
    s.compensate = std::move(compensate);
    return s;
  }

  static StepResult noop(StepContext&) { return StepResult::done(); }

  // "a_sealer" sorts before "b_document" in a group, so its on_commit
  // signals the document after the group read (and locked) the document's
  // row, or, with `signalled_from_steps`, before the group reads it at its
  // turn.
  void define_sealer_and_document(bool signalled_from_steps) {
    engine().define({"a_sealer", {step("seal", [this](StepContext& ctx) -> StepResult {
                       ctx.on_commit([this](store::Transaction& tx) -> Status {
                         auto n = engine().signal(tx, "doc-1", "sealed", json::object());
                         if (!n) return std::move(n).error();
                         return *n == 1 ? Status(Ok{}) : make_error(Errc::internal, "the document was not signalled");
                       });
                       return StepResult::done();
                     })}});
    WorkflowType document{"b_document", {step("close", noop)}};
    document.signalled_from_steps = signalled_from_steps;
    engine().define(document);
  }

  std::unique_ptr<test::TestDatabase> db_;
  metrics::Registry registry_;
  ManualClock clock_;
  EngineSettings settings_;
  std::unique_ptr<ExceptionQueue> exceptions_;
  std::unique_ptr<Engine> engine_;
  int starts_ = 0;
};

TEST_P(WorkflowEngineTest, RetryableFailuresThenSuccessCompletes) {
  int calls = 0;
  std::vector<int> attempts;
  std::vector<std::string> keys;
  engine().define({"flaky",
                   {step("call_erp",
                         [&](StepContext& ctx) -> StepResult {
                           ++calls;
                           attempts.push_back(ctx.attempt());
                           keys.push_back(ctx.idempotency_key());
                           if (calls <= 3) return make_error(Errc::unavailable, "ERP answered 503");
                           ctx.context()["posted"] = true;
                           return StepResult::done();
                         }),
                    step("after", noop)}});
  const auto id = start("flaky");

  EXPECT_EQ(run_due(), 1u);
  auto d = get(id);
  EXPECT_EQ(d.summary.state, State::retrying);
  EXPECT_EQ(d.summary.attempt, 1);
  ASSERT_TRUE(d.summary.due_at);
  EXPECT_EQ(*d.summary.due_at, clock_.now() + 1s);  // the default policy: 1 s, x2
  ASSERT_TRUE(d.summary.last_error);
  EXPECT_NE(d.summary.last_error->find("ERP answered 503"), std::string::npos);

  EXPECT_EQ(run_due(), 0u);  // not due yet
  clock_.advance(1s);
  EXPECT_EQ(run_due(), 1u);
  clock_.advance(1999ms);
  EXPECT_EQ(run_due(), 0u);
  clock_.advance(1ms);
  EXPECT_EQ(run_due(), 1u);
  clock_.advance(4s);
  EXPECT_EQ(run_due(), 2u);  // succeeds, then "after" runs at once

  d = get(id);
  EXPECT_EQ(d.summary.state, State::completed);
  EXPECT_EQ(calls, 4);
  EXPECT_EQ(attempts, (std::vector<int>{1, 2, 3, 4}));
  for (const auto& k : keys) EXPECT_EQ(k, id + ":call_erp");  // stable across attempts
  EXPECT_EQ(d.context, (json{{"posted", true}}));
  ASSERT_EQ(d.steps.size(), 5u);
  EXPECT_EQ(d.steps[0].outcome, "retry");
  EXPECT_EQ(d.steps[3].outcome, "done");
  EXPECT_EQ(d.steps[4].step, "after");
  EXPECT_EQ(open_exceptions(id), 0);
}

TEST_P(WorkflowEngineTest, ExhaustedRetriesCompensateAndOpenAnException) {
  settings_.retry_overrides["give_up.call"] = RetryPolicy{10ms, 2.0, 1s, 3};
  std::vector<std::string> undone;
  engine().define({"give_up",
                   {step("reserve", noop,
                         [&](StepContext& ctx) {
                           undone.push_back(ctx.step());
                           return StepResult::done();
                         }),
                    step("call", [](StepContext&) -> StepResult { return make_error(Errc::timeout, "no answer"); })}});
  const auto id = start("give_up");
  for (int i = 0; i < 5; ++i) {
    run_due();
    clock_.advance(1s);
  }
  auto d = get(id);
  EXPECT_EQ(d.summary.state, State::compensated);
  EXPECT_EQ(undone, (std::vector<std::string>{"reserve"}));
  ASSERT_TRUE(d.summary.last_error);
  EXPECT_NE(d.summary.last_error->find("gave up after 3 attempts"), std::string::npos) << *d.summary.last_error;
  EXPECT_EQ(open_exceptions(id), 1);
}

TEST_P(WorkflowEngineTest, PermanentFailureCompensatesInReverseAndOpensOneException) {
  std::vector<std::string> order;
  std::vector<std::string> keys;
  auto undo = [&](StepContext& ctx) {
    order.push_back(ctx.step());
    keys.push_back(ctx.idempotency_key());
    return StepResult::done();
  };
  engine().define({"order_sync",
                   {step("reserve_stock", noop, undo), step("no_undo", noop), step("post_invoice", noop, undo),
                    step("notify_erp", [](StepContext&) -> StepResult {
                      return make_error(Errc::invalid_argument, "ERP rejected the SKU ABC-1");
                    })}});
  const auto id = start("order_sync", "order-42");
  run_due();

  auto d = get(id);
  EXPECT_EQ(d.summary.state, State::compensated);
  EXPECT_EQ(order, (std::vector<std::string>{"post_invoice", "reserve_stock"}));
  EXPECT_EQ(keys, (std::vector<std::string>{id + ":post_invoice:compensate", id + ":reserve_stock:compensate"}));
  ASSERT_TRUE(d.summary.failed_step);
  EXPECT_EQ(*d.summary.failed_step, "notify_erp");

  EXPECT_EQ(open_exceptions(id), 1);
  auto page = exceptions_->list(exception_filter("workflow_failed", "open"));
  ASSERT_TRUE(page);
  ASSERT_EQ(page->items.size(), 1u);
  const auto& e = page->items[0];
  EXPECT_EQ(e.refers_to.type, "workflow");
  EXPECT_EQ(e.refers_to.id, id);
  EXPECT_NE(e.reason.find("ERP rejected the SKU ABC-1"), std::string::npos) << e.reason;
  EXPECT_NE(e.reason.find("notify_erp"), std::string::npos) << e.reason;
  EXPECT_NE(e.reason.find("order-42"), std::string::npos) << e.reason;

  // Nothing more happens, and no second exception appears.
  clock_.advance(1h);
  EXPECT_EQ(run_due(), 0u);
  EXPECT_EQ(std::stoll(db_->scalar("SELECT COUNT(*) FROM trueup_exception")), 1);
}

TEST_P(WorkflowEngineTest, FailingCompensationEndsFailedWithACriticalException) {
  settings_.retry_overrides["bad_undo"] = RetryPolicy{10ms, 1.0, 10ms, 2};
  engine().define(
      {"bad_undo",
       {step("a", noop,
             [](StepContext&) -> StepResult { return make_error(Errc::unavailable, "cannot release stock"); }),
        step("b", [](StepContext&) -> StepResult { return make_error(Errc::invalid_argument, "bad order"); })}});
  const auto id = start("bad_undo");
  run_due();
  clock_.advance(1s);
  run_due();
  auto d = get(id);
  EXPECT_EQ(d.summary.state, State::failed);
  auto e = exceptions_->list(exception_filter("workflow_failed"));
  ASSERT_TRUE(e);
  ASSERT_EQ(e->items.size(), 1u);
  EXPECT_EQ(e->items[0].severity, "critical");
  EXPECT_NE(e->items[0].reason.find("cannot release stock"), std::string::npos) << e->items[0].reason;
}

TEST_P(WorkflowEngineTest, RetryThroughAdminApiAfterTheCauseIsRemovedCompletes) {
  bool broken = true;
  std::vector<std::string> keys;
  engine().define({"fixable", {step("first", noop, noop), step("second", [&](StepContext& ctx) -> StepResult {
                                 keys.push_back(ctx.idempotency_key());
                                 if (broken) return make_error(Errc::invalid_argument, "location L9 is not mapped");
                                 return StepResult::done();
                               })}});
  const auto id = start("fixable");
  run_due();
  EXPECT_EQ(state(id), State::compensated);
  EXPECT_EQ(open_exceptions(id), 1);

  // Retrying a finished workflow is refused with a clear message.
  auto refused = engine().pause(id);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, Errc::conflict);
  EXPECT_NE(refused.error().message.find("compensated"), std::string::npos);

  broken = false;
  auto retried = engine().retry(id);
  ASSERT_TRUE(retried) << retried.error().describe();
  EXPECT_EQ(retried->state, State::pending);
  EXPECT_EQ(retried->run, 2);
  run_due();
  EXPECT_EQ(state(id), State::completed);
  // Starting over changed the idempotency key.
  EXPECT_EQ(keys, (std::vector<std::string>{id + ":second", id + ":second:r2"}));
  // The workflow's own completion resolved the exception left open.
  EXPECT_EQ(open_exceptions(id), 0);
  auto e = exceptions_->list(exception_filter("workflow_failed"));
  ASSERT_TRUE(e);
  ASSERT_EQ(e->items.size(), 1u);
  EXPECT_EQ(e->items[0].state, "resolved");
  EXPECT_EQ(*e->items[0].resolved_by, "trueup");

  auto again = engine().retry(id);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, Errc::conflict);
}

TEST_P(WorkflowEngineTest, RetryThroughTheExceptionQueue) {
  bool broken = true;
  engine().define({"via_exception", {step("only", [&](StepContext&) -> StepResult {
                     if (broken) return make_error(Errc::invalid_argument, "SKU X-1 unknown");
                     return StepResult::done();
                   })}});
  const auto id = start("via_exception");
  run_due();
  auto open = exceptions_->list(exception_filter("workflow_failed", "open"));
  ASSERT_TRUE(open);
  ASSERT_EQ(open->items.size(), 1u);
  const auto exception_id = open->items[0].id;

  broken = false;
  clock_.advance(90s);
  auto r = exceptions_->retry(exception_id, "alice", "SKU X-1 mapped");
  ASSERT_TRUE(r) << r.error().describe();
  EXPECT_EQ(r->state, "resolved");
  EXPECT_EQ(*r->resolution, "retry");
  EXPECT_EQ(*r->resolved_by, "alice");
  EXPECT_EQ(state(id), State::pending);
  run_due();
  EXPECT_EQ(state(id), State::completed);
  EXPECT_NE(registry_.render().find("trueup_exception_resolution_seconds_count 1"), std::string::npos);
}

TEST_P(WorkflowEngineTest, OnCommitWritesAreAtomicWithStepCompletion) {
  db_->exec("CREATE TABLE wf_outbox_test (workflow_id TEXT NOT NULL, note TEXT NOT NULL)");
  int calls = 0;
  engine().define({"atomic",
                   {step("emit",
                         [&](StepContext& ctx) -> StepResult {
                           ++calls;
                           ctx.context()["calls"] = calls;
                           const std::string id = ctx.workflow_id();
                           ctx.on_commit([id](store::Transaction& tx) -> Status {
                             auto r = tx.exec("INSERT INTO wf_outbox_test VALUES ($1, 'event')", {id});
                             if (!r) return std::move(r).error();
                             return Ok{};
                           });
                           if (calls == 1) {
                             ctx.on_commit([](store::Transaction&) -> Status {
                               return make_error(Errc::unavailable, "outbox full");
                             });
                           }
                           return StepResult::done();
                         }),
                    step("next", noop)}});
  const auto id = start("atomic");
  EXPECT_EQ(run_due(), 1u);
  // The failing write rolled back the step's completion and its other write.
  auto d = get(id);
  EXPECT_EQ(d.summary.state, State::retrying);
  EXPECT_EQ(d.context, json::object());
  EXPECT_EQ(db_->scalar("SELECT COUNT(*) FROM wf_outbox_test"), "0");
  ASSERT_EQ(d.steps.size(), 1u);
  ASSERT_TRUE(d.steps[0].error);
  EXPECT_NE(d.steps[0].error->find("outbox full"), std::string::npos);

  clock_.advance(1s);
  run_due();
  d = get(id);
  EXPECT_EQ(d.summary.state, State::completed);
  EXPECT_EQ(d.context, (json{{"calls", 2}}));
  EXPECT_EQ(db_->scalar("SELECT COUNT(*) FROM wf_outbox_test"), "1");
}

TEST_P(WorkflowEngineTest, AFailingOnCommitInAGroupCommitAffectsOnlyItsOwnStep) {
  db_->exec("CREATE TABLE wf_outbox_test (workflow_id TEXT NOT NULL)");
  engine().define(
      {"grouped", {step("emit", [&](StepContext& ctx) -> StepResult {
         const std::string id = ctx.workflow_id();
         const bool fail = ctx.input().value("fail", false) && ctx.attempt() == 1;
         ctx.on_commit([id, fail](store::Transaction& tx) -> Status {
           // A failing SQL write aborts the whole group transaction.
           auto r =
               tx.exec(fail ? "INSERT INTO no_such_table VALUES ($1)" : "INSERT INTO wf_outbox_test VALUES ($1)", {id});
           if (!r) return std::move(r).error();
           return Ok{};
         });
         return StepResult::done();
       })}});
  const auto ok1 = start("grouped", "a", json{{"fail", false}});
  const auto bad = start("grouped", "b", json{{"fail", true}});
  const auto ok2 = start("grouped", "c", json{{"fail", false}});
  EXPECT_EQ(run_due(), 3u);
  EXPECT_EQ(state(ok1), State::completed);
  EXPECT_EQ(state(ok2), State::completed);
  // A missing table is a permanent error: that workflow alone fails.
  EXPECT_EQ(state(bad), State::compensated);
  EXPECT_NE(get(bad).summary.last_error->find("no_such_table"), std::string::npos);
  EXPECT_EQ(db_->scalar("SELECT COUNT(*) FROM wf_outbox_test"), "2");
  EXPECT_EQ(db_->scalar("SELECT COUNT(*) FROM wf_outbox_test WHERE workflow_id = $1", {bad}), "0");
}

TEST_P(WorkflowEngineTest, StartDeduplicatesAndJoinsTheCallersTransaction) {
  engine().define({"dedupe", {step("a", noop)}});
  auto first = test::start(engine(), db_->store(), "dedupe", "sku-1", json{{"n", 1}}, "event-7");
  auto second = test::start(engine(), db_->store(), "dedupe", "sku-1", json{{"n", 2}}, "event-7");
  EXPECT_TRUE(first.created);
  EXPECT_FALSE(second.created);
  EXPECT_EQ(first.id, second.id);
  EXPECT_EQ(db_->scalar("SELECT COUNT(*) FROM trueup_workflow"), "1");
  EXPECT_EQ(get(first.id).input, (json{{"n", 1}}));

  // A rolled-back caller transaction leaves no workflow behind.
  auto s = db_->store().transact([&](store::Transaction& tx) -> Status {
    auto r = engine().start(tx, "dedupe", "sku-2", json::object(), "event-8");
    if (!r) return std::move(r).error();
    return make_error(Errc::invalid_argument, "intake rejected");
  });
  EXPECT_FALSE(s);
  EXPECT_EQ(db_->scalar("SELECT COUNT(*) FROM trueup_workflow"), "1");

  auto unknown = db_->store().transact([&](store::Transaction& tx) -> Status {
    auto r = engine().start(tx, "no_such_type", "x", json::object(), "y");
    if (!r) return std::move(r).error();
    return Ok{};
  });
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code, Errc::invalid_argument);
}

TEST_P(WorkflowEngineTest, StartBatchCreatesEachKeyOnceAndRunsThem) {
  std::atomic<int> runs{0};
  engine().define({"batched", {step("a", [&](StepContext&) {
                     ++runs;
                     return StepResult::done();
                   })}});
  auto existing = test::start(engine(), db_->store(), "batched", "sku-0", json{{"n", 0}}, "event-0");
  std::vector<StartRequest> batch{{"batched", "sku-2", R"({"n":2})", "event-2"},
                                  {"batched", "sku-0", R"({"n":9})", "event-0"},
                                  {"batched", "sku-1", R"({"n":1})", "event-1"},
                                  {"batched", "sku-2", R"({"n":3})", "event-2"}};
  std::vector<Started> started;
  auto s = db_->store().transact([&](store::Transaction& tx) -> Status {
    auto r = engine().start_batch(tx, batch);
    if (!r) return std::move(r).error();
    started = *r;
    return Ok{};
  });
  ASSERT_TRUE(s) << s.error().describe();
  ASSERT_EQ(started.size(), 4u);
  EXPECT_TRUE(started[0].created);
  EXPECT_FALSE(started[1].created);
  EXPECT_EQ(started[1].id, existing.id);
  EXPECT_TRUE(started[2].created);
  EXPECT_FALSE(started[3].created);
  EXPECT_EQ(started[3].id, started[0].id);
  EXPECT_EQ(get(started[0].id).input, (json{{"n", 2}}));
  EXPECT_EQ(get(started[2].id).summary.correlation_key, "sku-1");
  EXPECT_EQ(db_->scalar("SELECT COUNT(*) FROM trueup_workflow"), "3");
  while (run_due() > 0) {
  }
  EXPECT_EQ(runs.load(), 3);
  EXPECT_EQ(state(started[0].id), State::completed);
}

TEST_P(WorkflowEngineTest, SignalWakesAWaitingWorkflow) {
  std::vector<bool> timed_out;
  engine().define({"await_erp",
                   {step("wait_confirmation",
                         [&](StepContext& ctx) -> StepResult {
                           timed_out.push_back(ctx.wait_timed_out());
                           if (auto s = ctx.signal("erp_confirmed")) {
                             ctx.context()["erp_document"] = (*s)["document"];
                             return StepResult::done();
                           }
                           return StepResult::wait_for_signal("erp_confirmed");
                         }),
                    step("after", noop)}});
  const auto id = start("await_erp", "order-9");
  EXPECT_EQ(run_due(), 1u);
  auto d = get(id);
  EXPECT_EQ(d.summary.state, State::waiting);
  ASSERT_TRUE(d.summary.waiting_for);
  EXPECT_EQ(*d.summary.waiting_for, "erp_confirmed");
  clock_.advance(24h);
  EXPECT_EQ(run_due(), 0u);  // no timeout: waits for ever

  EXPECT_EQ(test::signal(engine(), db_->store(), "order-other", "erp_confirmed", json::object()), 0u);
  EXPECT_EQ(run_due(), 0u);
  EXPECT_EQ(test::signal(engine(), db_->store(), "order-9", "something_else", json::object()), 1u);
  EXPECT_EQ(run_due(), 0u);  // not the signal it waits for
  EXPECT_EQ(test::signal(engine(), db_->store(), "order-9", "erp_confirmed", json{{"document", "SO-77"}}), 1u);
  EXPECT_EQ(run_due(), 2u);

  d = get(id);
  EXPECT_EQ(d.summary.state, State::completed);
  EXPECT_EQ(d.context["erp_document"], "SO-77");
  EXPECT_EQ(timed_out, (std::vector<bool>{false, false}));
  EXPECT_EQ(db_->scalar("SELECT COUNT(*) FROM trueup_workflow_signal"), "0");
  // Completed workflows receive no signals.
  EXPECT_EQ(test::signal(engine(), db_->store(), "order-9", "erp_confirmed", json::object()), 0u);
}

TEST_P(WorkflowEngineTest, SignalArrivingBeforeTheWaitIsKept) {
  engine().define({"early",
                   {step("prepare", [&](StepContext&) -> StepResult { return StepResult::done(); }),
                    step("wait", [&](StepContext& ctx) -> StepResult {
                      if (ctx.signal("shipped")) return StepResult::done();
                      return StepResult::wait_for_signal("shipped");
                    })}});
  const auto id = start("early", "order-3");
  EXPECT_EQ(test::signal(engine(), db_->store(), "order-3", "shipped", json::object()), 1u);
  run_due();
  EXPECT_EQ(state(id), State::completed);
}

TEST_P(WorkflowEngineTest, SignalArrivingWhileTheStepRunsIsNotLost) {
  int calls = 0;
  engine().define({"racy", {step("wait", [&](StepContext& ctx) -> StepResult {
                     ++calls;
                     if (ctx.signal("confirmed")) return StepResult::done();
                     // The ERP confirms while this call is still running.
                     if (calls == 1) test::signal(engine(), db_->store(), "order-r", "confirmed", json::object());
                     return StepResult::wait_for_signal("confirmed");
                   })}});
  const auto id = start("racy", "order-r");
  EXPECT_EQ(run_due(), 2u);  // waits, is due again at once, consumes the signal
  EXPECT_EQ(state(id), State::completed);
  EXPECT_EQ(calls, 2);
}

TEST_P(WorkflowEngineTest, ASignalFromAStepOfTheSameGroupIsCountedAndCleared) {
  for (const bool at_its_turn : {false, true}) {
    SCOPED_TRACE(at_its_turn ? "document read at its turn" : "document read with the group");
    engine_.reset();
    define_sealer_and_document(at_its_turn);
    const auto sealer = start("a_sealer", at_its_turn ? "order-2" : "order-1");
    const auto document = start("b_document", "doc-1");
    EXPECT_EQ(run_due(), 2u);
    EXPECT_EQ(state(sealer), State::completed);
    EXPECT_EQ(state(document), State::completed);
    // Completed with the signal counted, so its row went with it.
    EXPECT_EQ(db_->scalar("SELECT COUNT(*) FROM trueup_workflow_signal WHERE workflow_id = $1", {document}), "0");
    EXPECT_EQ(db_->scalar("SELECT pending_signals FROM trueup_workflow WHERE id = $1", {document}), "0");
  }
}

TEST_P(WorkflowEngineTest, SignalTimeoutRunsTheStepAgain) {
  engine().define({"timeout", {step("wait", [&](StepContext& ctx) -> StepResult {
                     if (ctx.signal("paid")) return StepResult::done();
                     if (ctx.wait_timed_out()) return make_error(Errc::invalid_argument, "not paid within 10 minutes");
                     return StepResult::wait_for_signal("paid", 10min);
                   })}});
  const auto id = start("timeout");
  run_due();
  EXPECT_EQ(state(id), State::waiting);
  clock_.advance(9min);
  EXPECT_EQ(run_due(), 0u);
  clock_.advance(1min);
  EXPECT_EQ(run_due(), 1u);
  EXPECT_EQ(state(id), State::compensated);
  EXPECT_NE(get(id).summary.last_error->find("not paid within 10 minutes"), std::string::npos);
}

TEST_P(WorkflowEngineTest, TimersRunTheStepAtTheirTime) {
  TimePoint woke{};
  engine().define({"timer", {step("settle_later", [&](StepContext& ctx) -> StepResult {
                     if (!ctx.context().contains("wake_at")) {
                       const auto at = ctx.now() + 1h;
                       ctx.context()["wake_at"] = epoch_ms(at);
                       return StepResult::sleep_until(at);
                     }
                     woke = ctx.now();
                     return StepResult::done();
                   })}});
  const auto id = start("timer");
  const auto t0 = clock_.now();
  run_due();
  EXPECT_EQ(state(id), State::waiting);
  clock_.advance(59min);
  EXPECT_EQ(run_due(), 0u);
  clock_.advance(1min);
  EXPECT_EQ(run_due(), 1u);
  EXPECT_EQ(state(id), State::completed);
  EXPECT_EQ(woke, t0 + 1h);
}

TEST_P(WorkflowEngineTest, StepLongerThanItsTimeoutCountsAsATimeout) {
  Step slow = step("slow", [&](StepContext& ctx) -> StepResult {
    if (ctx.attempt() == 1) clock_.advance(2s);  // "takes" 2 s
    return StepResult::done();
  });
  slow.timeout = 1s;
  engine().define({"slow", {slow}});
  const auto id = start("slow");
  run_due();
  auto d = get(id);
  EXPECT_EQ(d.summary.state, State::retrying);
  ASSERT_TRUE(d.steps[0].error);
  EXPECT_NE(d.steps[0].error->find("timeout"), std::string::npos);
  clock_.advance(1s);
  run_due();
  EXPECT_EQ(state(id), State::completed);
}

TEST_P(WorkflowEngineTest, PauseResumeAndCancel) {
  std::vector<std::string> undone;
  engine().define({"operable",
                   {step("reserve", noop,
                         [&](StepContext& ctx) {
                           undone.push_back(ctx.step());
                           return StepResult::done();
                         }),
                    step("await", [](StepContext& ctx) -> StepResult {
                      if (ctx.signal("go")) return StepResult::done();
                      return StepResult::wait_for_signal("go");
                    })}});
  const auto a = start("operable", "order-a");
  const auto b = start("operable", "order-b");
  run_due();
  EXPECT_EQ(state(a), State::waiting);

  auto p = engine().pause(a);
  ASSERT_TRUE(p) << p.error().describe();
  EXPECT_EQ(p->state, State::paused);
  EXPECT_EQ(test::signal(engine(), db_->store(), "order-a", "go", json::object()), 1u);
  EXPECT_EQ(run_due(), 0u);  // paused: the signal is kept, nothing runs
  EXPECT_EQ(state(a), State::paused);

  auto bad = engine().resume(b);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, Errc::conflict);
  EXPECT_NE(bad.error().message.find("only paused"), std::string::npos) << bad.error().message;

  auto r = engine().resume(a);
  ASSERT_TRUE(r) << r.error().describe();
  EXPECT_EQ(r->state, State::pending);
  EXPECT_EQ(run_due(), 1u);
  EXPECT_EQ(state(a), State::completed);

  auto c = engine().cancel(b);
  ASSERT_TRUE(c) << c.error().describe();
  EXPECT_EQ(c->phase, "compensating");
  run_due();
  EXPECT_EQ(state(b), State::cancelled);
  EXPECT_EQ(undone, (std::vector<std::string>{"reserve"}));
  EXPECT_EQ(open_exceptions(b), 0);  // a cancel is no failure

  auto again = engine().cancel(b);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, Errc::conflict);
  auto missing = engine().pause("no-such-id");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, Errc::not_found);
}

TEST_P(WorkflowEngineTest, CancelBeforeAnyStepEndsCancelledAtOnce) {
  engine().define({"quick_cancel", {step("a", noop, noop)}});
  const auto id = start("quick_cancel");
  auto c = engine().cancel(id);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->state, State::cancelled);
  EXPECT_EQ(run_due(), 0u);
}

TEST_P(WorkflowEngineTest, ExpiredLeaseIsTakenOver) {
  settings_.lease = 30s;
  int calls = 0;
  engine().define({"takeover", {step("a", [&](StepContext&) {
                     ++calls;
                     return StepResult::done();
                   })}});
  const auto id = start("takeover");
  // Another instance claimed it and died.
  const auto until = epoch_ms(clock_.now() + 30s);
  db_->exec(
      "UPDATE trueup_workflow SET state = 'running', lease_owner = 'dead-instance', lease_until = $2, due_at = $2, "
      "lease_token = lease_token + 1 WHERE id = $1",
      {id, until});
  EXPECT_EQ(run_due(), 0u);
  clock_.advance(30s);
  EXPECT_EQ(run_due(), 1u);
  EXPECT_EQ(state(id), State::completed);
  EXPECT_EQ(calls, 1);
}

TEST_P(WorkflowEngineTest, ALeaseLostInAGroupDiscardsOnlyThatOutcome) {
  engine().define({"grouped", {step("a", [&](StepContext& ctx) -> StepResult {
                     // Another instance takes this one over while its step runs.
                     if (ctx.input().value("taken", false))
                       db_->exec(
                           "UPDATE trueup_workflow SET lease_owner = 'other', lease_token = -1 "
                           "WHERE id = $1",
                           {ctx.workflow_id()});
                     return StepResult::done();
                   })}});
  const auto ok1 = start("grouped", "a");
  const auto taken = start("grouped", "b", json{{"taken", true}});
  const auto ok2 = start("grouped", "c");
  EXPECT_EQ(run_due(), 3u);
  EXPECT_EQ(state(ok1), State::completed);
  EXPECT_EQ(state(ok2), State::completed);
  // The outcome of the one taken over is not recorded: its row and step log
  // are as the other instance left them.
  EXPECT_EQ(db_->scalar("SELECT lease_owner FROM trueup_workflow WHERE id = $1", {taken}), "other");
  EXPECT_EQ(state(taken), State::running);
  EXPECT_EQ(db_->scalar("SELECT COUNT(*) FROM trueup_workflow_step WHERE workflow_id = $1", {taken}), "0");
  for (const auto& id : {ok1, ok2}) {
    auto d = get(id);
    ASSERT_EQ(d.steps.size(), 1u) << id;
    EXPECT_EQ(d.steps[0].outcome, "done");
  }
}

TEST_P(WorkflowEngineTest, AClaimLostToADatabaseCrashIsALostLease) {
  // Claims commit without waiting for their WAL flush: after a crash the row
  // may show the lease before the claim. Whoever claims it next must not
  // write the lost claim's token again, or the first holder's late outcome
  // would be recorded as well as the second's.
  int calls = 0;
  std::string before;
  std::unique_ptr<Engine> other;
  const auto define = [&](Engine& e) {
    e.define({"crashy", {step("a", [&](StepContext& ctx) -> StepResult {
                if (++calls == 1) {
                  // The crash: the claim that is running this call is lost...
                  db_->exec(
                      "UPDATE trueup_workflow SET state = 'pending', lease_owner = NULL, lease_until = NULL, "
                      "due_at = $2, lease_token = $3 WHERE id = $1",
                      {ctx.workflow_id(), epoch_ms(clock_.now()), std::stoll(before)});
                  // ...and another instance claims the row and completes the step.
                  auto r = other->run_due();
                  EXPECT_TRUE(r && *r == 1u);
                }
                return StepResult::done();
              })}});
  };
  auto other_settings = settings_;
  other_settings.instance_id = "other-instance";
  other = std::make_unique<Engine>(db_->store(), *exceptions_, registry_, clock_, other_settings);
  define(engine());
  define(*other);
  const auto id = start("crashy");
  before = db_->scalar("SELECT lease_token FROM trueup_workflow WHERE id = $1", {id});
  EXPECT_EQ(run_due(), 1u);
  EXPECT_EQ(calls, 2);
  // Recorded once: the other instance's outcome; the first one's was discarded.
  auto d = get(id);
  EXPECT_EQ(d.summary.state, State::completed);
  ASSERT_EQ(d.steps.size(), 1u);
  EXPECT_EQ(d.steps[0].outcome, "done");
  other.reset();
}

TEST_P(WorkflowEngineTest, AnErrorTextWithANulIsLoggedWithoutIt) {
  int calls = 0;
  engine().define({"nul", {step("a", [&](StepContext&) -> StepResult {
                     if (++calls == 1) return make_error(Errc::unavailable, std::string("bad\0byte", 8));
                     return StepResult::done();
                   })}});
  const auto id = start("nul");
  EXPECT_EQ(run_due(), 1u);
  auto d = get(id);
  EXPECT_EQ(d.summary.state, State::retrying);
  ASSERT_EQ(d.steps.size(), 1u);
  ASSERT_TRUE(d.steps[0].error);
  EXPECT_NE(d.steps[0].error->find("badbyte"), std::string::npos) << *d.steps[0].error;
  clock_.advance(1s);
  EXPECT_EQ(run_due(), 1u);
  EXPECT_EQ(state(id), State::completed);
}

TEST_P(WorkflowEngineTest, StepLogIsBounded) {
  settings_.step_log_limit = 5;
  settings_.retry_overrides["chatty"] = RetryPolicy{1ms, 1.0, 1ms, 100};
  int calls = 0;
  engine().define({"chatty", {step("a", [&](StepContext&) -> StepResult {
                     if (++calls < 12) return make_error(Errc::unavailable, "busy " + std::to_string(calls));
                     return StepResult::done();
                   })}});
  const auto id = start("chatty");
  for (int i = 0; i < 20; ++i) {
    run_due();
    clock_.advance(1s);
  }
  auto d = get(id);
  EXPECT_EQ(d.summary.state, State::completed);
  ASSERT_EQ(d.steps.size(), 5u);
  EXPECT_EQ(d.steps.back().attempt, 12);
  EXPECT_EQ(d.steps.back().outcome, "done");
  EXPECT_EQ(d.steps.front().attempt, 8);
}

TEST_P(WorkflowEngineTest, ListFiltersAndPages) {
  engine().define({"listed", {step("fail", [](StepContext& ctx) -> StepResult {
                     if (ctx.input().value("fail", false)) return make_error(Errc::unavailable, "later");
                     return StepResult::done();
                   })}});
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    ids.push_back(start("listed", "c" + std::to_string(i % 2), json{{"fail", i < 3}}));
    clock_.advance(1ms);
  }
  run_due();
  auto retrying = engine().list(workflow_filter(State::retrying));
  ASSERT_TRUE(retrying);
  EXPECT_EQ(retrying->items.size(), 3u);
  auto by_corr = engine().list(workflow_filter(std::nullopt, std::nullopt, "c1"));
  ASSERT_TRUE(by_corr);
  EXPECT_EQ(by_corr->items.size(), 2u);

  auto page1 = engine().list(workflow_filter(std::nullopt, "listed", std::nullopt, 2));
  ASSERT_TRUE(page1);
  ASSERT_EQ(page1->items.size(), 2u);
  ASSERT_TRUE(page1->next_cursor);
  EXPECT_EQ(page1->items[0].id, ids[4]);  // newest first
  auto page2 = engine().list(workflow_filter(std::nullopt, "listed", std::nullopt, 2, page1->next_cursor));
  ASSERT_TRUE(page2);
  auto page3 = engine().list(workflow_filter(std::nullopt, "listed", std::nullopt, 2, page2->next_cursor));
  ASSERT_TRUE(page3);
  EXPECT_EQ(page3->items.size(), 1u);
  EXPECT_FALSE(page3->next_cursor);
  EXPECT_EQ(page3->items[0].id, ids[0]);

  const auto j = page1->to_json();
  EXPECT_EQ(j["items"][0]["state"], "completed");
  EXPECT_TRUE(j["next_cursor"].is_string());
  const auto detail = get(ids[0]).to_json();
  EXPECT_EQ(detail["state"], "retrying");
  EXPECT_EQ(detail["current_step"], "fail");
  EXPECT_EQ(detail["steps"][0]["outcome"], "retry");
  EXPECT_TRUE(detail["last_error"].get<std::string>().find("later") != std::string::npos);
}

TEST_P(WorkflowEngineTest, MetricsCountStepsAndRefreshStateGauges) {
  engine().define({"measured", {step("a", noop), step("b", [](StepContext&) -> StepResult {
                                  return make_error(Errc::invalid_argument, "no");
                                })}});
  start("measured");
  run_due();
  ASSERT_TRUE(engine().refresh_metrics());
  const auto text = registry_.render();
  EXPECT_NE(text.find("trueup_workflow_steps_total{type=\"measured\",outcome=\"done\"} 1"), std::string::npos) << text;
  EXPECT_NE(text.find("trueup_workflow_steps_total{type=\"measured\",outcome=\"failed\"} 1"), std::string::npos);
  EXPECT_NE(text.find("trueup_workflows{state=\"compensated\"} 1"), std::string::npos);
  EXPECT_NE(text.find("trueup_workflows{state=\"failed\"} 0"), std::string::npos);
  // Completed workflows are not counted (that would scan the table's history).
  EXPECT_EQ(text.find("trueup_workflows{state=\"completed\"}"), std::string::npos);
  EXPECT_NE(text.find("trueup_exceptions_open{kind=\"workflow_failed\"} 1"), std::string::npos);
  EXPECT_NE(text.find("trueup_workflow_step_duration_seconds_count{type=\"measured\"} 2"), std::string::npos);
}

TEST_P(WorkflowEngineTest, WorkerThreadsRunWorkflows) {
  // Real time here: worker threads poll and are woken by start().
  SystemClock system;
  settings_.workers = 3;
  settings_.poll_interval = 50ms;
  Engine threaded(db_->store(), *exceptions_, registry_, system, settings_);
  std::atomic<int> calls{0};
  threaded.define({"threaded",
                   {step("a",
                         [&](StepContext&) {
                           ++calls;
                           return StepResult::done();
                         }),
                    step("b", [&](StepContext&) {
                      ++calls;
                      return StepResult::done();
                    })}});
  ASSERT_TRUE(threaded.run());
  for (int i = 0; i < 50; ++i) test::start(threaded, db_->store(), "threaded", "c", json::object(), std::to_string(i));
  EXPECT_TRUE(test::eventually(
      [&] { return db_->scalar("SELECT COUNT(*) FROM trueup_workflow WHERE state = 'completed'") == "50"; }));
  threaded.stop();
  EXPECT_EQ(calls.load(), 100);
  EXPECT_EQ(db_->scalar("SELECT COUNT(*) FROM trueup_workflow WHERE lease_owner IS NOT NULL"), "0");
}

INSTANTIATE_TEST_SUITE_P(Sqlite, WorkflowEngineTest, ::testing::Values(Db::sqlite), test::db_name);
INSTANTIATE_TEST_SUITE_P(Postgres, WorkflowEngineTest, ::testing::Values(Db::postgres), test::db_name);

}  // namespace
}  // namespace trueup::workflow
