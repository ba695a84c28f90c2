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

// Blocks SIGINT and SIGTERM in this thread and every thread started after
// (call first, before the simulator starts threads) and ignores SIGPIPE.
sigset_t block_stop_signals();
// Waits for one of them.
void wait_for_stop(const sigset_t& signals);

// A seed or config file as exact JSON (YAML or JSON; numbers keep every
// digit); the error message names the file.
Result<nlohmann::json> load_seed(const std::string& path);

}  // namespace sim_cli

// The subcommands (sim_<system>.cpp).
sim_cli::Runner add_shopify_sim(CLI::App& group);
sim_cli::Runner add_business_central_sim(CLI::App& group);
sim_cli::Runner add_square_sim(CLI::App& group);

}  // namespace trueup::app
