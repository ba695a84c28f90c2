#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>
#include <string>

#include "common/sim/config_document.hpp"
#include "sim_command.hpp"
#include "square/simulator.hpp"

namespace trueup::app {
namespace {

using namespace sim_cli;

struct SquareSimOptions {
  int port = 0;
  std::string seed_path;
  std::string config_path;
  std::string webhook_url;
  std::string notification_url;
  std::string key_env = "SQUARE_WEBHOOK_SIGNATURE_KEY";
  std::string token_env = "SQUARE_ACCESS_TOKEN";
  bool access_log = false;
};

int run_square(const SquareSimOptions& o) {
  const sigset_t stop_signals = block_stop_signals();
  namespace square = connectors::square;

  square::SquareSimulatorSettings settings;
  settings.port = static_cast<std::uint16_t>(o.port);
  settings.access_log = o.access_log;
  if (!o.config_path.empty()) {
    auto config = connectors::sim::load_config_file(o.config_path);
    if (!config) {
      std::cerr << config.error().message << "\n";
      return kUsageError;
    }
    auto applied = square::apply_simulator_config(settings, *config);
    if (!applied) {
      std::cerr << o.config_path << ": " << applied.error().message << "\n";
      return kUsageError;
    }
    settings = *applied;
  }
  if (!o.webhook_url.empty()) settings.webhooks.url = o.webhook_url;
  if (!o.notification_url.empty()) settings.notification_url = o.notification_url;
  settings.signature_key = env(o.key_env);
  if (!settings.webhooks.url.empty() && settings.signature_key.empty()) {
    std::cerr << "sim square: webhooks go to " << settings.webhooks.url << " but $" << o.key_env
              << " (the subscription's signature key that signs them) is not set\n";
    return kUsageError;
  }
  settings.access_token = env(o.token_env);
  if (settings.access_token.empty()) {
    settings.access_token = "EAAAsquare_trueup_simulator";
    std::cerr << "sim square: $" << o.token_env << " is not set; the access token is EAAAsquare_trueup_simulator\n";
  }
  auto seed = load_seed(o.seed_path);
  if (!seed) {
    std::cerr << seed.error().message << "\n";
    return kUsageError;
  }
  auto sim = square::SquareSimulator::create(settings, *seed);
  if (!sim) {
    std::cerr << o.seed_path << ": " << sim.error().message << "\n";
    return kUsageError;
  }
  if (auto st = (*sim)->start(); !st) {
    std::cerr << "sim square: " << st.error().describe() << "\n";
    return kRuntimeFailure;
  }
  std::cout << (*sim)->base_url() << "\n" << std::flush;
  std::cerr << "sim square: Square API (Square-Version " << settings.api_version << ") at " << (*sim)->base_url()
            << "/v2/, admin at " << (*sim)->base_url() << "/_sim/; webhooks "
            << (settings.webhooks.url.empty() ? "off" : "to " + settings.webhooks.url) << ". Ctrl-C stops.\n";
  wait_for_stop(stop_signals);
  (*sim)->stop();
  return kOk;
}

}  // namespace

sim_cli::Runner add_square_sim(CLI::App& group) {
  auto options = std::make_shared<SquareSimOptions>();
  auto* square = group.add_subcommand("square", "Simulate a Square seller account (Square API 2025-08-20, webhooks).");
  square->add_option("--port", options->port, "Port on 127.0.0.1 (0 picks a free one)")
      ->check(CLI::Range(0, 65535))
      ->capture_default_str();
  square
      ->add_option("--seed", options->seed_path, "Seed file (JSON): merchant, locations, items, counts, orders, sales")
      ->required();
  square->add_option("--config", options->config_path, "Simulator config (YAML or JSON): faults, webhooks, bucket");
  square->add_option("--webhook-url", options->webhook_url, "Where webhooks go (overrides the config)");
  square->add_option("--notification-url", options->notification_url,
                     "The subscription's notification URL that is signed (default: the webhook URL)");
  square->add_option("--key-env", options->key_env, "Environment variable holding the webhook signature key")
      ->capture_default_str();
  square
      ->add_option("--token-env", options->token_env,
                   "Environment variable holding the access token (Authorization: Bearer)")
      ->capture_default_str();
  square->add_flag("--access-log", options->access_log, "Log every request");
  return [square, options]() -> std::optional<int> {
    if (!*square) return std::nullopt;
    return run_square(*options);
  };
}

}  // namespace trueup::app
