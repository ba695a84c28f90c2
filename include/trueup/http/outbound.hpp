#pragma once
// The outbound HTTP/1.1 client shared by every connector in the process
// (Boost.Beast behind a plain interface; Asio stays inside src/http).
//
// - http:// and https:// (the URL's scheme decides). TLS verifies the peer's
//   certificate chain and its host name (DNS name or IP address), and sends
//   SNI for DNS names; the trust store is the system's unless `ca_file` /
//   `ca_dir` name one. Only `insecure_skip_verify` turns verification off,
//   and the client logs a warning when it does.
// - Keep-alive pool per (scheme, host, port): at most `max_idle_per_host`
//   idle connections, each closed after `idle_timeout`. A pooled connection
//   that the server has closed is dropped before use; when one fails during
//   the exchange instead (the close raced the request), the request is sent
//   again once on a fresh connection, but only when no byte of it had been
//   written or its method is idempotent (GET, HEAD, OPTIONS, TRACE, PUT,
//   DELETE). A POST that may have reached the server is never resent here:
//   the caller decides, with the target's idempotency key.
// - Bounded concurrency per named target (a connector instance id; by default
//   "scheme://host:port"): at most `max_in_flight` requests run, up to
//   `max_queued` more wait in order, and beyond that a request fails at once
//   with Errc::overloaded. Waiting counts against the request's timeout.
//
// Errors (Result's Error, never exceptions):
//   invalid_argument  the URL is not absolute http(s), or has credentials
//   timeout           no complete answer within the request's timeout (queueing,
//                     connect, TLS handshake, write and read), or no connection
//                     within `connect_timeout`
//   unavailable       cannot resolve or connect (refused, reset), the connection
//                     broke, the response was malformed, the client stopped; and
//                     a failed TLS certificate check, whose message starts
//                     "TLS certificate verification failed"
//   overloaded        the target's queue is full
//   unsupported       the response exceeds `max_response_body_bytes` or
//                     `max_response_header_bytes`
//   internal          send() called on one of the client's own I/O threads
// Any HTTP status, 4xx and 5xx included, is a successful exchange: the reply
// carries it. Redirects are not followed; proxies are not supported.
//
// Thread-safety: every member function may be called from any thread. The
// blocking send() must not run on the client's I/O threads (it would wait on
// itself): call send_async() from an async callback instead. Destroying the
// client stops it (see stop()).

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "trueup/core/error.hpp"

namespace trueup::http {

// Header fields in order, repeated names kept; lookups ignore case.
class HeaderFields {
 public:
  void add(std::string name, std::string value) { fields_.emplace_back(std::move(name), std::move(value)); }
  // The first value of `name`, or nullptr.
  const std::string* find(std::string_view name) const;
  // The first value of `name`, or "".
  std::string get(std::string_view name) const;
  // Every value of `name`, in order.
  std::vector<std::string> all(std::string_view name) const;
  const std::vector<std::pair<std::string, std::string>>& fields() const { return fields_; }
  bool empty() const { return fields_.empty(); }

 private:
  std::vector<std::pair<std::string, std::string>> fields_;
};

struct OutboundRequest {
  std::string method = "GET";
  std::string url;       // absolute: "https://shop.example/admin/api/2024-01/orders.json?limit=50"
  HeaderFields headers;  // Host, Content-Length and User-Agent are set unless given
  std::string body;
  std::chrono::milliseconds timeout{0};  // whole exchange including queueing; 0 = settings.request_timeout
  std::string target;                    // concurrency target; "" = "scheme://host:port"
};

struct OutboundReply {
  int status = 0;
  HeaderFields headers;
  std::string body;
  std::chrono::microseconds elapsed{0};  // from send to the complete response, queueing included
};

struct OutboundTargetLimits {
  std::size_t max_in_flight = 8;
  std::size_t max_queued = 256;
};

struct OutboundSettings {
  int threads = 1;                                   // I/O threads
  std::chrono::milliseconds connect_timeout{5000};   // resolve + TCP connect + TLS handshake
  std::chrono::milliseconds request_timeout{30000};  // default OutboundRequest::timeout
  std::size_t max_idle_per_host = 8;
  std::chrono::milliseconds idle_timeout{30000};
  std::size_t max_response_body_bytes = 16 * 1024 * 1024;
  std::size_t max_response_header_bytes = 64 * 1024;
  OutboundTargetLimits default_limits;  // for targets without set_target_limits
  std::string ca_file;                  // PEM bundle; with ca_dir, replaces the system trust store
  std::string ca_dir;                   // OpenSSL hashed directory (c_rehash)
  bool insecure_skip_verify = false;    // no certificate or host name check (logs a warning)
  std::string user_agent = "trueup";
};

// Counters since the client started, for tests and metrics.
struct OutboundStats {
  std::uint64_t connections_opened = 0;  // TCP connections established
  std::uint64_t connections_reused = 0;  // requests sent on a pooled connection
  std::uint64_t retries = 0;             // requests resent after a stale pooled connection broke
  std::size_t idle_connections = 0;      // in the pool now
};

struct OutboundTargetStats {
  std::size_t in_flight = 0;
  std::size_t queued = 0;
};

class OutboundClient {
 public:
  using Callback = std::function<void(Result<OutboundReply>)>;

  // Starts the I/O threads. Throws std::runtime_error when `ca_file` or
  // `ca_dir` cannot be loaded (start-up error).
  explicit OutboundClient(OutboundSettings settings);
  ~OutboundClient();
  OutboundClient(const OutboundClient&) = delete;
  OutboundClient& operator=(const OutboundClient&) = delete;

  // Limits for a named target; applies to requests admitted from now on.
  void set_target_limits(const std::string& target, OutboundTargetLimits limits);

  // Blocks until the exchange ends. Not on the client's I/O threads.
  Result<OutboundReply> send(const OutboundRequest& request);

  // `done` is called exactly once: on an I/O thread; or on the calling thread
  // before send_async returns when the request is refused at once (bad URL,
  // queue full, client stopped); or, for a request still queued, on the thread
  // calling stop(). It must not block or throw; it may call send_async.
  void send_async(OutboundRequest request, Callback done);

  OutboundStats stats() const;
  OutboundTargetStats target_stats(const std::string& target) const;

  // Refuses new requests, fails queued ones and aborts in-flight ones with
  // Errc::unavailable, closes every connection and joins the I/O threads.
  // Idempotent; must not be called from an I/O thread.
  void stop();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace trueup::http
