// The real trueup binary with real YAML files, against the test PostgreSQL
// and Kafka: health, readiness, metrics (checked by promtool), an event read
// back by kcat, secrets kept out of logs, config errors, and SIGTERM.
#include <gtest/gtest.h>

#include <signal.h>
#include <filesystem>

#include <nlohmann/json.hpp>
#include <thread>

#include "support/daemon.hpp"
#include "support/http_client.hpp"
#include "support/process.hpp"
#include "support/test_env.hpp"

namespace trueup::testing {
namespace {

std::string services_yaml(const std::string& instance, std::uint16_t port) {
  return "instance_id: " + instance +
         "\n"
         "log:\n  level: info\n  format: json\n"
         "http:\n  listen_address: 127.0.0.1\n  port: " +
         std::to_string(port) +
         "\n"
         "shutdown:\n  grace_period: 10s\n"
         "health:\n  check_interval: 500ms\n"
         "store:\n  postgres:\n    url: ${TRUEUP_E2E_PG_URL}\n    pool_size: 2\n"
         "bus:\n  kafka:\n    bootstrap_servers: ${TRUEUP_E2E_KAFKA}\n";
}

TEST(ServeE2E, HealthReadinessMetricsEventAndCleanStop) {
  const std::string pg = require_pg_url();
  const std::string kafka = require_kafka();
  ASSERT_FALSE(pg.empty() || kafka.empty());
  Daemon d;
  d.port = free_port();
  const std::string instance = unique_name("e2e");
  start_daemon(d, services_yaml(instance, d.port), {{"TRUEUP_E2E_PG_URL", pg}, {"TRUEUP_E2E_KAFKA", kafka}});
  ASSERT_FALSE(HasFatalFailure());
  HttpClient client("127.0.0.1", d.port);

  auto ready = client.get("/readyz");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 200) << ready->body;
  auto checks = nlohmann::json::parse(ready->body)["checks"];
  EXPECT_EQ(checks["store"]["engine"], "postgres");
  EXPECT_EQ(checks["store"]["status"], "up");
  EXPECT_EQ(checks["bus"]["engine"], "kafka");
  EXPECT_EQ(checks["bus"]["status"], "up");

  auto missing = client.get("/no/such/route");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  EXPECT_EQ(missing->header("content-type"), "application/problem+json");
  EXPECT_EQ(nlohmann::json::parse(missing->body)["status"], 404);

  auto metrics = client.get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->status, 200);
  EXPECT_EQ(metrics->header("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  for (const char* name :
       {"trueup_build_info{", "process_resident_memory_bytes ", "process_cpu_seconds_total ", "process_open_fds ",
        "process_start_time_seconds ", "trueup_http_requests_total{route=\"/healthz\",status=\"2xx\"}",
        "trueup_http_requests_total{route=\"unmatched\",status=\"4xx\"} 1",
        "trueup_http_request_duration_seconds_bucket{route=\"/readyz\",le=\"+Inf\"} 1",
        "trueup_dependency_up{dependency=\"store\"} 1", "trueup_dependency_up{dependency=\"bus\"} 1"}) {
    EXPECT_NE(metrics->body.find(name), std::string::npos) << name;
  }
  auto promtool = run_process({"promtool", "check", "metrics"}, {}, std::chrono::seconds(30), metrics->body);
  EXPECT_EQ(promtool.exit_code, 0) << promtool.out << promtool.err;

  // The instance announced itself on the system topic; kcat reads it back.
  auto kcat = run_process(
      {"kcat", "-b", kafka, "-C", "-t", "trueup.system.v1", "-o", "beginning", "-e", "-q", "-f", "%k\t%h\t%s\n"}, {},
      std::chrono::seconds(60));
  ASSERT_EQ(kcat.exit_code, 0) << kcat.err;
  bool found = false;
  std::istringstream lines(kcat.out);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind(instance + "\t", 0) != 0) continue;
    found = true;
    EXPECT_NE(line.find("ce_type=com.trueup.instance.started.v1"), std::string::npos) << line;
    EXPECT_NE(line.find("ce_specversion=1.0"), std::string::npos) << line;
    auto data = nlohmann::json::parse(line.substr(line.rfind('\t') + 1));
    EXPECT_EQ(data["instance_id"], instance);
    EXPECT_EQ(data["store"], "postgres");
    EXPECT_EQ(data["bus"], "kafka");
  }
  EXPECT_TRUE(found) << kcat.out;

  // The running process registered itself in the store.
  auto instances = [&] {
    auto q =
        run_process({"psql", pg, "-Atc", "SELECT count(*) FROM trueup_instance WHERE id LIKE '" + instance + "/%'"});
    EXPECT_EQ(q.exit_code, 0) << q.err;
    return q.out;
  };
  EXPECT_EQ(instances(), "1\n");

  // An idle keep-alive connection must not hold up the stop.
  HttpClient idle("127.0.0.1", d.port);
  ASSERT_TRUE(idle.get("/healthz"));
  d.process->signal(SIGTERM);
  auto code = d.process->wait(std::chrono::seconds(30));
  ASSERT_TRUE(code.has_value()) << "did not stop within the grace period";
  EXPECT_EQ(*code, 0) << d.process->stderr_text();
  EXPECT_EQ(instances(), "0\n");  // deregistered on a clean stop

  // Every request line carries its request id; the URL never reaches the log.
  const std::string err = d.process->stderr_text();
  EXPECT_EQ(err.find(pg), std::string::npos);
  std::istringstream log_lines(err);
  int request_lines = 0;
  for (std::string line; std::getline(log_lines, line);) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << "not a JSON line: " << line;
    if (j.value("msg", "") == "http request") {
      ++request_lines;
      EXPECT_EQ(j.value("request_id", "").size(), 16u) << line;
    }
  }
  EXPECT_GE(request_lines, 5);
}

TEST(ServeE2E, ReadinessNamesAStoppedDatabaseAndStopStillExitsZero) {
  // A PostgreSQL cluster of this test's own, so it can be stopped under the daemon.
  const std::string pg_dir = make_temp_dir("trueup-e2e-pg-");
  const std::string scripts = source_dir() + "/scripts/";
  auto up = run_process({scripts + "pg-up", pg_dir}, {}, std::chrono::seconds(120));
  ASSERT_EQ(up.exit_code, 0) << up.err;
  std::string url = up.out.substr(0, up.out.find('\n'));
  Daemon d;
  d.port = free_port();
  start_daemon(d,
               "http:\n  port: " + std::to_string(d.port) +
                   "\nhealth:\n  check_interval: 200ms\n  check_timeout: 1s\n"
                   "store:\n  postgres:\n    url: ${TRUEUP_E2E_PG_URL}\n    pool_size: 1\n"
                   "    connect_timeout: 1s\n",
               {{"TRUEUP_E2E_PG_URL", url}});
  if (HasFatalFailure()) {
    run_process({scripts + "pg-down", pg_dir});
    return;
  }
  HttpClient client("127.0.0.1", d.port);
  auto ready = client.get("/readyz");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 200) << ready->body;

  auto down = run_process({scripts + "pg-down", pg_dir}, {}, std::chrono::seconds(60));
  ASSERT_EQ(down.exit_code, 0) << down.err;
  std::optional<HttpReply> reply;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    reply = client.get("/readyz");
    if (reply && reply->status == 503) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // the next background check
  }
  ASSERT_TRUE(reply);
  ASSERT_EQ(reply->status, 503) << reply->body;
  EXPECT_EQ(reply->header("content-type"), "application/problem+json");
  auto body = nlohmann::json::parse(reply->body);
  EXPECT_EQ(body["status"], 503);
  EXPECT_NE(body["detail"].get<std::string>().find("store"), std::string::npos) << body;
  EXPECT_EQ(body["checks"]["store"]["status"], "down");
  EXPECT_EQ(body["checks"]["bus"]["status"], "up");
  auto metrics = client.get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_NE(metrics->body.find("trueup_dependency_up{dependency=\"store\"} 0"), std::string::npos);

  d.process->signal(SIGTERM);
  auto code = d.process->wait(std::chrono::seconds(30));
  ASSERT_TRUE(code.has_value()) << "did not stop with the database down";
  EXPECT_EQ(*code, 0) << d.process->stderr_text();
}

TEST(ServeE2E, SecretsNeverReachTheLog) {
  // A password that cannot be confused with anything else, to a database
  // that is not there: the connection error is logged, the password is not.
  const std::string password = unique_name("pw-e2e-secret");
  const std::string url = "postgresql://trueup:" + password + "@127.0.0.1:1/trueup?connect_timeout=2";
  auto dir = make_temp_dir("trueup-e2e-");
  write_file(dir + "/trueup.yaml", services_yaml("secret-test", free_port()));
  auto r = run_process({trueup_binary(), "--log-level", "debug", "serve", "--config", dir + "/trueup.yaml"},
                       {{"TRUEUP_E2E_PG_URL", url}, {"TRUEUP_E2E_KAFKA", "127.0.0.1:1"}}, std::chrono::seconds(60));
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_FALSE(r.err.empty());
  EXPECT_EQ(r.err.find(password), std::string::npos) << r.err;
  EXPECT_EQ(r.out.find(password), std::string::npos) << r.out;
}

TEST(ServeE2E, ConfigCheckNamesEveryBadKeyWithItsLine) {
  auto dir = make_temp_dir("trueup-e2e-");
  write_file(dir + "/broken.yaml",
             "log:\n"
             "  level: loud\n"  // line 2
             "http:\n"
             "  port: 99999\n"         // line 4
             "  max_conections: 10\n"  // line 5
             "store:\n"
             "  postgres:\n"
             "    url: postgresql://u:literal@h/db\n"  // line 8
             "bus:\n"
             "  kafka: {}\n"     // line 10
             "colour: blue\n");  // line 11
  auto r = run_process({trueup_binary(), "config", "check", dir + "/broken.yaml"});
  EXPECT_EQ(r.exit_code, 2);
  const std::string f = dir + "/broken.yaml";
  for (const std::string& expected : std::vector<std::string>{
           f + ":2:10: log.level: expected one of", f + ":4:9: http.port: must be at most 65535",
           f + ":5:3: http.max_conections: unknown key; did you mean 'max_connections'?",
           f + ":8:10: store.postgres.url: secrets must not be written in the file",
           f + ":10:10: bus.kafka.bootstrap_servers: required key is missing", f + ":11:1: colour: unknown key"}) {
    EXPECT_NE(r.err.find(expected), std::string::npos) << "missing: " << expected << "\n" << r.err;
  }
  EXPECT_NE(r.err.find("6 problem(s) found"), std::string::npos) << r.err;

  auto ok = run_process({trueup_binary(), "config", "check", "--print", dir + "/broken.yaml"});
  EXPECT_EQ(ok.exit_code, 2);
  auto usage = run_process({trueup_binary(), "serve"});
  EXPECT_EQ(usage.exit_code, 2);
  auto nofile = run_process({trueup_binary(), "serve", "--config", dir + "/absent.yaml"});
  EXPECT_EQ(nofile.exit_code, 2);
  EXPECT_NE(nofile.err.find("absent.yaml: cannot open"), std::string::npos) << nofile.err;
}

TEST(ServeE2E, ShippedConfigurationsValidate) {
  const std::map<std::string, std::string> env{{"TRUEUP_PG_URL", "postgresql://u:p@localhost/db"},
                                               {"TRUEUP_KAFKA_BOOTSTRAP", "localhost:9092"},
                                               {"TRUEUP_KAFKA", "localhost:9092"},
                                               {"TRUEUP_OPERATOR_KEY_SHA256", std::string(64, 'a')},
                                               {"SHOPIFY_APP_SECRET", "shpss_example"},
                                               {"SHOPIFY_ACCESS_TOKEN", "shpat_example"},
                                               {"SQUARE_WEBHOOK_SIGNATURE_KEY", "sq_example"},
                                               {"SQUARE_ACCESS_TOKEN", "EAAA_example"},
                                               {"BC_ACCESS_TOKEN", "bc_example"},
                                               {"BC_CLIENT_STATE", "bc_client_state_example"}};
  std::vector<std::string> files{"dev.yaml", "production.yaml"};
  for (const auto& entry : std::filesystem::directory_iterator(source_dir() + "/config/examples"))
    if (entry.path().extension() == ".yaml") files.push_back("examples/" + entry.path().filename().string());
  EXPECT_GE(files.size(), 4u) << "config/examples/ has a YAML per connector";
  for (const auto& name : files) {
    auto r = run_process({trueup_binary(), "config", "check", source_dir() + "/config/" + name}, env);
    EXPECT_EQ(r.exit_code, 0) << name << ": " << r.err;
  }
}

TEST(ServeE2E, MigrateAppliesOnceThenIsANoOp) {
  auto dir = make_temp_dir("trueup-e2e-");
  write_file(dir + "/trueup.yaml", "store:\n  sqlite:\n    path: " + dir + "/t.db\n");
  auto first = run_process({trueup_binary(), "migrate", "--config", dir + "/trueup.yaml"});
  EXPECT_EQ(first.exit_code, 0) << first.err;
  EXPECT_NE(first.out.find("applied 0001_init.sql"), std::string::npos) << first.out;
  auto second = run_process({trueup_binary(), "migrate", "--config", dir + "/trueup.yaml"});
  EXPECT_EQ(second.exit_code, 0) << second.err;
  EXPECT_NE(second.out.find("0 applied"), std::string::npos) << second.out;
}

}  // namespace
}  // namespace trueup::testing
