#pragma once
// For tests that stand in for a system the code under test calls (a fake
// API, a webhook endpoint): the project's HTTP server on 127.0.0.1 with a
// free port, one thread, no access log, serving a router the test owns.
// Declare it after the router so that it drains (on destruction) before the
// router goes.

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "trueup/http/router.hpp"
#include "trueup/http/server.hpp"
#include "trueup/metrics/registry.hpp"

namespace trueup::testing {

class LoopbackServer {
 public:
  LoopbackServer() = default;
  LoopbackServer(const LoopbackServer&) = delete;
  LoopbackServer& operator=(const LoopbackServer&) = delete;
  ~LoopbackServer() {
    if (server_) server_->drain(std::chrono::seconds(5));
  }

  // Serves `router` (its routes added first); a gtest failure when it cannot.
  void start(http::Router& router) {
    http::ServerSettings s;
    s.port = 0;
    s.threads = 1;
    s.access_log = false;
    server_ = std::make_unique<http::Server>(s, router, registry_);
    EXPECT_TRUE(server_->start().ok());
  }

  std::uint16_t port() const { return server_->port(); }
  // "http://127.0.0.1:<port>" + path
  std::string url(const std::string& path = "") const { return "http://127.0.0.1:" + std::to_string(port()) + path; }

 private:
  metrics::Registry registry_;
  std::unique_ptr<http::Server> server_;
};

}  // namespace trueup::testing
