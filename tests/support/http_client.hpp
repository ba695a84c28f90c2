#pragma once
// The test-side view of trueup::http::BlockingClient: nullopt instead of an
// error when an exchange fails.

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "trueup/http/client.hpp"

namespace trueup::testing {

using HttpReply = trueup::http::ClientReply;

class HttpClient {
 public:
  HttpClient(std::string host, std::uint16_t port) : client_(std::move(host), port) {}
  std::optional<HttpReply> request(const std::string& method, const std::string& target, const std::string& body = "",
                                   const std::map<std::string, std::string>& headers = {}) {
    auto r = client_.request(method, target, body, headers);
    if (!r) return std::nullopt;
    return std::move(r).value();
  }
  std::optional<HttpReply> get(const std::string& target) { return request("GET", target); }
  bool connect() { return client_.connect().ok(); }
  void close() { client_.close(); }

 private:
  trueup::http::BlockingClient client_;
};

// A port nothing listens on right now (bind to 0, read it, close).
std::uint16_t free_port();

}  // namespace trueup::testing
