// `trueup sim business-central` as a process: prints its URL, serves the seed
// from config/examples (items decoded by the connector's decoder, bearer
// auth), creates and posts an invoice, refuses a bad seed with exit 2, stops
// on SIGTERM with 0.
#include <gtest/gtest.h>

#include <csignal>
#include <thread>

#include <nlohmann/json.hpp>

#include "business_central_payloads.hpp"
#include "support/process.hpp"
#include "support/test_env.hpp"
#include "trueup/http/outbound.hpp"

namespace trueup::connectors::business_central {
namespace {

using trueup::testing::Process;

TEST(BusinessCentralSimulatorCli, ServesTheExampleSeedAndStopsOnSigterm) {
  const std::string seed = trueup::testing::source_dir() + "/config/examples/business-central-sim-seed.json";
  const std::string logs = trueup::testing::make_temp_dir("bc-sim-cli");
  Process sim({trueup::testing::trueup_binary(), "sim", "business-central", "--port", "0", "--seed", seed},
              {{"BC_ACCESS_TOKEN", "bc_cli_test"}}, logs);
  // The URL is the first line on stdout, once the port is bound.
  const std::string url = sim.first_stdout_line(std::chrono::seconds(30));
  ASSERT_TRUE(url.starts_with("http://127.0.0.1:")) << url << "\n" << sim.stderr_text();

  const std::string company = url + "/v2.0/production/api/v2.0/companies(b18aed47-c385-49d2-b954-dbdf8ad71780)";
  http::OutboundClient client(http::OutboundSettings{});
  auto send = [&](const std::string& method, const std::string& path, const std::string& body = "") {
    http::OutboundRequest request;
    request.method = method;
    request.url = company + path;
    request.body = body;
    request.headers.add("Authorization", "Bearer bc_cli_test");
    if (!body.empty()) request.headers.add("Content-Type", "application/json");
    auto reply = client.send(request);
    EXPECT_TRUE(reply.ok()) << reply.error().describe();
    return reply ? *reply : http::OutboundReply{};
  };
  auto items = send("GET", "/items");
  ASSERT_EQ(items.status, 200) << items.body;
  auto decoded = decode_items(items.body);
  ASSERT_TRUE(decoded.ok()) << decoded.error().message;
  EXPECT_EQ(decoded->value.size(), 4u);

  SalesDocumentDraft draft;
  draft.kind = SalesDocumentKind::invoice;
  draft.external_document_number = "CLI-1";
  draft.customer_number = "WEB";
  draft.lines = {{"1928-S", "2", std::nullopt, std::nullopt, std::nullopt}};
  auto created = send("POST", "/salesInvoices", *build_sales_document(draft));
  ASSERT_EQ(created.status, 201) << created.body;
  auto invoice = decode_sales_documents(created.body, SalesDocumentKind::invoice);
  ASSERT_TRUE(invoice.ok());
  EXPECT_EQ(send("POST", "/salesInvoices(" + invoice->value.at(0).id + ")/Microsoft.NAV.post").status, 204);
  auto entries = decode_item_ledger_entries(send("GET", "/itemLedgerEntries?$filter=entryType%20eq%20'Sale'").body);
  ASSERT_TRUE(entries.ok());
  ASSERT_EQ(entries->value.size(), 1u);
  EXPECT_EQ(entries->value[0].quantity, "-2");
  EXPECT_EQ(entries->value[0].document_number, "PS-INV103001");

  sim.signal(SIGTERM);
  auto code = sim.wait(std::chrono::seconds(30));
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, 0) << sim.stderr_text();
}

TEST(BusinessCentralSimulatorCli, BadSeedIsAUsageError) {
  const std::string dir = trueup::testing::make_temp_dir("bc-sim-cli-seed");
  trueup::testing::write_file(dir + "/seed.json", R"({"items": [{"displayName": "no number"}]})");
  auto result = trueup::testing::run_process(
      {trueup::testing::trueup_binary(), "sim", "business-central", "--seed", dir + "/seed.json"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find("/items/0/number"), std::string::npos) << result.err;
}

}  // namespace
}  // namespace trueup::connectors::business_central
