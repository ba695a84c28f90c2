#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>
#include <string>

#include "business_central/simulator.hpp"
#include "sim_command.hpp"

namespace trueup::app {
namespace {

using namespace sim_cli;

namespace bc = connectors::business_central;

int run_business_central(const CommonOptions& o) {
  const sigset_t stop_signals = block_stop_signals();
  auto settings =
      read_settings<bc::BusinessCentralSimulatorSettings>("business-central", o, bc::apply_simulator_config);
  if (!settings) return kUsageError;
  settings->access_token = token_or("business-central", o.token_env, "bc_trueup_simulator");
  return serve<bc::BusinessCentralSimulator>(
      "business-central", stop_signals, *settings, o.seed_path, [](const bc::BusinessCentralSimulator& sim) {
        return "API v2.0 at " + sim.company_url() + "/, subscriptions at " + sim.api_url() +
               "/subscriptions, admin at " + sim.base_url() + "/_sim/.";
      });
}

}  // namespace

sim_cli::Runner add_business_central_sim(CLI::App& group) {
  auto options = std::make_shared<CommonOptions>(with_token_env("BC_ACCESS_TOKEN"));
  auto* bc = group.add_subcommand("business-central",
                                  "Simulate a Business Central company (API v2.0, webhook subscriptions).");
  add_common_options(*bc, *options, "Seed file (JSON): company, locations, items, customers, ledger entries",
                     "Simulator config (YAML or JSON): environment, limits, paging, notifications, faults",
                     "Environment variable holding the bearer token (Authorization: Bearer)");
  return [bc, options]() -> std::optional<int> {
    if (!*bc) return std::nullopt;
    return run_business_central(*options);
  };
}

}  // namespace trueup::app
