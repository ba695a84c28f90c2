// Workflow engine throughput with no-op steps: steps/s on SQLite (a temp
// file) and on PostgreSQL (TRUEUP_TEST_PG_URL, a fresh schema). Prints the
// figures; asserts nothing about timing (target: >= 5,000 steps/s).

#include <gtest/gtest.h>

#include <chrono>
#include <iostream>

#include "trueup/metrics/registry.hpp"
#include "unit/workflow_test_support.hpp"

namespace trueup::workflow {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

struct Figures {
  double steps_per_second = 0;
  double seconds = 0;
};

Figures measure(test::TestDatabase& db, int workflows, int steps_per_workflow, int workers) {
  SystemClock clock;
  metrics::Registry registry;
  ExceptionQueue exceptions(db.store(), registry, clock);
  EngineSettings s;
  s.instance_id = "bench";
  s.workers = workers;
  s.poll_interval = 100ms;
  s.claim_batch = 16;
  if (db.db() == test::Db::postgres) s.listen = db.pg();
  Engine engine(db.store(), exceptions, registry, clock, s);
  WorkflowType type{"bench_" + std::to_string(steps_per_workflow), {}};
  for (int i = 0; i < steps_per_workflow; ++i) {
    Step st;
    st.name = "step" + std::to_string(i);
    st.run = [](StepContext&) { return StepResult::done(); };
    type.steps.push_back(st);
  }
  const std::string type_name = type.name;
  engine.define(std::move(type));
  // Intake first (in batches), so the figure is the engine's alone.
  for (int b = 0; b < workflows; b += 500) {
    auto st = db.store().transact([&](store::Transaction& tx) -> Status {
      for (int i = b; i < std::min(workflows, b + 500); ++i) {
        const std::string n = std::to_string(i);
        auto r = engine.start(tx, type_name, std::string("c").append(n), json::object(), std::string("d").append(n));
        if (!r) return std::move(r).error();
      }
      return Ok{};
    });
    EXPECT_TRUE(st) << st.error().describe();
  }
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(engine.run());
  const bool done = test::eventually(
      [&] {
        return db.scalar("SELECT COUNT(*) FROM trueup_workflow WHERE type = $1 AND state = 'completed'", {type_name}) ==
               std::to_string(workflows);
      },
      300s);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  engine.stop();
  EXPECT_TRUE(done);
  return {static_cast<double>(workflows) * steps_per_workflow / seconds, seconds};
}

void report(const char* db, int workflows, int steps, int workers, const Figures& f) {
  std::cout << "[ figures  ] workflow_bench " << db << ": " << workflows << " workflows x " << steps << " no-op steps, "
            << workers << " workers: " << static_cast<long>(f.steps_per_second) << " steps/s (" << f.seconds
            << " s; target >= 5000)" << std::endl;
}

void run_all(test::Db which, const char* name) {
  for (auto [workflows, steps] : {std::pair{4000, 5}, std::pair{10000, 1}}) {
    const int workers = 4;
    test::TestDatabase db(which, /*pool_size=*/workers + 2);
    ASSERT_TRUE(db.ok());
    report(name, workflows, steps, workers, measure(db, workflows, steps, workers));
  }
}

TEST(WorkflowBench, Sqlite) { run_all(test::Db::sqlite, "sqlite"); }
TEST(WorkflowBench, Postgres) { run_all(test::Db::postgres, "postgres"); }

}  // namespace
}  // namespace trueup::workflow
