// The exception queue on both store engines (Sqlite/... label unit;
// Postgres/... label pg, run from tests/pg).

#include <gtest/gtest.h>

#include "trueup/metrics/registry.hpp"
#include "workflow_test_support.hpp"

namespace trueup::workflow {
namespace {

using namespace std::chrono_literals;
using test::Db;

ExceptionFilter exception_filter(std::optional<std::string> kind, std::optional<std::string> state = std::nullopt) {
  ExceptionFilter f;
  f.kind = std::move(kind);
  f.state = std::move(state);
  return f;
}

class ExceptionQueueTest : public ::testing::TestWithParam<Db> {
 protected:
  void SetUp() override {
    db_ = std::make_unique<test::TestDatabase>(GetParam());
    ASSERT_TRUE(db_->ok());
    queue_ = std::make_unique<ExceptionQueue>(db_->store(), registry_, clock_);
  }
  void TearDown() override {
    queue_.reset();
    db_.reset();
  }

  Result<Opened> open(const ExceptionSpec& spec) {
    std::optional<Opened> out;
    auto s = db_->store().transact([&](store::Transaction& tx) -> Status {
      auto r = queue_->open(tx, spec);
      if (!r) return std::move(r).error();
      out = *r;
      return Ok{};
    });
    if (!s) return std::move(s).error();
    return *out;
  }

  static ExceptionSpec unmapped_sku(const std::string& sku) {
    ExceptionSpec s;
    s.kind = "unmapped_sku";
    s.severity = "warning";
    s.refers_to = {"sku", sku};
    s.reason = "Shopify SKU " + sku + " has no canonical SKU; add it to the crosswalk";
    return s;
  }

  std::unique_ptr<test::TestDatabase> db_;
  metrics::Registry registry_;
  ManualClock clock_;
  std::unique_ptr<ExceptionQueue> queue_;
};

TEST_P(ExceptionQueueTest, OneOpenExceptionPerKindAndReference) {
  auto a = open(unmapped_sku("SH-1"));
  ASSERT_TRUE(a) << a.error().describe();
  EXPECT_TRUE(a->created);
  auto spec = unmapped_sku("SH-1");
  spec.reason = "seen again";
  auto b = open(spec);
  ASSERT_TRUE(b);
  EXPECT_FALSE(b->created);
  EXPECT_EQ(a->id, b->id);
  auto other = open(unmapped_sku("SH-2"));
  ASSERT_TRUE(other);
  EXPECT_TRUE(other->created);

  auto got = queue_->get(a->id);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->occurrences, 2);
  EXPECT_EQ(got->reason, "seen again");
  EXPECT_EQ(got->to_json()["refers_to"]["id"], "SH-1");

  // Once resolved, the same problem opens a new exception.
  ASSERT_TRUE(queue_->resolve(a->id, "bob", "mapped SH-1 to SKU-9"));
  auto c = open(unmapped_sku("SH-1"));
  ASSERT_TRUE(c);
  EXPECT_TRUE(c->created);
  EXPECT_NE(c->id, a->id);
}

TEST_P(ExceptionQueueTest, ResolveIgnoreAndInvalidTransitions) {
  auto a = open(unmapped_sku("SH-1"));
  auto b = open(unmapped_sku("SH-2"));
  ASSERT_TRUE(a && b);
  clock_.advance(10min);
  auto r = queue_->resolve(a->id, "bob", "mapped");
  ASSERT_TRUE(r) << r.error().describe();
  EXPECT_EQ(r->state, "resolved");
  EXPECT_EQ(*r->resolution, "resolve");
  EXPECT_EQ(*r->resolved_at - r->opened_at, 10min);
  auto i = queue_->ignore(b->id, "bob", "test SKU, never sold");
  ASSERT_TRUE(i);
  EXPECT_EQ(i->state, "ignored");

  auto twice = queue_->resolve(a->id, "bob", "again");
  ASSERT_FALSE(twice);
  EXPECT_EQ(twice.error().code, Errc::conflict);
  auto no_reason = queue_->ignore(a->id, "bob", "");
  ASSERT_FALSE(no_reason);
  EXPECT_EQ(no_reason.error().code, Errc::invalid_argument);
  auto missing = queue_->get("nope");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, Errc::not_found);

  // SKU exceptions have no retry handler here.
  auto c = open(unmapped_sku("SH-3"));
  ASSERT_TRUE(c);
  auto retry = queue_->retry(c->id, "bob", "try");
  ASSERT_FALSE(retry);
  EXPECT_EQ(retry.error().code, Errc::unsupported);
  EXPECT_EQ(queue_->get(c->id)->state, "open");

  auto resolved = queue_->list(exception_filter(std::nullopt, "resolved"));
  ASSERT_TRUE(resolved);
  ASSERT_EQ(resolved->items.size(), 1u);
  EXPECT_EQ(resolved->items[0].id, a->id);
  auto all = queue_->list(exception_filter("unmapped_sku"));
  ASSERT_TRUE(all);
  EXPECT_EQ(all->items.size(), 3u);
  EXPECT_NE(registry_.render().find("trueup_exception_resolution_seconds_count 2"), std::string::npos);
}

TEST_P(ExceptionQueueTest, RetryHandlerRunsInTheSameTransaction) {
  auto a = open(unmapped_sku("SH-1"));
  ASSERT_TRUE(a);
  queue_->set_retry_handler("sku", [](store::Transaction&, const ExceptionRecord&) -> Status {
    return make_error(Errc::conflict, "replay busy");
  });
  auto failed = queue_->retry(a->id, "bob", "mapped");
  ASSERT_FALSE(failed);
  EXPECT_EQ(queue_->get(a->id)->state, "open");  // rolled back with the handler
  std::string seen;
  queue_->set_retry_handler("sku", [&](store::Transaction&, const ExceptionRecord& e) -> Status {
    seen = e.refers_to.id;
    return Ok{};
  });
  auto ok = queue_->retry(a->id, "bob", "mapped");
  ASSERT_TRUE(ok) << ok.error().describe();
  EXPECT_EQ(seen, "SH-1");
  EXPECT_EQ(*ok->resolution, "retry");
}

TEST_P(ExceptionQueueTest, BadSpecsAreRefused) {
  auto spec = unmapped_sku("SH-1");
  spec.severity = "meh";
  auto r = open(spec);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::invalid_argument);
  spec = unmapped_sku("");
  EXPECT_FALSE(open(spec));
}

TEST_P(ExceptionQueueTest, OpenGaugeIsRefreshedFromTheDatabase) {
  ASSERT_TRUE(open(unmapped_sku("SH-1")));
  ASSERT_TRUE(open(unmapped_sku("SH-2")));
  EXPECT_EQ(registry_.render().find("trueup_exceptions_open{"), std::string::npos);  // not per scrape
  ASSERT_TRUE(queue_->refresh_metrics());
  EXPECT_NE(registry_.render().find("trueup_exceptions_open{kind=\"unmapped_sku\"} 2"), std::string::npos);
  auto page = queue_->list(ExceptionFilter{});
  ASSERT_TRUE(page);
  for (const auto& e : page->items) ASSERT_TRUE(queue_->ignore(e.id, "bob", "noise"));
  ASSERT_TRUE(queue_->refresh_metrics());
  EXPECT_NE(registry_.render().find("trueup_exceptions_open{kind=\"unmapped_sku\"} 0"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(Sqlite, ExceptionQueueTest, ::testing::Values(Db::sqlite), test::db_name);
INSTANTIATE_TEST_SUITE_P(Postgres, ExceptionQueueTest, ::testing::Values(Db::postgres), test::db_name);

}  // namespace
}  // namespace trueup::workflow
