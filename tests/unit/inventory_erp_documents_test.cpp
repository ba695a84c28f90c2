// ERP documents that book several records at once (inventory/erp_documents.hpp)
// and their match in the stock ledger: per-store batches (membership decided
// in the recording transaction, one document per location and window, lines
// summed per SKU and price, closed by the workflow's timer, booked once) and
// return documents (the return lines of one order as one credit memo), and
// the ledger replacing the provisional movements of every order of a batch
// by the batch's ERP entries, never twice. Sqlite/... runs here (unit),
// Postgres/... in tests/pg.
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "trueup/inventory/erp_documents.hpp"
#include "trueup/inventory/ledger.hpp"
#include "trueup/messaging/outbox.hpp"
#include "trueup/metrics/registry.hpp"
#include "workflow_test_support.hpp"

namespace trueup::inventory {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using workflow::test::Db;

constexpr const char* kErp = "business-central";

model::Order sale(const std::string& id, const std::string& location,
                  const std::vector<std::tuple<std::string, std::string, std::int64_t>>& lines) {
  model::Order o;
  o.id = "pos:" + id;
  o.channel = "pos";
  o.external_reference = id;
  o.placed_at = *model::Timestamp::parse("2026-11-26T10:00:00+01:00");
  o.status = model::OrderStatus::closed;
  o.currency = *Currency::from_code("USD");
  o.location = location;
  int n = 0;
  for (const auto& [sku, quantity, cents] : lines) {
    model::OrderLine l;
    l.line_id = "l" + std::to_string(++n);
    l.sku = sku;
    l.quantity = *Quantity::parse(quantity);
    if (cents >= 0) l.unit_price = Money::from_minor(cents, o.currency);
    o.lines.push_back(std::move(l));
  }
  const Money zero = Money::zero(o.currency);
  o.totals = model::OrderTotals{zero, zero, zero, zero, zero};
  return o;
}

class ErpDocumentsTest : public ::testing::TestWithParam<Db> {
 protected:
  void SetUp() override {
    db_ = std::make_unique<workflow::test::TestDatabase>(GetParam());
    ASSERT_TRUE(db_->ok());
    exceptions_ = std::make_unique<workflow::ExceptionQueue>(db_->store(), registry_, clock_);
    outbox_ = std::make_unique<messaging::Outbox>(db_->store());
    engine_ =
        std::make_unique<workflow::Engine>(db_->store(), *exceptions_, registry_, clock_, workflow::EngineSettings{});
    // Return movements join their order's document when recorded, as the daemon wires it.
    engine_->define(movement_workflow(
        *outbox_, "/trueup/instances/test", LedgerSettings{kErp},
        [this](store::Transaction& tx, const model::InventoryMovement& m, std::string_view status) -> Status {
          if (m.kind != model::MovementKind::return_ || status != "provisional") return Ok{};
          auto joined = join_return(tx, *engine_, returns_, m, clock_.now());
          if (!joined) return std::move(joined).error();
          return Ok{};
        }));
    engine_->define(erp_document_workflow([this](store::Transaction&, const ClosedErpDocument& d) -> Status {
      posted_.push_back(d);
      return Ok{};
    }));
  }
  void TearDown() override {
    engine_.reset();
    exceptions_.reset();
    db_.reset();
  }

  // The order joins its location's batch in a transaction of its own.
  std::optional<std::string> join(const model::Order& o) {
    std::optional<std::string> out;
    auto st = db_->store().transact([&](store::Transaction& tx) -> Status {
      auto r = join_sale_batch(tx, *engine_, batch_, o, clock_.now());
      if (!r) return std::move(r).error();
      out = *r;
      return Ok{};
    });
    EXPECT_TRUE(st) << st.error().describe();
    return out;
  }

  void run() {
    auto ran = engine_->run_due();
    ASSERT_TRUE(ran) << ran.error().describe();
  }

  void move(const std::string& id, const std::string& kind, const std::string& system, const std::string& quantity,
            const std::string& order, const std::string& sku = "SKU-1", const std::string& location = "STORE-1") {
    json m{{"movement_id", id},
           {"kind", kind},
           {"sku", sku},
           {"location", location},
           {"occurred_at", "2026-11-26T10:00:00+01:00"},
           {"source_system", system},
           {"source_reference", id},
           {"quantity_delta", quantity}};
    if (!order.empty()) m["order_id"] = order;
    workflow::test::start(*engine_, db_->store(), kMovementWorkflow, sku, m, id);
    run();
  }

  // "confirmed/provisional/on_hand" in whole units.
  std::string position(const std::string& sku = "SKU-1", const std::string& location = "STORE-1") {
    return db_->scalar(
        "SELECT (confirmed_e5 / 100000) || '/' || (provisional_e5 / 100000) || '/' || (on_hand_e5 / 100000) FROM "
        "stock_position WHERE sku = $1 AND location = $2",
        {sku, location});
  }
  std::string status(const std::string& movement_id) {
    return db_->scalar("SELECT status FROM inventory_ledger WHERE movement_id = $1", {movement_id});
  }

  std::unique_ptr<workflow::test::TestDatabase> db_;
  metrics::Registry registry_;
  workflow::ManualClock clock_{workflow::from_epoch_ms(1795687200000)};  // 2026-11-26T10:00:00Z
  std::unique_ptr<workflow::ExceptionQueue> exceptions_;
  std::unique_ptr<messaging::Outbox> outbox_;
  std::unique_ptr<workflow::Engine> engine_;
  ErpDocumentSettings batch_{15min, 500};
  ErpDocumentSettings returns_{5s, 500};
  std::vector<ClosedErpDocument> posted_;
};

TEST_P(ErpDocumentsTest, ReceiptsOfOneStoreInAWindowAreOneDocumentSummedPerSkuAndPrice) {
  const auto a = join(sale("A", "STORE-1", {{"TEE", "2", 2500}, {"BEANS", "1.5", 3200}}));
  clock_.advance(1min);
  const auto b = join(sale("B", "STORE-1", {{"TEE", "1", 2500}, {"TEE", "1", 2000}, {"CAP", "1", -1}}));
  const auto c = join(sale("C", "STORE-2", {{"TEE", "4", 2500}}));
  ASSERT_TRUE(a && b && c);
  EXPECT_EQ(*a, "erp-batch:STORE-1:1");
  EXPECT_EQ(*b, *a);
  EXPECT_EQ(*c, "erp-batch:STORE-2:1");
  EXPECT_EQ(db_->scalar("SELECT document_id FROM erp_booked_order WHERE order_id = 'pos:B'"), *a);

  // Nothing is booked while the windows are open.
  run();
  EXPECT_TRUE(posted_.empty());
  EXPECT_EQ(db_->scalar("SELECT status FROM erp_document WHERE id = $1", {*a}), "open");

  clock_.advance(15min);
  run();
  ASSERT_EQ(posted_.size(), 2u);
  const ClosedErpDocument& one = posted_[0].id == *a ? posted_[0] : posted_[1];
  EXPECT_EQ(one.kind, ErpDocumentKind::sale_batch);
  EXPECT_EQ(one.booked_order_id, *a);
  EXPECT_EQ(one.external_document_number, "STORE-1-20261126-1");
  EXPECT_EQ(one.location, "STORE-1");
  EXPECT_EQ(one.posting_date, "2026-11-26");
  EXPECT_EQ(one.currency, "USD");
  const std::vector<ErpDocumentLine> expected{{"BEANS", *Quantity::parse("1.5"), 3200},
                                              {"CAP", *Quantity::parse("1"), std::nullopt},
                                              {"TEE", *Quantity::parse("1"), 2000},
                                              {"TEE", *Quantity::parse("3"), 2500}};
  EXPECT_EQ(one.lines, expected);

  // Closed: booked once, and the store's next receipt opens its next batch.
  run();
  EXPECT_EQ(posted_.size(), 2u);
  const auto d = join(sale("D", "STORE-1", {{"TEE", "1", 2500}}));
  ASSERT_TRUE(d);
  EXPECT_EQ(*d, "erp-batch:STORE-1:2");
  EXPECT_EQ(db_->scalar("SELECT external_document_number FROM erp_document WHERE id = $1", {*d}), "STORE-1-20261126-2");
}

TEST_P(ErpDocumentsTest, AnOrderIsBookedInOneDocumentWhateverTheMode) {
  const auto a = join(sale("A", "STORE-1", {{"TEE", "2", 2500}}));
  ASSERT_TRUE(a);
  // Another version of the same order joins nothing.
  EXPECT_FALSE(join(sale("A", "STORE-1", {{"TEE", "5", 2500}})));
  EXPECT_EQ(db_->scalar("SELECT SUM(quantity_e5) FROM erp_document_line WHERE order_id = 'pos:A'"), "200000");
  // A receipt booked on its own (per_receipt) does not join a batch, nor the reverse.
  bool claimed = true;
  auto st = db_->store().transact([&](store::Transaction& tx) -> Status {
    auto first = claim_sale_booking(tx, "pos:R");
    if (!first || !*first) return make_error(Errc::internal, "pos:R not claimed");
    auto again = claim_sale_booking(tx, "pos:A");
    if (!again) return std::move(again).error();
    claimed = *again;
    return Ok{};
  });
  ASSERT_TRUE(st) << st.error().describe();
  EXPECT_FALSE(claimed);
  EXPECT_FALSE(join(sale("R", "STORE-1", {{"TEE", "1", 2500}})));
}

TEST_P(ErpDocumentsTest, AReceiptPastMaxLinesSealsTheBatchWhichIsBookedAtOnce) {
  batch_.max_lines = 2;
  const auto a = join(sale("A", "STORE-1", {{"TEE", "1", 2500}, {"BEANS", "1", 3200}}));
  const auto b = join(sale("B", "STORE-1", {{"TEE", "1", 2500}}));  // same line: fits
  const auto c = join(sale("C", "STORE-1", {{"CAP", "1", 900}}));   // a third line: the next document
  ASSERT_TRUE(a && b && c);
  EXPECT_EQ(*b, *a);
  EXPECT_EQ(*c, "erp-batch:STORE-1:2");
  run();  // the sealed one closes without waiting for its window
  ASSERT_EQ(posted_.size(), 1u);
  EXPECT_EQ(posted_[0].id, *a);
  EXPECT_EQ(posted_[0].lines.size(), 2u);
  clock_.advance(15min);
  run();
  ASSERT_EQ(posted_.size(), 2u);
  EXPECT_EQ(posted_[1].id, *c);
  EXPECT_EQ(posted_[1].external_document_number, "STORE-1-20261126-2");
}

TEST_P(ErpDocumentsTest, BatchEntriesReplaceTheProvisionalSalesOfEveryMemberOnce) {
  move("erp-open", "adjustment", kErp, "10", "");
  // Receipt A's movement before it joins the batch, B's after: both match.
  move("sq-a", "sale", "square", "-2", "pos:A");
  const auto a = join(sale("A", "STORE-1", {{"SKU-1", "2", 2500}}));
  const auto b = join(sale("B", "STORE-1", {{"SKU-1", "3", 2500}}));
  ASSERT_TRUE(a && b);
  EXPECT_EQ(position(), "10/-2/8");
  // The batch's ERP entry (order id = the batch) comes before B's POS movement.
  move("bc-ile-1", "sale", kErp, "-5", *a);
  EXPECT_EQ(status("sq-a"), "matched");
  EXPECT_EQ(position(), "5/0/5");
  move("sq-b", "sale", "square", "-3", "pos:B");
  EXPECT_EQ(status("sq-b"), "already_confirmed");
  EXPECT_EQ(position(), "5/0/5") << "each sale counted once";
  // A receipt not in the batch is untouched by it.
  move("sq-c", "sale", "square", "-1", "pos:C");
  EXPECT_EQ(status("sq-c"), "provisional");
  EXPECT_EQ(position(), "5/-1/4");
}

TEST_P(ErpDocumentsTest, ARestockCarryingTheSaleOrderIdIsNotTakenForTheSale) {
  move("erp-open", "adjustment", kErp, "10", "");
  move("sh-sale", "sale", "shopify", "-2", "web:1001");
  move("bc-sale", "sale", kErp, "-2", "web:1001");
  EXPECT_EQ(position(), "8/0/8");
  // A refund with restock names the sale's order: provisional until its credit memo.
  move("sh-restock", "return", "shopify", "1", "web:1001");
  EXPECT_EQ(status("sh-restock"), "provisional");
  EXPECT_EQ(position(), "8/1/9");
  move("bc-credit", "return", kErp, "1", "web:1001");
  EXPECT_EQ(status("sh-restock"), "matched");
  EXPECT_EQ(position(), "9/0/9");
}

TEST_P(ErpDocumentsTest, TheReturnLinesOfOneOrderAreOneCreditMemoAndLateOnesTheNext) {
  move("erp-open", "adjustment", kErp, "10", "");
  move("sq-r1", "return", "square", "1", "pos:RET1", "SKU-1");
  move("sq-r2", "return", "square", "2", "pos:RET1", "SKU-2");
  move("sq-r3", "return", "square", "1", "pos:RET1", "SKU-1");
  EXPECT_TRUE(posted_.empty());
  clock_.advance(5s);
  run();
  ASSERT_EQ(posted_.size(), 1u);
  const ClosedErpDocument& memo = posted_[0];
  EXPECT_EQ(memo.kind, ErpDocumentKind::return_);
  EXPECT_EQ(memo.id, "erp-return:pos:RET1:1");
  EXPECT_EQ(memo.booked_order_id, "pos:RET1");
  EXPECT_EQ(memo.external_document_number, "RET1");
  EXPECT_EQ(memo.location, "STORE-1");
  EXPECT_FALSE(memo.currency);
  const std::vector<ErpDocumentLine> expected{{"SKU-1", *Quantity::parse("2"), std::nullopt},
                                              {"SKU-2", *Quantity::parse("2"), std::nullopt}};
  EXPECT_EQ(memo.lines, expected);
  // A line recorded after the credit memo closed is booked by the next one.
  move("sq-r4", "return", "square", "1", "pos:RET1", "SKU-1", "STORE-2");
  clock_.advance(5s);
  run();
  ASSERT_EQ(posted_.size(), 2u);
  EXPECT_EQ(posted_[1].external_document_number, "RET1-2");
  EXPECT_EQ(posted_[1].location, "STORE-2");
  // The credit memo's entries carry the return's order id: they replace the provisional returns.
  EXPECT_EQ(position(), "10/2/12");
  move("bc-cm-1", "return", kErp, "2", "pos:RET1");
  EXPECT_EQ(status("sq-r1"), "matched");
  EXPECT_EQ(status("sq-r3"), "matched");
  EXPECT_EQ(position(), "12/0/12");
}

TEST_P(ErpDocumentsTest, ConcurrentReceiptsAndACloseLoseAndDoubleNothing) {
  // Four writers record 25 receipts each at one store while the batch is
  // closed in the middle (each writer's last 5 after the close): every
  // receipt is in exactly one document, and the closed one is booked with
  // every line it holds (none joins after).
  std::vector<std::thread> writers;
  std::atomic<int> failures{0};
  std::atomic<bool> closed_once{false};
  for (int w = 0; w < 4; ++w)
    writers.emplace_back([&, w] {
      for (int i = 0; i < 25; ++i) {
        if (i == 20)
          while (!closed_once.load()) std::this_thread::yield();
        if (!join(sale("W" + std::to_string(w) + "-" + std::to_string(i), "STORE-1", {{"TEE", "1", 2500}}))) ++failures;
      }
    });
  std::optional<ClosedErpDocument> closed;
  EXPECT_TRUE(workflow::test::eventually(
      [&] { return std::stoi(db_->scalar("SELECT count(*) FROM erp_booked_order")) >= 30; }));
  auto st = db_->store().transact([&](store::Transaction& tx) -> Status {
    auto r = close_erp_document(tx, "erp-batch:STORE-1:1", clock_.now());
    if (!r) return std::move(r).error();
    closed = *r;
    return Ok{};
  });
  closed_once.store(true);
  for (auto& t : writers) t.join();
  ASSERT_TRUE(st) << st.error().describe();
  EXPECT_EQ(failures.load(), 0);
  ASSERT_TRUE(closed);
  ASSERT_EQ(closed->lines.size(), 1u);
  EXPECT_EQ(db_->scalar("SELECT count(*) FROM erp_booked_order"), "100");
  EXPECT_EQ(db_->scalar("SELECT count(*) FROM erp_document_line"), "100");
  EXPECT_EQ(db_->scalar("SELECT SUM(quantity_e5) FROM erp_document_line WHERE document_id = 'erp-batch:STORE-1:1'"),
            std::to_string(closed->lines[0].quantity.scaled()))
      << "a receipt joined the batch after it closed";
  EXPECT_EQ(db_->scalar("SELECT count(*) FROM erp_document_line l JOIN erp_booked_order b ON b.order_id = l.order_id "
                        "AND b.document_id = l.document_id"),
            "100");
  EXPECT_EQ(db_->scalar("SELECT count(DISTINCT document_id) FROM erp_booked_order"), "2");
}

INSTANTIATE_TEST_SUITE_P(Engines, ErpDocumentsTest, ::testing::Values(Db::sqlite, Db::postgres),
                         workflow::test::db_name);

}  // namespace
}  // namespace trueup::inventory
