#pragma once
// A small blocking HTTP/1.1 client for tests (Beast), with keep-alive.

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>

namespace trueup::testing {

struct HttpReply {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-cased names
  std::string body;
  std::string header(const std::string& lower) const {
    auto it = headers.find(lower);
    return it == headers.end() ? "" : it->second;
  }
};

class HttpClient {
 public:
  HttpClient(std::string host, std::uint16_t port);
  ~HttpClient();
  // nullopt when the connection or the exchange failed (e.g. nothing listens).
  std::optional<HttpReply> request(const std::string& method, const std::string& target, const std::string& body = "",
                                   const std::map<std::string, std::string>& headers = {});
  std::optional<HttpReply> get(const std::string& target) { return request("GET", target); }
  // Opens the connection without sending anything (an idle keep-alive client).
  bool connect();
  void close();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// A port nothing listens on right now (bind to 0, read it, close).
std::uint16_t free_port();

}  // namespace trueup::testing
