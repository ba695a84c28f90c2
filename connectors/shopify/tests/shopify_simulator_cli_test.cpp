// `trueup sim shopify` as a process: prints its URL, serves the seed from
// config/examples, refuses a bad seed with exit 2, stops on SIGTERM with 0.
#include <gtest/gtest.h>

#include <csignal>
#include <thread>

#include <nlohmann/json.hpp>

#include "support/process.hpp"
#include "support/test_env.hpp"
#include "trueup/http/outbound.hpp"

namespace trueup::connectors::shopify {
namespace {

using trueup::testing::Process;

TEST(ShopifySimulatorCli, ServesTheExampleSeedAndStopsOnSigterm) {
  const std::string seed = trueup::testing::source_dir() + "/config/examples/shopify-sim-seed.json";
  const std::string logs = trueup::testing::make_temp_dir("sim-cli");
  Process sim({trueup::testing::trueup_binary(), "sim", "shopify", "--port", "0", "--seed", seed},
              {{"SHOPIFY_ACCESS_TOKEN", "shpat_cli_test"}}, logs);
  // The URL is the first line on stdout, once the port is bound.
  const std::string url = sim.first_stdout_line(std::chrono::seconds(30));
  ASSERT_TRUE(url.starts_with("http://127.0.0.1:")) << url << "\n" << sim.stderr_text();

  http::OutboundClient client(http::OutboundSettings{});
  http::OutboundRequest request;
  request.url = url + "/admin/api/2026-07/locations.json";
  request.headers.add("X-Shopify-Access-Token", "shpat_cli_test");
  auto reply = client.send(request);
  ASSERT_TRUE(reply.ok()) << reply.error().describe();
  EXPECT_EQ(reply->status, 200);
  EXPECT_EQ(nlohmann::json::parse(reply->body)["locations"].size(), 2u);
  EXPECT_EQ(reply->headers.get("X-Shopify-Shop-Api-Call-Limit"), "1/40");

  sim.signal(SIGTERM);
  auto code = sim.wait(std::chrono::seconds(30));
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, 0) << sim.stderr_text();
}

TEST(ShopifySimulatorCli, BadSeedIsAUsageError) {
  const std::string dir = trueup::testing::make_temp_dir("sim-cli-seed");
  trueup::testing::write_file(dir + "/seed.json", R"({"locations": [{"name": "no id"}]})");
  auto result =
      trueup::testing::run_process({trueup::testing::trueup_binary(), "sim", "shopify", "--seed", dir + "/seed.json"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find("/locations/0/id"), std::string::npos) << result.err;
}

}  // namespace
}  // namespace trueup::connectors::shopify
