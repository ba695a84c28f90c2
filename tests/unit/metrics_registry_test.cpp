// The Prometheus registry renders valid text format 0.0.4: checked by
// promtool, the reference implementation's own linter.
#include <gtest/gtest.h>

#include "support/process.hpp"
#include "trueup/metrics/registry.hpp"

namespace trueup::metrics {
namespace {

TEST(MetricsRegistry, CountersGaugesHistogramsRender) {
  Registry r;
  r.counter("trueup_things_total", "Things.", {{"kind", "a"}}).inc();
  r.counter("trueup_things_total", "Things.", {{"kind", "a"}}).inc(2);
  r.counter("trueup_things_total", "Things.", {{"kind", "b\"q"}}).inc();
  r.gauge("trueup_level", "Level.").set(4.5);
  auto& h = r.histogram("trueup_latency_seconds", "Latency.", {0.1, 1});
  h.observe(0.05);
  h.observe(0.5);
  h.observe(5);
  auto text = r.render();
  EXPECT_NE(text.find("trueup_things_total{kind=\"a\"} 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("trueup_things_total{kind=\"b\\\"q\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("trueup_level 4.5\n"), std::string::npos);
  EXPECT_NE(text.find("trueup_latency_seconds_bucket{le=\"0.10000000000000001\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("trueup_latency_seconds_bucket{le=\"1\"} 2\n"), std::string::npos);
  EXPECT_NE(text.find("trueup_latency_seconds_bucket{le=\"+Inf\"} 3\n"), std::string::npos);
  EXPECT_NE(text.find("trueup_latency_seconds_count 3\n"), std::string::npos);
}

TEST(MetricsRegistry, ConflictingRegistrationIsAProgrammingError) {
  Registry r;
  r.counter("trueup_x_total", "X.");
  EXPECT_THROW(r.gauge("trueup_x_total", "X."), std::logic_error);
  EXPECT_THROW(r.counter("trueup_x_total", "X.", {{"a", "b"}}), std::logic_error);
  EXPECT_THROW(r.counter("bad-name", "X."), std::logic_error);
}

TEST(MetricsRegistry, ProcessMetricsPassPromtool) {
  Registry r;
  register_process_metrics(r);
  r.counter("trueup_http_requests_total", "HTTP requests.", {{"route", "/healthz"}, {"status", "2xx"}}).inc();
  r.histogram("trueup_http_request_duration_seconds", "Latency.", latency_buckets(), {{"route", "/healthz"}})
      .observe(0.001);
  auto text = r.render();
  EXPECT_NE(text.find("process_resident_memory_bytes "), std::string::npos);
  EXPECT_EQ(text.find("process_resident_memory_bytes 0\n"), std::string::npos) << "RSS must be read from /proc";
  EXPECT_NE(text.find("process_open_fds "), std::string::npos);
  EXPECT_NE(text.find("process_start_time_seconds "), std::string::npos);
  EXPECT_NE(text.find("trueup_build_info{version="), std::string::npos);
  auto result = trueup::testing::run_process({"promtool", "check", "metrics"}, {}, std::chrono::seconds(30), text);
  EXPECT_EQ(result.exit_code, 0) << result.out << result.err;
}

}  // namespace
}  // namespace trueup::metrics
