#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>
#include <string>

#include "common/sim/config_document.hpp"
#include "sim_command.hpp"
#include "simulator.hpp"

namespace trueup::app {
namespace {

using namespace sim_cli;

struct ShopifySimOptions {
  int port = 0;
  std::string seed_path;
  std::string config_path;
  std::string webhook_url;
  std::string secret_env = "SHOPIFY_WEBHOOK_SECRET";
  std::string token_env = "SHOPIFY_ACCESS_TOKEN";
  bool access_log = false;
};

int run_shopify(const ShopifySimOptions& o) {
  const sigset_t stop_signals = block_stop_signals();

  connectors::shopify::ShopifySimulatorSettings settings;
  settings.port = static_cast<std::uint16_t>(o.port);
  settings.access_log = o.access_log;
  if (!o.config_path.empty()) {
    auto config = connectors::sim::load_config_file(o.config_path);
    if (!config) {
      std::cerr << config.error().message << "\n";
      return kUsageError;
    }
    auto applied = connectors::shopify::apply_simulator_config(settings, *config);
    if (!applied) {
      std::cerr << o.config_path << ": " << applied.error().message << "\n";
      return kUsageError;
    }
    settings = *applied;
  }
  if (!o.webhook_url.empty()) settings.webhooks.url = o.webhook_url;
  settings.app_secret = env(o.secret_env);
  if (!settings.webhooks.url.empty() && settings.app_secret.empty()) {
    std::cerr << "sim shopify: webhooks go to " << settings.webhooks.url << " but $" << o.secret_env
              << " (the app secret that signs them) is not set\n";
    return kUsageError;
  }
  settings.access_token = env(o.token_env);
  if (settings.access_token.empty()) {
    settings.access_token = "shpat_trueup_simulator";
    std::cerr << "sim shopify: $" << o.token_env << " is not set; the access token is shpat_trueup_simulator\n";
  }
  auto seed = load_seed(o.seed_path);
  if (!seed) {
    std::cerr << seed.error().message << "\n";
    return kUsageError;
  }
  auto sim = connectors::shopify::ShopifySimulator::create(settings, *seed);
  if (!sim) {
    std::cerr << o.seed_path << ": " << sim.error().message << "\n";
    return kUsageError;
  }
  if (auto st = (*sim)->start(); !st) {
    std::cerr << "sim shopify: " << st.error().describe() << "\n";
    return kRuntimeFailure;
  }
  std::cout << (*sim)->base_url() << "\n" << std::flush;
  std::cerr << "sim shopify: Admin REST " << settings.api_version << " at " << (*sim)->base_url() << "/admin/api/"
            << settings.api_version << "/, admin at " << (*sim)->base_url() << "/_sim/; webhooks "
            << (settings.webhooks.url.empty() ? "off" : "to " + settings.webhooks.url) << ". Ctrl-C stops.\n";
  wait_for_stop(stop_signals);
  (*sim)->stop();
  return kOk;
}

}  // namespace

sim_cli::Runner add_shopify_sim(CLI::App& group) {
  auto options = std::make_shared<ShopifySimOptions>();
  auto* shopify = group.add_subcommand("shopify", "Simulate a Shopify shop (Admin REST 2026-07, webhooks).");
  shopify->add_option("--port", options->port, "Port on 127.0.0.1 (0 picks a free one)")
      ->check(CLI::Range(0, 65535))
      ->capture_default_str();
  shopify->add_option("--seed", options->seed_path, "Seed file (JSON): shop, locations, products, levels, orders")
      ->required();
  shopify->add_option("--config", options->config_path, "Simulator config (YAML or JSON): faults, webhooks, bucket");
  shopify->add_option("--webhook-url", options->webhook_url, "Where webhooks go (overrides the config)");
  shopify->add_option("--secret-env", options->secret_env, "Environment variable holding the app secret (HMAC)")
      ->capture_default_str();
  shopify
      ->add_option("--token-env", options->token_env,
                   "Environment variable holding the access token (X-Shopify-Access-Token)")
      ->capture_default_str();
  shopify->add_flag("--access-log", options->access_log, "Log every request");
  return [shopify, options]() -> std::optional<int> {
    if (!*shopify) return std::nullopt;
    return run_shopify(*options);
  };
}

}  // namespace trueup::app
