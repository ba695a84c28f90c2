// ConnectorMetrics: the families, labels and values it renders.

#include <gtest/gtest.h>

#include <string>

#include "trueup/connector/metrics.hpp"

namespace trueup::connector {
namespace {

using namespace std::chrono_literals;

bool has_line(const std::string& text, const std::string& line) {
  return text.find("\n" + line + "\n") != std::string::npos;
}

TEST(ConnectorMetrics, RequestsByOperationAndStatusClassWith429sAndLatency) {
  metrics::Registry registry;
  ConnectorMetrics m(registry, "shopify-main");
  m.record_request("set_inventory", 200, 250ms);
  m.record_request("set_inventory", 201, 500ms);
  m.record_request("set_inventory", 429, 250ms);
  m.record_request("set_inventory", 0, 5s);  // timed out: no response
  m.record_request("fetch_order", 503, 1ms);
  const std::string text = "\n" + registry.render();
  EXPECT_TRUE(has_line(
      text,
      R"(trueup_connector_requests_total{connector="shopify-main",operation="set_inventory",status_class="2xx"} 2)"))
      << text;
  EXPECT_TRUE(has_line(
      text,
      R"(trueup_connector_requests_total{connector="shopify-main",operation="set_inventory",status_class="4xx"} 1)"));
  EXPECT_TRUE(has_line(
      text,
      R"(trueup_connector_requests_total{connector="shopify-main",operation="set_inventory",status_class="error"} 1)"));
  EXPECT_TRUE(has_line(
      text,
      R"(trueup_connector_requests_total{connector="shopify-main",operation="fetch_order",status_class="5xx"} 1)"));
  EXPECT_TRUE(
      has_line(text, R"(trueup_connector_rate_limited_total{connector="shopify-main",operation="set_inventory"} 1)"));
  EXPECT_TRUE(
      has_line(text, R"(trueup_connector_rate_limited_total{connector="shopify-main",operation="fetch_order"} 0)"));
  EXPECT_TRUE(has_line(
      text,
      R"(trueup_connector_request_duration_seconds_count{connector="shopify-main",operation="set_inventory"} 4)"));
  EXPECT_TRUE(has_line(
      text, R"(trueup_connector_request_duration_seconds_sum{connector="shopify-main",operation="set_inventory"} 6)"))
      << text;
}

TEST(ConnectorMetrics, WebhooksBudgetAndBreaker) {
  metrics::Registry registry;
  ConnectorMetrics m(registry, "square-main");
  // All three outcomes exist from the start, at zero.
  std::string text = "\n" + registry.render();
  EXPECT_TRUE(
      has_line(text, R"(trueup_connector_webhook_deliveries_total{connector="square-main",outcome="rejected"} 0)"));
  m.record_webhook(WebhookOutcome::accepted);
  m.record_webhook(WebhookOutcome::accepted);
  m.record_webhook(WebhookOutcome::rejected);
  m.record_webhook(WebhookOutcome::duplicate);
  m.set_budget_remaining(17.5);
  m.set_breaker_state(BreakerState::half_open);
  text = "\n" + registry.render();
  EXPECT_TRUE(
      has_line(text, R"(trueup_connector_webhook_deliveries_total{connector="square-main",outcome="accepted"} 2)"));
  EXPECT_TRUE(
      has_line(text, R"(trueup_connector_webhook_deliveries_total{connector="square-main",outcome="rejected"} 1)"));
  EXPECT_TRUE(
      has_line(text, R"(trueup_connector_webhook_deliveries_total{connector="square-main",outcome="duplicate"} 1)"));
  EXPECT_TRUE(has_line(text, R"(trueup_connector_budget_remaining{connector="square-main"} 17.5)")) << text;
  EXPECT_TRUE(has_line(text, R"(trueup_connector_circuit_open{connector="square-main"} 1)"));
  m.set_breaker_state(BreakerState::closed);
  EXPECT_TRUE(has_line("\n" + registry.render(), R"(trueup_connector_circuit_open{connector="square-main"} 0)"));
}

TEST(ConnectorMetrics, TwoInstancesShareTheFamilies) {
  metrics::Registry registry;
  ConnectorMetrics a(registry, "shopify-eu");
  ConnectorMetrics b(registry, "shopify-us");
  a.record_webhook(WebhookOutcome::accepted);
  b.record_request("fetch_order", 200, 1ms);
  const std::string text = "\n" + registry.render();
  EXPECT_TRUE(
      has_line(text, R"(trueup_connector_webhook_deliveries_total{connector="shopify-eu",outcome="accepted"} 1)"));
  EXPECT_TRUE(
      has_line(text, R"(trueup_connector_webhook_deliveries_total{connector="shopify-us",outcome="accepted"} 0)"));
}

TEST(ConnectorMetrics, StatusClasses) {
  EXPECT_EQ(status_class(0), "error");
  EXPECT_EQ(status_class(204), "2xx");
  EXPECT_EQ(status_class(304), "3xx");
  EXPECT_EQ(status_class(429), "4xx");
  EXPECT_EQ(status_class(599), "5xx");
  EXPECT_EQ(status_class(600), "other");
  EXPECT_EQ(webhook_outcome_name(WebhookOutcome::duplicate), "duplicate");
}

}  // namespace
}  // namespace trueup::connector
