// What Trueup books in the ERP, without a database: the external document
// numbers of batches and returns (deterministic, at most 35 characters) and
// the post_sale / post_return inputs built from a receipt, a batch or a
// return (connector/operations.hpp).
#include <gtest/gtest.h>

#include <string>

#include "trueup/connector/operations.hpp"
#include "trueup/inventory/erp_documents.hpp"

namespace trueup {
namespace {

using nlohmann::json;

const workflow::TimePoint kOpened = workflow::from_epoch_ms(1795687200000);  // 2026-11-26T10:00:00Z

TEST(ErpExternalDocumentNumber, BatchIsStoreDateAndSequence) {
  EXPECT_EQ(inventory::batch_external_document_number("STORE-01", kOpened, 1), "STORE-01-20261126-1");
  EXPECT_EQ(inventory::batch_external_document_number("STORE-01", kOpened, 42), "STORE-01-20261126-42");
  // The date of the opening instant in UTC (midnight UTC starts the next one).
  EXPECT_EQ(inventory::batch_external_document_number("S", workflow::from_epoch_ms(1795737600000), 3), "S-20261127-3");
}

TEST(ErpExternalDocumentNumber, LongStoresAreCutWithAHashAndKeepTheirSuffix) {
  const std::string store = "bc-e2e-a-very-long-canonical-location-code-store-7";
  const std::string edn = inventory::batch_external_document_number(store, kOpened, 12);
  EXPECT_EQ(edn.size(), 35u) << edn;
  EXPECT_TRUE(edn.ends_with("-20261126-12")) << edn;
  EXPECT_NE(edn.find('~'), std::string::npos) << edn;
  EXPECT_EQ(edn, inventory::batch_external_document_number(store, kOpened, 12)) << "deterministic";
  // Two stores with the same start differ by their hash.
  EXPECT_NE(edn, inventory::batch_external_document_number(store + "8", kOpened, 12));
  EXPECT_LE(inventory::erp_external_document_number(std::string(200, 'x'), "-1").size(), 35u);
  // Not cut inside a UTF-8 sequence.
  const std::string utf8 =
      inventory::erp_external_document_number(std::string(24, 'a') + "\xC3\xA9\xC3\xA9" + std::string(20, 'b'));
  EXPECT_LE(utf8.size(), 35u);
  EXPECT_EQ(utf8.find("\xC3~"), std::string::npos) << utf8;
}

TEST(ErpExternalDocumentNumber, ReturnIsTheOrdersExternalIdThenASequence) {
  EXPECT_EQ(inventory::return_external_document_number("pos:RkHZiCXQ1nqZ8PjdKw5kR7MQSvLZY", 1),
            "RkHZiCXQ1nqZ8PjdKw5kR7MQSvLZY");
  EXPECT_EQ(inventory::return_external_document_number("pos:RET1", 2), "RET1-2");
  EXPECT_EQ(inventory::return_external_document_number("no-channel", 1), "no-channel");
  EXPECT_EQ(inventory::order_channel("pos:RET1"), "pos");
  EXPECT_EQ(inventory::order_channel("web:shop:1"), "web");
  EXPECT_EQ(inventory::order_channel("no-channel"), "");
}

TEST(DocumentInput, AReturnIsBookedWithItsOrderIdAndPositiveUnitsWithoutPrices) {
  connector::DocumentBooking memo;
  memo.order_id = "pos:RET1";
  memo.external_document_number = "RET1";
  memo.location = "STORE-1";
  memo.posting_date = "2026-11-26";
  memo.lines = {{"TEE", *Quantity::parse("2"), std::nullopt}, {"BEANS", *Quantity::parse("0.5"), std::nullopt}};
  auto input = connector::document_input(memo);
  ASSERT_TRUE(input) << input.error().describe();
  EXPECT_EQ(*input, json::parse(R"({"order_id": "pos:RET1", "external_document_number": "RET1",
      "location": "STORE-1", "posting_date": "2026-11-26",
      "lines": [{"sku": "TEE", "quantity": "2"}, {"sku": "BEANS", "quantity": "0.5"}]})"));
}

TEST(DocumentInput, ABatchCarriesItsIdCurrencyAndPrices) {
  const Currency usd = *Currency::from_code("USD");
  connector::DocumentBooking batch{"erp-batch:STORE-1:3", "STORE-1-20261126-3", "STORE-1", "2026-11-26", usd, {}};
  batch.lines = {{"TEE", *Quantity::parse("3"), Money::from_minor(2500, usd)}};
  auto input = connector::document_input(batch);
  ASSERT_TRUE(input) << input.error().describe();
  EXPECT_EQ((*input)["order_id"], "erp-batch:STORE-1:3");
  EXPECT_EQ((*input)["currency"], "USD");
  EXPECT_EQ((*input)["lines"][0]["unit_price"], json::parse(R"({"amount": "25.00", "currency": "USD"})"));

  // A price in another currency, no location, no lines: refused with the reason.
  batch.lines[0].unit_price = Money::from_minor(2500, *Currency::from_code("EUR"));
  auto mixed = connector::document_input(batch);
  ASSERT_FALSE(mixed);
  EXPECT_NE(mixed.error().message.find("EUR"), std::string::npos) << mixed.error().message;
  batch.location.clear();
  EXPECT_FALSE(connector::document_input(batch));
  batch.location = "STORE-1";
  batch.lines.clear();
  EXPECT_FALSE(connector::document_input(batch));
}

TEST(DocumentInput, AReceiptIsItsOrderAsBefore) {
  model::Order o;
  o.id = "pos:A";
  o.channel = "pos";
  o.external_reference = "A";
  o.placed_at = *model::Timestamp::parse("2026-11-26T23:30:00-05:00");
  o.status = model::OrderStatus::closed;
  o.currency = *Currency::from_code("USD");
  o.location = "STORE-1";
  o.lines.push_back(
      model::OrderLine{"l1", "TEE", std::nullopt, *Quantity::parse("2"), Money::from_minor(2500, o.currency), {}, {}});
  o.lines.push_back(model::OrderLine{"l2", "CAP", std::nullopt, *Quantity::parse("1"), std::nullopt, {}, {}});
  auto input = connector::post_sale_input(o);
  ASSERT_TRUE(input) << input.error().describe();
  EXPECT_EQ(*input, json::parse(R"({"order_id": "pos:A", "external_document_number": "A", "location": "STORE-1",
      "posting_date": "2026-11-26", "currency": "USD",
      "lines": [{"sku": "TEE", "quantity": "2", "unit_price": {"amount": "25.00", "currency": "USD"}},
                {"sku": "CAP", "quantity": "1"}]})"));
  o.location.reset();
  EXPECT_FALSE(connector::post_sale_input(o));
}

}  // namespace
}  // namespace trueup
