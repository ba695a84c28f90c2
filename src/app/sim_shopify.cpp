#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>
#include <string>

#include "sim_command.hpp"
#include "simulator.hpp"

namespace trueup::app {
namespace {

using namespace sim_cli;

namespace shopify = connectors::shopify;

struct ShopifySimOptions {
  CommonOptions common = with_token_env("SHOPIFY_ACCESS_TOKEN");
  std::string webhook_url;
  std::string secret_env = "SHOPIFY_WEBHOOK_SECRET";
};

int run_shopify(const ShopifySimOptions& o) {
  const sigset_t stop_signals = block_stop_signals();
  auto settings =
      read_settings<shopify::ShopifySimulatorSettings>("shopify", o.common, shopify::apply_simulator_config);
  if (!settings) return kUsageError;
  if (!o.webhook_url.empty()) settings->webhooks.url = o.webhook_url;
  settings->app_secret = env(o.secret_env);
  if (!settings->webhooks.url.empty() && settings->app_secret.empty()) {
    note("shopify", "webhooks go to " + settings->webhooks.url + " but $" + o.secret_env +
                        " (the app secret that signs them) is not set");
    return kUsageError;
  }
  settings->access_token = token_or("shopify", o.common.token_env, "shpat_trueup_simulator");
  return serve<shopify::ShopifySimulator>(
      "shopify", stop_signals, *settings, o.common.seed_path, [&](const shopify::ShopifySimulator& sim) {
        return "Admin REST " + settings->api_version + " at " + sim.base_url() + "/admin/api/" + settings->api_version +
               "/, admin at " + sim.base_url() + "/_sim/; webhooks " +
               (settings->webhooks.url.empty() ? "off." : "to " + settings->webhooks.url + ".");
      });
}

}  // namespace

sim_cli::Runner add_shopify_sim(CLI::App& group) {
  auto options = std::make_shared<ShopifySimOptions>();
  auto* shopify = group.add_subcommand("shopify", "Simulate a Shopify shop (Admin REST 2026-07, webhooks).");
  add_common_options(*shopify, options->common, "Seed file (JSON): shop, locations, products, levels, orders",
                     "Simulator config (YAML or JSON): faults, webhooks, bucket",
                     "Environment variable holding the access token (X-Shopify-Access-Token)");
  shopify->add_option("--webhook-url", options->webhook_url, "Where webhooks go (overrides the config)");
  shopify->add_option("--secret-env", options->secret_env, "Environment variable holding the app secret (HMAC)")
      ->capture_default_str();
  return [shopify, options]() -> std::optional<int> {
    if (!*shopify) return std::nullopt;
    return run_shopify(*options);
  };
}

}  // namespace trueup::app
