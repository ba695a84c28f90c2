// `trueup sim square` as a process: prints its URL, serves the seed from
// config/examples (its sales already taken from the counts), refuses a bad
// seed with exit 2, stops on SIGTERM with 0.
#include <gtest/gtest.h>

#include <csignal>
#include <thread>

#include <nlohmann/json.hpp>

#include "support/process.hpp"
#include "support/test_env.hpp"
#include "trueup/http/outbound.hpp"

namespace trueup::connectors::square {
namespace {

using trueup::testing::Process;

TEST(SquareSimulatorCli, ServesTheExampleSeedAndStopsOnSigterm) {
  const std::string seed = trueup::testing::source_dir() + "/config/examples/square-sim-seed.json";
  const std::string logs = trueup::testing::make_temp_dir("sim-square-cli");
  Process sim({trueup::testing::trueup_binary(), "sim", "square", "--port", "0", "--seed", seed},
              {{"SQUARE_ACCESS_TOKEN", "EAAA_cli_test"}}, logs);
  // The URL is the first line on stdout, once the port is bound.
  const std::string url = sim.first_stdout_line(std::chrono::seconds(30));
  ASSERT_TRUE(url.starts_with("http://127.0.0.1:")) << url << "\n" << sim.stderr_text();

  http::OutboundClient client(http::OutboundSettings{});
  http::OutboundRequest request;
  request.url = url + "/v2/locations";
  request.headers.add("Authorization", "Bearer EAAA_cli_test");
  request.headers.add("Square-Version", "2025-08-20");
  auto reply = client.send(request);
  ASSERT_TRUE(reply.ok()) << reply.error().describe();
  EXPECT_EQ(reply->status, 200);
  EXPECT_EQ(nlohmann::json::parse(reply->body)["locations"].size(), 2u);

  // The seed's sales took their stock: 10 small T-shirts, one sold.
  request.method = "POST";
  request.url = url + "/v2/inventory/counts/batch-retrieve";
  request.body = R"({"catalog_object_ids": ["VARSIMTSHIRTS0000000001S"], "location_ids": ["LSIMSTORE0001"]})";
  reply = client.send(request);
  ASSERT_TRUE(reply.ok()) << reply.error().describe();
  ASSERT_EQ(reply->status, 200) << reply->body;
  EXPECT_EQ(nlohmann::json::parse(reply->body)["counts"][0]["quantity"], "9");

  // Without the token: Square's 401.
  request.headers = {};
  reply = client.send(request);
  ASSERT_TRUE(reply.ok());
  EXPECT_EQ(reply->status, 401);

  sim.signal(SIGTERM);
  auto code = sim.wait(std::chrono::seconds(30));
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, 0) << sim.stderr_text();
}

TEST(SquareSimulatorCli, BadSeedIsAUsageError) {
  const std::string dir = trueup::testing::make_temp_dir("sim-square-cli-seed");
  trueup::testing::write_file(dir + "/seed.json", R"({"locations": [{"name": "no id"}]})");
  auto result =
      trueup::testing::run_process({trueup::testing::trueup_binary(), "sim", "square", "--seed", dir + "/seed.json"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find("/locations/0/id"), std::string::npos) << result.err;
}

TEST(SquareSimulatorCli, WebhooksWithoutTheSignatureKeyAreAUsageError) {
  const std::string seed = trueup::testing::source_dir() + "/config/examples/square-sim-seed.json";
  auto result = trueup::testing::run_process(
      {trueup::testing::trueup_binary(), "sim", "square", "--seed", seed, "--webhook-url", "http://127.0.0.1:9/hooks"},
      {{"SQUARE_WEBHOOK_SIGNATURE_KEY", ""}});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find("SQUARE_WEBHOOK_SIGNATURE_KEY"), std::string::npos) << result.err;
}

}  // namespace
}  // namespace trueup::connectors::square
