#pragma once
// The HTTP side of a simulator: serves its router on 127.0.0.1 (or the
// configured address) and stops in the order every simulator must: held
// answers go out first (SimulatorCore::stop flushes the scheduler), then the
// server drains.
//
// Thread-safety: start/stop from one controlling thread.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "common/sim/simulator_core.hpp"
#include "trueup/core/error.hpp"
#include "trueup/http/router.hpp"
#include "trueup/http/server.hpp"

namespace trueup::metrics {
class Registry;
}

namespace trueup::connectors::sim {

class SimulatorServer {
 public:
  SimulatorServer();
  ~SimulatorServer();
  SimulatorServer(const SimulatorServer&) = delete;
  SimulatorServer& operator=(const SimulatorServer&) = delete;

  // Binds and serves `router` (which must outlive the server). Errors:
  // unavailable (port in use).
  Status start(const http::ServerSettings& settings, const http::Router& router);
  // 0 before start.
  std::uint16_t port() const;
  // "http://<address>:<port>"
  std::string base_url() const;
  // core.stop() (held answers go out, deliveries stop), then the drain;
  // idempotent.
  void stop(SimulatorCore* core, std::chrono::milliseconds drain = std::chrono::seconds(5));

 private:
  std::string address_;
  std::unique_ptr<metrics::Registry> registry_;
  std::unique_ptr<http::Server> server_;
  bool stopped_ = false;
};

}  // namespace trueup::connectors::sim
