// `trueup dev` (the README's `make run`): the simulated estate starts, POS
// sales reach the ERP once each and the web shop gets pushes, /metrics is
// served, and SIGINT stops everything with exit code 0.
#include <gtest/gtest.h>

#include <csignal>
#include <regex>
#include <thread>

#include <nlohmann/json.hpp>

#include "support/http_client.hpp"
#include "support/process.hpp"
#include "support/test_env.hpp"

namespace {

using namespace trueup::testing;
using nlohmann::json;

struct SummaryFigures {
  long sales = -1;
  long returns = -1;
  long posted = -1;
  long pushes = -1;
  bool twice = false;
};

// The last summary line's figures ("[00:00:05] sales 11 (returns 0, web 1)  ERP posted 9  pushes 27 ...").
SummaryFigures last_summary(const std::string& out) {
  static const std::regex line(
      R"(\] sales (\d+) \(returns (\d+), .*ERP posted (\d+) docs( \(\d+ TWICE\))?  pushes (\d+))");
  SummaryFigures f;
  for (auto it = std::sregex_iterator(out.begin(), out.end(), line); it != std::sregex_iterator(); ++it) {
    f.sales = std::stol((*it)[1]);
    f.returns = std::stol((*it)[2]);
    f.posted = std::stol((*it)[3]);
    f.twice = (*it)[4].matched;
    f.pushes = std::stol((*it)[5]);
  }
  return f;
}

TEST(DevE2E, EstateSellsPostsToTheErpOncePushesToTheShopAndStopsCleanly) {
  const std::string dir = make_temp_dir("trueup-dev-e2e");
  const std::uint16_t port = free_port();
  Process dev({trueup_binary(), "dev", "--port", std::to_string(port), "--db", dir + "/dev.db", "--summary-interval",
               "1", "--sales-per-second", "5", "--skus", "100", "--stores", "3"},
              {}, dir);

  // Bounded wait for the effects: receipts booked in the ERP and shop quantities pushed.
  SummaryFigures f;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(180);
  while (std::chrono::steady_clock::now() < deadline && dev.running()) {
    f = last_summary(dev.stdout_text());
    if (f.posted >= 20 && f.pushes >= 5) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  ASSERT_TRUE(dev.running()) << dev.stderr_text();
  EXPECT_GE(f.posted, 20) << dev.stdout_text() << dev.stderr_text();
  EXPECT_GE(f.pushes, 5) << dev.stdout_text();
  EXPECT_FALSE(f.twice) << dev.stdout_text();
  EXPECT_LE(f.posted, f.sales + f.returns) << "every posted document is a sale or a return the estate made";

  HttpClient client("127.0.0.1", port);
  auto metrics = client.get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->status, 200);
  EXPECT_NE(metrics->body.find("trueup_availability_pushes_total{channel=\"web\",result=\"accepted\"}"),
            std::string::npos);
  // The estate's ERP postings went through the durable workflow.
  auto workflows = client.get("/v1/workflows?type=connector_outbound&state=completed");
  ASSERT_TRUE(workflows);
  ASSERT_EQ(workflows->status, 200) << workflows->body;
  EXPECT_FALSE(json::parse(workflows->body)["items"].empty()) << workflows->body;

  dev.signal(SIGINT);
  const auto code = dev.wait(std::chrono::seconds(60));
  ASSERT_TRUE(code.has_value()) << "trueup dev did not stop on SIGINT";
  EXPECT_EQ(*code, 0) << dev.stderr_text();
  const SummaryFigures final_figures = last_summary(dev.stdout_text());
  EXPECT_FALSE(final_figures.twice) << dev.stdout_text();
  EXPECT_GE(final_figures.posted, f.posted);
}

}  // namespace
