#pragma once
// `trueup sim <system>`: runs a simulator of an external system on
// 127.0.0.1 until SIGINT/SIGTERM (connectors/<system>/SIMULATOR.md).

#include <functional>
#include <optional>

namespace CLI {
class App;
}

namespace trueup::app {

// Adds the `sim` group and its subcommands to `cli`. The returned function,
// called after parsing, runs the chosen simulator and gives the exit code,
// or nullopt when `sim` was not on the command line.
std::function<std::optional<int>()> add_sim_commands(CLI::App& cli);

}  // namespace trueup::app
