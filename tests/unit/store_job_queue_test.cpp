// The store's job queue (src/store/worker_store.hpp): interactive work goes
// first, and background work yields to it after a slow interactive job
// (YieldPolicy). try_pop and finished take the time, so every case is
// decided without sleeping.
#include "worker_store.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <string>

namespace trueup::store::detail {
namespace {

using namespace std::chrono_literals;

const Clock::time_point t0 = Clock::now();

// A job named by the error its work returns.
Job named(const std::string& name, Clock::time_point queued_at = t0) {
  return Job{[name](Transaction&) -> Status { return make_error(Errc::internal, name); }, {}, false, queued_at};
}

std::string name_of(const Job& job) {
  struct NoTransaction : Transaction {
    Result<Rows> exec(std::string_view, const std::vector<Param>&) override {
      return make_error(Errc::internal, "unused");
    }
  } tx;
  return job.work(tx).error().message;
}

void push(JobQueue& q, const std::string& name, bool interactive, Clock::time_point at = t0) {
  Job job = named(name, at);
  ASSERT_FALSE(q.try_push(job, interactive, at).has_value());
}

// 10 ms to yield above; from 1, one more background job per second.
const YieldPolicy kYield{.slow = 10ms, .step = 1000ms};

// An interactive job queued at `at` and ended `took` later.
void slow_interactive(JobQueue& q, Clock::time_point at, std::chrono::milliseconds took) {
  push(q, "interactive", true, at);
  auto job = q.try_pop(false, at);
  ASSERT_TRUE(job);
  ASSERT_FALSE(job->background);
  q.finished(*job, at + took);
}

TEST(StoreJobQueue, InteractiveWorkGoesFirst) {
  JobQueue q(10);
  push(q, "background", false);
  push(q, "interactive", true);
  auto first = q.try_pop();
  ASSERT_TRUE(first);
  EXPECT_EQ(name_of(*first), "interactive");
  EXPECT_FALSE(first->background);
  auto second = q.try_pop();
  ASSERT_TRUE(second);
  EXPECT_EQ(name_of(*second), "background");
  EXPECT_TRUE(second->background);
}

TEST(StoreJobQueue, TheInteractiveOnlyWorkerTakesNoBackgroundWork) {
  JobQueue q(10);
  push(q, "background", false);
  EXPECT_FALSE(q.try_pop(/*interactive_only=*/true));
  EXPECT_TRUE(q.try_pop());
}

TEST(StoreJobQueue, FastInteractiveWorkLeavesBackgroundWorkAlone) {
  JobQueue q(10, kYield);
  slow_interactive(q, t0, 9ms);
  for (int i = 0; i < 3; ++i) push(q, "background-" + std::to_string(i), false, t0 + 10ms);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(q.try_pop(false, t0 + 10ms)) << i;
}

TEST(StoreJobQueue, WithoutAThresholdBackgroundWorkNeverYields) {
  JobQueue q(10, YieldPolicy{});
  slow_interactive(q, t0, 500ms);
  push(q, "background-1", false, t0 + 500ms);
  push(q, "background-2", false, t0 + 500ms);
  EXPECT_TRUE(q.try_pop(false, t0 + 500ms));
  EXPECT_TRUE(q.try_pop(false, t0 + 500ms));
}

TEST(StoreJobQueue, AfterASlowInteractiveJobBackgroundWorkRunsOneAtATime) {
  JobQueue q(10, kYield);
  slow_interactive(q, t0, 11ms);  // waited longer than 10 ms
  const auto now = t0 + 20ms;
  push(q, "interactive-2", true, now);  // requests keep coming
  auto i2 = q.try_pop(false, now);
  ASSERT_TRUE(i2);
  push(q, "background-1", false, now);
  push(q, "background-2", false, now);
  auto b1 = q.try_pop(false, now);
  ASSERT_TRUE(b1);
  EXPECT_EQ(name_of(*b1), "background-1");
  EXPECT_FALSE(q.try_pop(false, now)) << "a second background job ran after a slow request";
  // Interactive work still gets the free connections.
  push(q, "interactive-3", true, now);
  auto i3 = q.try_pop(false, now);
  ASSERT_TRUE(i3);
  EXPECT_EQ(name_of(*i3), "interactive-3");
  // The first background job ends: the next may run, one at a time.
  q.finished(*b1, now);
  auto b2 = q.try_pop(false, now);
  ASSERT_TRUE(b2);
  EXPECT_EQ(name_of(*b2), "background-2");
}

TEST(StoreJobQueue, TheLimitGrowsByOnePerStepWithoutAnotherSlowJob) {
  JobQueue q(10, kYield);
  slow_interactive(q, t0, 50ms);
  const auto slow_at = t0 + 50ms;
  push(q, "interactive-2", true, slow_at);  // requests keep coming: i2 runs throughout
  auto i2 = q.try_pop(false, slow_at);
  ASSERT_TRUE(i2);
  for (int i = 0; i < 4; ++i) push(q, "background-" + std::to_string(i), false, slow_at);
  EXPECT_TRUE(q.try_pop(false, slow_at + 999ms));
  EXPECT_FALSE(q.try_pop(false, slow_at + 999ms)) << "limit 1 within the first second";
  EXPECT_TRUE(q.try_pop(false, slow_at + 1000ms));
  EXPECT_FALSE(q.try_pop(false, slow_at + 1999ms)) << "limit 2 within the second";
  EXPECT_TRUE(q.try_pop(false, slow_at + 2000ms));
  // Another slow request: back to one.
  const auto later = slow_at + 2000ms;
  slow_interactive(q, later, 30ms);
  auto l = q.load(later + 30ms);
  ASSERT_TRUE(l.background_limit);
  EXPECT_EQ(*l.background_limit, 1u);
  EXPECT_EQ(l.background.running, 3u);
  EXPECT_FALSE(q.try_pop(false, later + 30ms));
}

TEST(StoreJobQueue, YieldingEndsWhenTheLimitHasGrownToEveryConnection) {
  YieldPolicy policy = kYield;
  policy.width = 3;  // three connections take background work
  JobQueue q(10, policy);
  slow_interactive(q, t0, 50ms);
  const auto slow_at = t0 + 50ms;
  push(q, "interactive-2", true, slow_at);
  auto i2 = q.try_pop(false, slow_at);
  ASSERT_TRUE(i2);
  EXPECT_TRUE(q.load(slow_at + 1999ms).background_limit) << "2 of 3";
  EXPECT_FALSE(q.load(slow_at + 2000ms).background_limit) << "3 of 3: not yielding";
  // A fast request now forgets the old slow one; a slow one starts afresh.
  slow_interactive(q, slow_at + 2000ms, 1ms);
  EXPECT_FALSE(q.load(slow_at + 2001ms).background_limit);
  slow_interactive(q, slow_at + 2001ms, 20ms);
  auto l = q.load(slow_at + 2021ms);
  ASSERT_TRUE(l.background_limit);
  EXPECT_EQ(*l.background_limit, 1u);
}

TEST(StoreJobQueue, AfterAQuietStepTheNextRequestStartsAfresh) {
  JobQueue q(10, kYield);
  slow_interactive(q, t0, 50ms);
  const auto ended = t0 + 50ms;
  // 1.5 s later, a fast request: without forgetting the slow one, the limit
  // would come back at 2.
  slow_interactive(q, ended + 1500ms, 1ms);
  push(q, "interactive-3", true, ended + 1501ms);
  ASSERT_TRUE(q.try_pop(false, ended + 1501ms));
  EXPECT_FALSE(q.load(ended + 1501ms).background_limit);
}

TEST(StoreJobQueue, OnceRequestsStopForAStepBackgroundWorkTakesEveryConnection) {
  JobQueue q(10, kYield);
  slow_interactive(q, t0, 50ms);
  const auto ended = t0 + 50ms;
  for (int i = 0; i < 3; ++i) push(q, "background-" + std::to_string(i), false, ended);
  EXPECT_TRUE(q.try_pop(false, ended));
  EXPECT_FALSE(q.try_pop(false, ended + 999ms));
  EXPECT_TRUE(q.try_pop(false, ended + 1000ms)) << "no request for a second";
  EXPECT_TRUE(q.try_pop(false, ended + 1000ms));
}

TEST(StoreJobQueue, AWorkerHeldBackByTheLimitTakesWorkWhenItLifts) {
  // A step of 1 ms, so pop() waits only that long for the limit to lift.
  JobQueue q(10, YieldPolicy{.slow = 10ms, .step = 1ms});
  const auto now = Clock::now();
  slow_interactive(q, now - 50ms, 50ms);  // ended just now, slow
  push(q, "background-1", false, now);
  push(q, "background-2", false, now);
  auto b1 = q.pop();
  ASSERT_TRUE(b1);
  auto waiting = std::async(std::launch::async, [&] { return q.pop(); });
  const bool woke = waiting.wait_for(30s) == std::future_status::ready;
  if (!woke) q.close();  // releases the waiting pop, so the test fails instead of hanging
  EXPECT_TRUE(woke) << "the held-back worker was not woken when the limit lifted";
  auto b2 = waiting.get();
  ASSERT_TRUE(b2);
  EXPECT_EQ(name_of(*b2), "background-2");
}

TEST(StoreJobQueue, LoadSaysWhatWaitsRunsAndWhetherBackgroundWorkYields) {
  JobQueue q(10, kYield);
  auto before = q.load(t0);
  EXPECT_FALSE(before.background_limit);
  EXPECT_EQ(before.slow_interactive, 0u);
  slow_interactive(q, t0, 9ms);  // not slow
  slow_interactive(q, t0 + 9ms, 20ms);
  const auto now = t0 + 29ms;
  push(q, "interactive-2", true, now);
  auto i2 = q.try_pop(false, now);
  ASSERT_TRUE(i2);
  for (int i = 0; i < 3; ++i) push(q, "background-" + std::to_string(i), false, now);
  ASSERT_TRUE(q.try_pop(false, now));
  auto l = q.load(now);
  EXPECT_EQ(l.interactive.queued, 0u);
  EXPECT_EQ(l.interactive.running, 1u);
  EXPECT_EQ(l.background.queued, 2u);
  EXPECT_EQ(l.background.running, 1u);
  ASSERT_TRUE(l.background_limit);
  EXPECT_EQ(*l.background_limit, 1u);
  EXPECT_EQ(l.slow_interactive, 1u);
  // A second after the last request: no longer yielding.
  q.finished(*i2, now);
  EXPECT_FALSE(q.load(now + 1000ms).background_limit);
}

TEST(StoreJobQueue, ClosingDrainsBackgroundWorkAtFullWidth) {
  JobQueue q(10, kYield);
  const auto now = Clock::now();
  slow_interactive(q, now - 50ms, 50ms);
  push(q, "interactive-2", true, now);
  ASSERT_TRUE(q.try_pop());
  push(q, "background-1", false, now);
  push(q, "background-2", false, now);
  q.close();
  // Both at once, at the moment of closing: the limit no longer holds.
  EXPECT_TRUE(q.try_pop(false, now));
  EXPECT_TRUE(q.try_pop(false, now));
  EXPECT_FALSE(q.pop()) << "closed and drained";
}

}  // namespace
}  // namespace trueup::store::detail
