#pragma once
// A small blocking HTTP/1.1 client (plain TCP, keep-alive), for the command
// line's operator verbs and for tests. Connectors use the shared, TLS-capable
// OutboundClient (outbound.hpp) instead.
//
// Thread-safety: one client per thread.

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "trueup/core/error.hpp"

namespace trueup::http {

struct ClientReply {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-cased names
  std::string body;
  std::string header(const std::string& lower) const {
    auto it = headers.find(lower);
    return it == headers.end() ? "" : it->second;
  }
};

class BlockingClient {
 public:
  BlockingClient(std::string host, std::uint16_t port, std::chrono::milliseconds timeout = std::chrono::seconds(30));
  ~BlockingClient();
  // Errors: unavailable (cannot connect, connection lost), timeout.
  Result<ClientReply> request(const std::string& method, const std::string& target, const std::string& body = "",
                              const std::map<std::string, std::string>& headers = {});
  // Opens the connection without sending anything.
  Status connect();
  void close();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

struct ParsedUrl {
  std::string scheme = "http";  // "http" or "https"
  std::string host;             // IPv6 literals without brackets
  std::uint16_t port = 80;
  std::string target = "/";  // path and query; a fragment is dropped
};

// "http://127.0.0.1:8080/base" -> host, port, target; only http.
Result<ParsedUrl> parse_http_url(const std::string& url);

// http:// (default port 80) or https:// (443). Errors: invalid_argument for
// another scheme, no host, a bad port, or credentials in the URL.
Result<ParsedUrl> parse_url(const std::string& url);

}  // namespace trueup::http
