// The stock ledger's provisional/confirmed rule (inventory/ledger.hpp): with
// an authoritative ERP, a POS sale counts as provisional until the ERP's
// entry for the same order, SKU and location replaces it — in either order,
// never twice; an ERP count supersedes the provisional movements before it;
// other systems' counts are only observed. Sqlite/... runs here (unit),
// Postgres/... in tests/pg.
#include <gtest/gtest.h>

#include <string>

#include "trueup/inventory/ledger.hpp"
#include "trueup/messaging/outbox.hpp"
#include "trueup/metrics/registry.hpp"
#include "workflow_test_support.hpp"

namespace trueup::inventory {
namespace {

using nlohmann::json;
using workflow::test::Db;

constexpr const char* kErp = "business-central";

class LedgerTest : public ::testing::TestWithParam<Db> {
 protected:
  void SetUp() override {
    db_ = std::make_unique<workflow::test::TestDatabase>(GetParam());
    ASSERT_TRUE(db_->ok());
    exceptions_ = std::make_unique<workflow::ExceptionQueue>(db_->store(), registry_, clock_);
    outbox_ = std::make_unique<messaging::Outbox>(db_->store());
  }
  void TearDown() override {
    engine_.reset();
    exceptions_.reset();
    db_.reset();
  }

  void use(LedgerSettings settings) {
    engine_ =
        std::make_unique<workflow::Engine>(db_->store(), *exceptions_, registry_, clock_, workflow::EngineSettings{});
    engine_->define(movement_workflow(*outbox_, "/trueup/instances/test", std::move(settings)));
  }

  // Accepts one movement and runs its workflow.
  void move(const std::string& id, const std::string& kind, const std::string& system, const std::string& quantity,
            const std::string& occurred_at = "2026-11-26T10:00:00+01:00", const std::string& order = "",
            const std::string& location = "STORE-1") {
    json m{{"movement_id", id},
           {"kind", kind},
           {"sku", "SKU-1"},
           {"location", location},
           {"occurred_at", occurred_at},
           {"source_system", system},
           {"source_reference", id}};
    if (kind == "count")
      m["counted_quantity"] = quantity;
    else
      m["quantity_delta"] = quantity;
    if (!order.empty()) m["order_id"] = order;
    workflow::test::start(*engine_, db_->store(), kMovementWorkflow, "SKU-1", m, id);
    auto ran = engine_->run_due();
    ASSERT_TRUE(ran) << ran.error().describe();
  }

  // "confirmed/provisional/on_hand" in whole units.
  std::string position(const std::string& location = "STORE-1") {
    auto row = db_->scalar(
        "SELECT (confirmed_e5 / 100000) || '/' || (provisional_e5 / 100000) || '/' || (on_hand_e5 / 100000) FROM "
        "stock_position WHERE sku = 'SKU-1' AND location = $1",
        {location});
    return row;
  }
  std::string status(const std::string& movement_id) {
    return db_->scalar("SELECT status FROM inventory_ledger WHERE movement_id = $1", {movement_id});
  }

  std::unique_ptr<workflow::test::TestDatabase> db_;
  metrics::Registry registry_;
  workflow::ManualClock clock_;
  std::unique_ptr<workflow::ExceptionQueue> exceptions_;
  std::unique_ptr<messaging::Outbox> outbox_;
  std::unique_ptr<workflow::Engine> engine_;
};

TEST_P(LedgerTest, WithoutAnErpEveryMovementIsConfirmedOnce) {
  use({});
  move("r1", "receipt", "square", "5");
  move("s1", "sale", "square", "-1", "2026-11-26T10:00:00+01:00", "pos:o1");
  move("s1", "sale", "square", "-1", "2026-11-26T10:00:00+01:00", "pos:o1");  // the same movement again
  EXPECT_EQ(position(), "4/0/4");
  EXPECT_EQ(status("s1"), "applied");
}

TEST_P(LedgerTest, PosSaleIsProvisionalUntilTheErpEntryOfTheSameOrderReplacesIt) {
  use({kErp});
  move("erp-count", "count", kErp, "10", "2026-11-26T08:00:00+01:00");
  move("sq-1", "sale", "square", "-1", "2026-11-26T10:00:00+01:00", "pos:o1");
  EXPECT_EQ(position(), "10/-1/9");
  EXPECT_EQ(status("sq-1"), "provisional");
  move("bc-ile-7", "sale", kErp, "-1", "2026-11-26T00:00:00Z", "pos:o1");
  EXPECT_EQ(position(), "9/0/9") << "the sale is counted once";
  EXPECT_EQ(status("sq-1"), "matched");
  EXPECT_EQ(status("bc-ile-7"), "applied");
}

TEST_P(LedgerTest, ErpEntryFirstThenThePosSaleIsNotCountedAgain) {
  use({kErp});
  move("erp-count", "count", kErp, "10", "2026-11-26T08:00:00+01:00");
  move("bc-ile-7", "sale", kErp, "-2", "2026-11-26T00:00:00Z", "pos:o2");
  move("sq-2", "sale", "square", "-2", "2026-11-26T10:00:00+01:00", "pos:o2");
  EXPECT_EQ(position(), "8/0/8");
  EXPECT_EQ(status("sq-2"), "already_confirmed");
}

TEST_P(LedgerTest, TheErpFigureWinsWhenItDiffersFromThePosSale) {
  use({kErp});
  move("erp-count", "count", kErp, "10", "2026-11-26T08:00:00+01:00");
  move("sq-3", "sale", "square", "-3", "2026-11-26T10:00:00+01:00", "pos:o3");
  move("bc-ile-9", "sale", kErp, "-2", "2026-11-26T00:00:00Z", "pos:o3");
  EXPECT_EQ(position(), "8/0/8");
}

TEST_P(LedgerTest, AnErpCountSupersedesTheProvisionalMovementsBeforeItOnly) {
  use({kErp});
  move("erp-count-1", "count", kErp, "10", "2026-11-26T08:00:00+01:00");
  move("sq-a", "sale", "square", "-1", "2026-11-26T09:00:00+01:00", "pos:a");
  move("sq-b", "sale", "square", "-1", "2026-11-26T12:00:00+01:00", "pos:b");
  EXPECT_EQ(position(), "10/-2/8");
  // Counted at 10:00 (after sale a, before sale b): 7 on the shelf.
  move("erp-count-2", "count", kErp, "7", "2026-11-26T09:00:00Z");
  EXPECT_EQ(position(), "7/-1/6");
  EXPECT_EQ(status("sq-a"), "superseded");
  EXPECT_EQ(status("sq-b"), "provisional");
}

TEST_P(LedgerTest, OtherSystemsCountsAreObservedNotApplied) {
  use({kErp});
  move("erp-count", "count", kErp, "10", "2026-11-26T08:00:00+01:00");
  move("sq-count", "count", "square", "3", "2026-11-26T10:00:00+01:00");
  EXPECT_EQ(position(), "10/0/10");
  EXPECT_EQ(status("sq-count"), "observed");
}

TEST_P(LedgerTest, ProvisionalReturnsAndSalesAtOtherLocationsKeepTheirOwnPositions) {
  use({kErp});
  move("sq-sale", "sale", "square", "-1", "2026-11-26T10:00:00+01:00", "pos:c", "STORE-1");
  move("sq-ret", "return", "square", "1", "2026-11-26T11:00:00+01:00", "pos:d", "STORE-2");
  move("bc-sale", "sale", kErp, "-1", "2026-11-26T00:00:00Z", "pos:c", "STORE-1");
  EXPECT_EQ(position("STORE-1"), "-1/0/-1");
  EXPECT_EQ(position("STORE-2"), "0/1/1");
}

TEST_P(LedgerTest, WithoutAnErpACountIncludesTheSalesBeforeItInWhicheverOrderTheyArrive) {
  use({});
  move("c1", "count", "square", "10", "2026-11-26T09:00:00Z");
  // The POS count after the sale arrives first (it already has the sale).
  move("c2", "count", "square", "9", "2026-11-26T10:00:01Z");
  move("s1", "sale", "square", "-1", "2026-11-26T10:00:00Z", "pos:o1");
  EXPECT_EQ(position(), "9/0/9") << "the sale is in the count";
  EXPECT_EQ(status("s1"), "counted");
  // A sale after the newest count applies; an older count changes nothing.
  move("s2", "sale", "square", "-2", "2026-11-26T11:00:00Z", "pos:o2");
  EXPECT_EQ(position(), "7/0/7");
  move("c0", "count", "square", "50", "2026-11-26T08:00:00Z");
  EXPECT_EQ(status("c0"), "stale_count");
  EXPECT_EQ(position(), "7/0/7");
  // A count that happened before a sale already applied keeps that sale.
  move("s3", "sale", "square", "-1", "2026-11-26T13:00:00Z", "pos:o3");
  move("c3", "count", "square", "7", "2026-11-26T12:00:00Z");
  EXPECT_EQ(position(), "6/0/6");
}

INSTANTIATE_TEST_SUITE_P(Db, LedgerTest, ::testing::Values(Db::sqlite, Db::postgres), workflow::test::db_name);

}  // namespace
}  // namespace trueup::inventory
