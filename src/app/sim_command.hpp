#pragma once
// `trueup sim <system>`: runs a simulator of an external system on
// 127.0.0.1 until SIGINT/SIGTERM (connectors/<system>/SIMULATOR.md).
//
// Each system's subcommand lives in its own file (sim_<system>.cpp) and is
// listed once in add_sim_commands; what they share is here.

#include <csignal>
#include <functional>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "stop_signals.hpp"
#include "trueup/core/error.hpp"

namespace CLI {
class App;
}

namespace trueup::app {

// Adds the `sim` group and its subcommands to `cli`. The returned function,
// called after parsing, runs the chosen simulator and gives the exit code,
// or nullopt when `sim` was not on the command line.
std::function<std::optional<int>()> add_sim_commands(CLI::App& cli);

namespace sim_cli {

inline constexpr int kOk = 0;
inline constexpr int kRuntimeFailure = 1;
inline constexpr int kUsageError = 2;

// A simulator subcommand's runner: nullopt when it was not chosen.
using Runner = std::function<std::optional<int>()>;

// The value of environment variable `name`, "" when unset.
std::string env(const std::string& name);

// block_stop_signals() (stop_signals.hpp) first, before the simulator starts
// threads; then this waits for one of them.
void wait_for_stop(const sigset_t& signals);

// A seed or config file as exact JSON (YAML or JSON; numbers keep every
// digit); the error message names the file.
Result<nlohmann::json> load_seed(const std::string& path);

// A simulator config file (YAML or JSON, exact numbers); errors name the file.
Result<nlohmann::json> load_config(const std::string& path);

// What every simulator command takes.
struct CommonOptions {
  int port = 0;
  std::string seed_path;
  std::string config_path;
  std::string token_env;  // the environment variable holding the API token
  bool access_log = false;
};

inline CommonOptions with_token_env(std::string name) {
  CommonOptions o;
  o.token_env = std::move(name);
  return o;
}

// Adds --port, --seed (required), --config, --token-env and --access-log.
void add_common_options(CLI::App& command, CommonOptions& o, const std::string& seed_help,
                        const std::string& config_help, const std::string& token_help);

// Prints `message` on stderr, prefixed "sim <system>: ".
void note(const std::string& system, const std::string& message);

// The system's settings from --port, --access-log and --config (read with the
// system's apply_simulator_config); nullopt after printing why.
template <class Settings, class Apply>
std::optional<Settings> read_settings(const std::string& system, const CommonOptions& o, Apply apply) {
  Settings settings;
  settings.port = static_cast<std::uint16_t>(o.port);
  settings.access_log = o.access_log;
  if (o.config_path.empty()) return settings;
  auto config = load_config(o.config_path);
  if (!config) {
    note(system, config.error().message);
    return std::nullopt;
  }
  auto applied = apply(settings, *config);
  if (!applied) {
    note(system, o.config_path + ": " + applied.error().message);
    return std::nullopt;
  }
  return *applied;
}

// $<env_name>, or `fallback` with a note.
std::string token_or(const std::string& system, const std::string& env_name, const std::string& fallback);

// The simulator's base URL on stdout (tests and scripts read it).
void print_base_url(const std::string& url);

// Creates the simulator from the seed, starts it, prints its base URL on
// stdout and describe(sim) on stderr, waits for SIGINT/SIGTERM and stops it.
// The exit code.
template <class Simulator, class Settings, class Describe>
int serve(const std::string& system, const sigset_t& stop_signals, const Settings& settings,
          const std::string& seed_path, Describe describe) {
  auto seed = load_seed(seed_path);
  if (!seed) {
    note(system, seed.error().message);
    return kUsageError;
  }
  auto sim = Simulator::create(settings, *seed);
  if (!sim) {
    note(system, seed_path + ": " + sim.error().message);
    return kUsageError;
  }
  if (auto st = (*sim)->start(); !st) {
    note(system, st.error().describe());
    return kRuntimeFailure;
  }
  print_base_url((*sim)->base_url());
  note(system, describe(**sim) + " Ctrl-C stops.");
  wait_for_stop(stop_signals);
  (*sim)->stop();
  return kOk;
}

}  // namespace sim_cli

// The subcommands (sim_<system>.cpp).
sim_cli::Runner add_shopify_sim(CLI::App& group);
sim_cli::Runner add_business_central_sim(CLI::App& group);
sim_cli::Runner add_square_sim(CLI::App& group);

}  // namespace trueup::app
