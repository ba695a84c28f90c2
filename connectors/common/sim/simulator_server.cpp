#include "common/sim/simulator_server.hpp"

#include "trueup/metrics/registry.hpp"

namespace trueup::connectors::sim {

SimulatorServer::SimulatorServer() = default;
SimulatorServer::~SimulatorServer() = default;

Status SimulatorServer::start(const http::ServerSettings& settings, const http::Router& router) {
  address_ = settings.address;
  registry_ = std::make_unique<metrics::Registry>();
  server_ = std::make_unique<http::Server>(settings, router, *registry_);
  return server_->start();
}

std::uint16_t SimulatorServer::port() const { return server_ ? server_->port() : 0; }

std::string SimulatorServer::base_url() const { return "http://" + address_ + ":" + std::to_string(port()); }

void SimulatorServer::stop(SimulatorCore* core, std::chrono::milliseconds drain) {
  if (stopped_) return;
  stopped_ = true;
  if (core) core->stop();
  if (server_) server_->drain(drain);
}

}  // namespace trueup::connectors::sim
