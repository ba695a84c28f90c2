#pragma once
// The HTTP/1.1 server (Boost.Beast, C++20 coroutines) behind a plain
// interface; Asio stays inside src/http.
//
// Keep-alive, a body size limit, header/read/idle/write timeouts and a bound
// on open connections (beyond it a connection gets 503 and is closed).
// `drain` stops accepting, lets in-flight requests finish, closes idle
// connections, and force-closes what remains when the grace period ends.
//
// Thread-safety: start/drain/stop from one controlling thread.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "trueup/core/error.hpp"
#include "trueup/http/router.hpp"

namespace trueup::metrics {
class Registry;
}

namespace trueup::http {

struct ServerSettings {
  std::string address = "127.0.0.1";
  std::uint16_t port = 8080;  // 0 picks a free port
  int threads = 0;            // 0 = one per core
  std::size_t max_connections = 1024;
  std::size_t max_body_bytes = 1 << 20;
  std::size_t max_header_bytes = 16 * 1024;
  std::chrono::milliseconds header_timeout{10000};
  std::chrono::milliseconds read_timeout{30000};
  std::chrono::milliseconds idle_timeout{60000};
  std::chrono::milliseconds write_timeout{30000};
  bool access_log = true;  // one log line per request
};

class Server {
 public:
  Server(ServerSettings settings, const Router& router, metrics::Registry& registry);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and starts the I/O threads. Errors: unavailable (address in use, ...).
  Status start();
  // The bound port (useful with port 0).
  std::uint16_t port() const;
  // Graceful stop; returns true when every connection finished within `grace`.
  bool drain(std::chrono::milliseconds grace);

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace trueup::http
