#include "sim_command.hpp"

#include <pthread.h>
#include <CLI/CLI.hpp>
#include <cstdlib>
#include <iostream>
#include <vector>

#include "common/exact_json.hpp"
#include "common/sim/config_document.hpp"

namespace trueup::app {

namespace sim_cli {

std::string env(const std::string& name) {
  const char* v = name.empty() ? nullptr : std::getenv(name.c_str());
  return v == nullptr ? std::string() : std::string(v);
}

void wait_for_stop(const sigset_t& signals) {
  int signal_number = 0;
  sigwait(&signals, &signal_number);
}

Result<nlohmann::json> load_seed(const std::string& path) {
  auto text = connectors::sim::read_text_file(path);
  if (!text) return std::move(text).error();
  auto doc = connectors::parse_exact(*text);
  if (!doc) return make_error(doc.error().code, path + ": " + doc.error().message);
  return doc;
}

Result<nlohmann::json> load_config(const std::string& path) { return connectors::sim::load_config_file(path); }

void add_common_options(CLI::App& command, CommonOptions& o, const std::string& seed_help,
                        const std::string& config_help, const std::string& token_help) {
  command.add_option("--port", o.port, "Port on 127.0.0.1 (0 picks a free one)")
      ->check(CLI::Range(0, 65535))
      ->capture_default_str();
  command.add_option("--seed", o.seed_path, seed_help)->required();
  command.add_option("--config", o.config_path, config_help);
  command.add_option("--token-env", o.token_env, token_help)->capture_default_str();
  command.add_flag("--access-log", o.access_log, "Log every request");
}

void note(const std::string& system, const std::string& message) {
  std::cerr << "sim " << system << ": " << message << "\n";
}

std::string token_or(const std::string& system, const std::string& env_name, const std::string& fallback) {
  std::string token = env(env_name);
  if (!token.empty()) return token;
  note(system, "$" + env_name + " is not set; the token is " + fallback);
  return fallback;
}

void print_base_url(const std::string& url) { std::cout << url << "\n" << std::flush; }

}  // namespace sim_cli

std::function<std::optional<int>()> add_sim_commands(CLI::App& cli) {
  auto* group = cli.add_subcommand("sim", "Run a simulator of an external system (127.0.0.1 only).");
  group->require_subcommand(1);
  std::vector<sim_cli::Runner> runners{add_shopify_sim(*group), add_business_central_sim(*group),
                                       add_square_sim(*group)};
  return [runners]() -> std::optional<int> {
    for (const auto& run : runners)
      if (auto code = run()) return code;
    return std::nullopt;
  };
}

}  // namespace trueup::app
