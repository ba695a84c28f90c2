// The exception queue tells its listener about new and closed exceptions in
// the transaction that makes the change (the daemon appends events there).
#include <gtest/gtest.h>

#include "trueup/metrics/registry.hpp"
#include "workflow_test_support.hpp"

namespace trueup::workflow::test {
namespace {

TEST(ExceptionListener, SeesOpenOnceAndCloseInTheSameTransaction) {
  TestDatabase db(Db::sqlite);
  ManualClock clock;
  metrics::Registry registry;
  ExceptionQueue queue(db.store(), registry, clock);
  std::vector<ExceptionChange> seen;
  bool fail = false;
  queue.set_listener([&](store::Transaction&, const ExceptionChange& c) -> Status {
    if (fail) return make_error(Errc::unavailable, "listener down");
    seen.push_back(c);
    return Ok{};
  });
  ExceptionSpec spec{"unmapped_sku", "warning", Reference{"message", "42"}, "SKU ABC is not mapped", {}};
  auto open = [&]() -> Result<Opened> {
    std::optional<Opened> out;
    auto st = db.store().transact([&](store::Transaction& tx) -> Status {
      auto o = queue.open(tx, spec);
      if (!o) return std::move(o).error();
      out = *o;
      return Ok{};
    });
    if (!st) return std::move(st).error();
    return *out;
  };
  fail = true;
  EXPECT_FALSE(open().ok());  // the listener's error rolls the opening back
  fail = false;
  auto first = open();
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE(open().ok());  // a repeat of the open exception: no new change
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_TRUE(seen[0].opened);
  EXPECT_EQ(seen[0].kind, "unmapped_sku");
  EXPECT_EQ(seen[0].refers_to.id, "42");
  auto closed = queue.resolve(first->id, "ops", "mapped it");
  ASSERT_TRUE(closed.ok()) << closed.error().describe();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_FALSE(seen[1].opened);
  EXPECT_EQ(seen[1].resolution, "resolve");
  EXPECT_EQ(seen[1].resolved_by, "ops");
  auto page = queue.list(ExceptionFilter{});
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->items.size(), 1u);  // the failed opening left nothing behind
}

}  // namespace
}  // namespace trueup::workflow::test
