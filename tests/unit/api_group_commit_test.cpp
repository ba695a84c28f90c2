// Group commit of intake requests (src/api/group_commit.hpp) on SQLite: jobs
// that wait while a transaction runs are written together in the next one,
// each gets its own answer, and a job that fails in a shared transaction is
// retried alone so it fails only itself.

#include "group_commit.hpp"

#include <gtest/gtest.h>

#include <condition_variable>
#include <future>
#include <mutex>
#include <string>
#include <vector>

#include "workflow_test_support.hpp"

namespace trueup::api::detail {
namespace {

using workflow::test::Db;

class GroupCommitTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = std::make_unique<workflow::test::TestDatabase>(Db::sqlite);
    ASSERT_TRUE(db_->ok());
    exceptions_ = std::make_unique<workflow::ExceptionQueue>(db_->store(), registry_, clock_);
    engine_ =
        std::make_unique<workflow::Engine>(db_->store(), *exceptions_, registry_, clock_, workflow::EngineSettings{});
    workflow::Step step;
    step.name = "noop";
    step.run = [](workflow::StepContext&) { return workflow::StepResult::done(); };
    engine_->define({"intake", {step}});
    inbox_ = std::make_unique<messaging::Inbox>(db_->store(), registry_);
    outbox_ = std::make_unique<messaging::Outbox>(db_->store());
    committer_ = std::make_unique<GroupCommitter>(
        db_->store(), *inbox_, *engine_, *outbox_, registry_, [this] { ++commits_; }, GroupCommitSettings{100, 1});
  }
  void TearDown() override {
    db_->store().stop();  // runs what is queued
    committer_.reset();
    engine_.reset();
    exceptions_.reset();
    db_.reset();
  }

  static IntakeItem item(const std::string& id) {
    return IntakeItem{messaging::InboxMessage{"api.test", id, "application/json", "{}", {}},
                      workflow::StartRequest{"intake", "sku-1", "{}", id},
                      messaging::OutboxEvent{"", "retail.inventory.v1", "sku-1", "com.trueup.test.v1", "/test", "", "",
                                             "{\"id\":\"" + id + "\"}", ""}};
  }

  // A job answering "<n> new of <m>" that reports into `out`.
  Job job(std::vector<std::string> ids, std::promise<Result<std::string>>& out, bool fail_finish = false) {
    Job j;
    for (const auto& id : ids) j.items.push_back(item(id));
    j.finish = [fail_finish](store::Transaction&, const std::vector<ItemOutcome>& outcomes) -> Result<std::string> {
      if (fail_finish) return make_error(Errc::conflict, "this job's idempotency claim is stale");
      std::size_t fresh = 0;
      for (const auto& o : outcomes) fresh += o.inserted ? 1 : 0;
      return std::to_string(fresh) + " new of " + std::to_string(outcomes.size());
    };
    j.done = [&out](Result<std::string> r) { out.set_value(std::move(r)); };
    return j;
  }

  // Occupies the store's single writer until `release` is set.
  void hold_writer(std::promise<void>& release) {
    std::promise<void> holding;
    db_->store().post(
        [&](store::Transaction&) -> Status {
          holding.set_value();
          release.get_future().wait();
          return Ok{};
        },
        [](Status) {});
    holding.get_future().wait();
  }

  std::int64_t count(const std::string& table) { return std::stoll(db_->scalar("SELECT COUNT(*) FROM " + table)); }

  std::unique_ptr<workflow::test::TestDatabase> db_;
  metrics::Registry registry_;
  workflow::ManualClock clock_;
  std::unique_ptr<workflow::ExceptionQueue> exceptions_;
  std::unique_ptr<workflow::Engine> engine_;
  std::unique_ptr<messaging::Inbox> inbox_;
  std::unique_ptr<messaging::Outbox> outbox_;
  std::unique_ptr<GroupCommitter> committer_;
  std::atomic<int> commits_{0};
};

TEST_F(GroupCommitTest, WaitingJobsShareOneTransactionAndEachGetsItsAnswer) {
  // Hold the single writer so the jobs below queue up behind it.
  std::promise<void> release;
  hold_writer(release);

  std::promise<Result<std::string>> first, second, third;
  committer_->submit(job({"a", "b"}, first));   // in flight (waits for the writer)
  committer_->submit(job({"c", "a"}, second));  // queued
  committer_->submit(job({"d", "d"}, third));   // queued: the same batch as `second`
  release.set_value();

  auto r1 = first.get_future().get();
  auto r2 = second.get_future().get();
  auto r3 = third.get_future().get();
  ASSERT_TRUE(r1) << r1.error().describe();
  ASSERT_TRUE(r2) << r2.error().describe();
  ASSERT_TRUE(r3) << r3.error().describe();
  EXPECT_EQ(*r1, "2 new of 2");
  EXPECT_EQ(*r2, "1 new of 2");  // "a" came with the first job
  EXPECT_EQ(*r3, "1 new of 2");  // the second "d" is a duplicate of the first
  EXPECT_EQ(commits_.load(), 2);
  EXPECT_EQ(count("trueup_inbox"), 4);
  EXPECT_EQ(count("trueup_workflow"), 4);
  EXPECT_EQ(count("trueup_outbox"), 4);  // one event per new message
  const auto text = registry_.render();
  EXPECT_NE(text.find("trueup_intake_commit_items_count 2"), std::string::npos) << text;
}

TEST_F(GroupCommitTest, AJobFailingInASharedTransactionFailsAlone) {
  std::promise<void> release;
  hold_writer(release);

  std::promise<Result<std::string>> lead, good1, bad, good2;
  committer_->submit(job({"lead"}, lead));
  committer_->submit(job({"g1"}, good1));
  committer_->submit(job({"x"}, bad, /*fail_finish=*/true));
  committer_->submit(job({"g2"}, good2));
  release.set_value();

  EXPECT_TRUE(lead.get_future().get());
  auto b = bad.get_future().get();
  ASSERT_FALSE(b);
  EXPECT_EQ(b.error().code, Errc::conflict);
  auto g1 = good1.get_future().get();
  auto g2 = good2.get_future().get();
  ASSERT_TRUE(g1) << g1.error().describe();
  ASSERT_TRUE(g2) << g2.error().describe();
  EXPECT_EQ(*g1, "1 new of 1");
  EXPECT_EQ(*g2, "1 new of 1");
  // Nothing of the failed job was kept.
  EXPECT_EQ(db_->scalar("SELECT COUNT(*) FROM trueup_inbox WHERE dedupe_key = 'x'"), "0");
  EXPECT_EQ(count("trueup_workflow"), 3);
  EXPECT_NE(registry_.render().find("trueup_intake_commit_splits_total 1"), std::string::npos);
}

}  // namespace
}  // namespace trueup::api::detail
