#pragma once
// For e2e tests: a `trueup serve` process with a YAML file of the test's, and
// reading the database with psql.

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "support/process.hpp"

namespace trueup::testing {

struct Daemon {
  std::string dir;  // working directory, holds trueup.yaml
  std::uint16_t port = 0;
  std::unique_ptr<Process> process;
};

// Writes `yaml` to a new temp dir and starts `trueup serve` with `env`, in
// which PORT is the port to listen on (`d.port` when set, else a free one;
// the YAML uses `${PORT}` or that number); returns when /healthz answers 200
// (bounded: 60 s). A failure is a gtest failure (check HasFatalFailure()).
void start_daemon(Daemon& d, const std::string& yaml, std::map<std::string, std::string> env);
// SIGTERM, then expects exit code 0.
void stop_daemon(Daemon& d);

// `trueup sim <system> --port <port> <args...>` with `env`; returns once its
// admin endpoint (/_sim/inspect) answers (bounded: 60 s; a gtest failure
// otherwise, with the simulator's stderr).
std::unique_ptr<Process> start_simulator(const std::string& system, std::uint16_t port,
                                         const std::vector<std::string>& args,
                                         const std::map<std::string, std::string>& env);

// The operations GET /v1/connectors lists for connector `id`, as
// "name/idempotency" in the listed order; a gtest failure (and empty) when
// the call fails or the connector is not listed.
std::vector<std::string> listed_operations(std::uint16_t port, const std::string& id);

// psql -Atc: the answer without the trailing newline.
std::string psql(const std::string& pg, const std::string& sql);
// Waits (bounded) until `sql` answers `expected`; polls every 100 ms.
bool eventually(const std::string& pg, const std::string& sql, const std::string& expected,
                std::chrono::seconds bound = std::chrono::seconds(300));

}  // namespace trueup::testing
