#include "support/daemon.hpp"

#include <gtest/gtest.h>
#include <signal.h>

#include <thread>

#include <nlohmann/json.hpp>

#include "support/http_client.hpp"
#include "support/test_env.hpp"

namespace trueup::testing {

void start_daemon(Daemon& d, const std::string& yaml, std::map<std::string, std::string> env) {
  if (d.dir.empty()) d.dir = make_temp_dir("trueup-e2e-");
  if (d.port == 0) d.port = free_port();
  env["PORT"] = std::to_string(d.port);
  write_file(d.dir + "/trueup.yaml", yaml);
  d.process = std::make_unique<Process>(
      std::vector<std::string>{trueup_binary(), "serve", "--config", d.dir + "/trueup.yaml"}, env, d.dir);
  HttpClient c("127.0.0.1", d.port);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline && d.process->running()) {
    auto r = c.get("/healthz");
    if (r && r->status == 200) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // waiting for the listener
  }
  FAIL() << "trueup did not start:\n" << d.process->stderr_text();
}

void stop_daemon(Daemon& d) {
  d.process->signal(SIGTERM);
  auto code = d.process->wait(std::chrono::seconds(60));
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, 0) << d.process->stderr_text();
}

std::vector<std::string> listed_operations(std::uint16_t port, const std::string& id) {
  HttpClient client("127.0.0.1", port);
  auto listed = client.get("/v1/connectors");
  if (!listed || listed->status != 200) {
    ADD_FAILURE() << "GET /v1/connectors: " << (listed ? listed->body : "no answer");
    return {};
  }
  const auto connectors = nlohmann::json::parse(listed->body);
  for (const auto& c : connectors["items"]) {
    if (c["id"] != id) continue;
    std::vector<std::string> out;
    for (const auto& op : c["operations"])
      out.push_back(op["name"].get<std::string>() + "/" + op["idempotency"].get<std::string>());
    return out;
  }
  ADD_FAILURE() << "connector " << id << " is not listed: " << listed->body;
  return {};
}

std::unique_ptr<Process> start_simulator(const std::string& system, std::uint16_t port,
                                         const std::vector<std::string>& args,
                                         const std::map<std::string, std::string>& env) {
  std::vector<std::string> argv{trueup_binary(), "sim", system, "--port", std::to_string(port)};
  argv.insert(argv.end(), args.begin(), args.end());
  auto sim = std::make_unique<Process>(argv, env, make_temp_dir("trueup-sim-"));
  HttpClient admin("127.0.0.1", port);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline && sim->running()) {
    auto r = admin.get("/_sim/inspect");
    if (r && r->status == 200) return sim;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // waiting for the listener
  }
  ADD_FAILURE() << "trueup sim " << system << " did not start:\n" << sim->stderr_text();
  return sim;
}

std::string psql(const std::string& pg, const std::string& sql) {
  auto r = run_process({"psql", pg, "-Atc", sql});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  while (!r.out.empty() && r.out.back() == '\n') r.out.pop_back();
  return r.out;
}

bool eventually(const std::string& pg, const std::string& sql, const std::string& expected,
                std::chrono::seconds bound) {
  const auto deadline = std::chrono::steady_clock::now() + bound;
  while (std::chrono::steady_clock::now() < deadline) {
    if (psql(pg, sql) == expected) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // background work
  }
  return false;
}

}  // namespace trueup::testing
