#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>
#include <string>

#include "sim_command.hpp"
#include "square/simulator.hpp"

namespace trueup::app {
namespace {

using namespace sim_cli;

namespace square = connectors::square;

struct SquareSimOptions {
  CommonOptions common = with_token_env("SQUARE_ACCESS_TOKEN");
  std::string webhook_url;
  std::string notification_url;
  std::string key_env = "SQUARE_WEBHOOK_SIGNATURE_KEY";
};

int run_square(const SquareSimOptions& o) {
  const sigset_t stop_signals = block_stop_signals();
  auto settings = read_settings<square::SquareSimulatorSettings>("square", o.common, square::apply_simulator_config);
  if (!settings) return kUsageError;
  if (!o.webhook_url.empty()) settings->webhooks.url = o.webhook_url;
  if (!o.notification_url.empty()) settings->notification_url = o.notification_url;
  settings->signature_key = env(o.key_env);
  if (!settings->webhooks.url.empty() && settings->signature_key.empty()) {
    note("square", "webhooks go to " + settings->webhooks.url + " but $" + o.key_env +
                       " (the subscription's signature key that signs them) is not set");
    return kUsageError;
  }
  settings->access_token = token_or("square", o.common.token_env, "EAAAsquare_trueup_simulator");
  return serve<square::SquareSimulator>(
      "square", stop_signals, *settings, o.common.seed_path, [&](const square::SquareSimulator& sim) {
        return "Square API (Square-Version " + settings->api_version + ") at " + sim.base_url() + "/v2/, admin at " +
               sim.base_url() + "/_sim/; webhooks " +
               (settings->webhooks.url.empty() ? "off." : "to " + settings->webhooks.url + ".");
      });
}

}  // namespace

sim_cli::Runner add_square_sim(CLI::App& group) {
  auto options = std::make_shared<SquareSimOptions>();
  auto* square = group.add_subcommand("square", "Simulate a Square seller account (Square API 2025-08-20, webhooks).");
  add_common_options(*square, options->common, "Seed file (JSON): merchant, locations, items, counts, orders, sales",
                     "Simulator config (YAML or JSON): faults, webhooks, bucket",
                     "Environment variable holding the access token (Authorization: Bearer)");
  square->add_option("--webhook-url", options->webhook_url, "Where webhooks go (overrides the config)");
  square->add_option("--notification-url", options->notification_url,
                     "The subscription's notification URL that is signed (default: the webhook URL)");
  square->add_option("--key-env", options->key_env, "Environment variable holding the webhook signature key")
      ->capture_default_str();
  return [square, options]() -> std::optional<int> {
    if (!*square) return std::nullopt;
    return run_square(*options);
  };
}

}  // namespace trueup::app
