#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>
#include <string>

#include "common/sim/config_document.hpp"
#include "sim_command.hpp"
#include "business_central/simulator.hpp"

namespace trueup::app {
namespace {

using namespace sim_cli;

struct BusinessCentralSimOptions {
  int port = 0;
  std::string seed_path;
  std::string config_path;
  std::string token_env = "BC_ACCESS_TOKEN";
  bool access_log = false;
};

int run_business_central(const BusinessCentralSimOptions& o) {
  const sigset_t stop_signals = block_stop_signals();
  namespace bc = connectors::business_central;

  bc::BusinessCentralSimulatorSettings settings;
  settings.port = static_cast<std::uint16_t>(o.port);
  settings.access_log = o.access_log;
  if (!o.config_path.empty()) {
    auto config = connectors::sim::load_config_file(o.config_path);
    if (!config) {
      std::cerr << config.error().message << "\n";
      return kUsageError;
    }
    auto applied = bc::apply_simulator_config(settings, *config);
    if (!applied) {
      std::cerr << o.config_path << ": " << applied.error().message << "\n";
      return kUsageError;
    }
    settings = *applied;
  }
  settings.access_token = env(o.token_env);
  if (settings.access_token.empty()) {
    settings.access_token = "bc_trueup_simulator";
    std::cerr << "sim business-central: $" << o.token_env << " is not set; the bearer token is bc_trueup_simulator\n";
  }
  auto seed = load_seed(o.seed_path);
  if (!seed) {
    std::cerr << seed.error().message << "\n";
    return kUsageError;
  }
  auto sim = bc::BusinessCentralSimulator::create(settings, *seed);
  if (!sim) {
    std::cerr << o.seed_path << ": " << sim.error().message << "\n";
    return kUsageError;
  }
  if (auto st = (*sim)->start(); !st) {
    std::cerr << "sim business-central: " << st.error().describe() << "\n";
    return kRuntimeFailure;
  }
  std::cout << (*sim)->base_url() << "\n" << std::flush;
  std::cerr << "sim business-central: API v2.0 at " << (*sim)->company_url() << "/, subscriptions at "
            << (*sim)->api_url() << "/subscriptions, admin at " << (*sim)->base_url() << "/_sim/. Ctrl-C stops.\n";
  wait_for_stop(stop_signals);
  (*sim)->stop();
  return kOk;
}

}  // namespace

sim_cli::Runner add_business_central_sim(CLI::App& group) {
  auto options = std::make_shared<BusinessCentralSimOptions>();
  auto* bc = group.add_subcommand("business-central",
                                  "Simulate a Business Central company (API v2.0, webhook subscriptions).");
  bc->add_option("--port", options->port, "Port on 127.0.0.1 (0 picks a free one)")
      ->check(CLI::Range(0, 65535))
      ->capture_default_str();
  bc->add_option("--seed", options->seed_path, "Seed file (JSON): company, locations, items, customers, ledger entries")
      ->required();
  bc->add_option("--config", options->config_path,
                 "Simulator config (YAML or JSON): environment, limits, paging, notifications, faults");
  bc->add_option("--token-env", options->token_env,
                 "Environment variable holding the bearer token (Authorization: Bearer)")
      ->capture_default_str();
  bc->add_flag("--access-log", options->access_log, "Log every request");
  return [bc, options]() -> std::optional<int> {
    if (!*bc) return std::nullopt;
    return run_business_central(*options);
  };
}

}  // namespace trueup::app
