#pragma once
// HTTP request and response as plain values, free of Beast/Asio types, so
// handlers and their tests compile without the networking headers.

#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace trueup::http {

struct Request {
  std::string method;                                       // "GET"
  std::string target;                                       // "/v1/x?y=1" as sent
  std::string path;                                         // "/v1/x"
  std::string query;                                        // "y=1"
  std::map<std::string, std::string, std::less<>> headers;  // names lower-cased
  std::string body;
  std::map<std::string, std::string> params;  // from {name} route segments
  std::string route;                          // the matched route pattern
  std::string request_id;                     // X-Request-Id, given or generated
  std::string remote;                         // peer address

  const std::string* header(std::string_view lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? nullptr : &it->second;
  }
};

struct Response {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  static Response text(int status, std::string body, std::string content_type = "text/plain; charset=utf-8");
  static Response json(int status, std::string body);
};

// An RFC 9457 problem+json response. `type` is a URI reference naming the
// problem kind ("/problems/not-found"); `extra` members are added verbatim
// (values must already be JSON text).
Response problem(int status, std::string_view type, std::string_view title, std::string_view detail,
                 const std::vector<std::pair<std::string, std::string>>& extra = {});

// "2xx", "4xx", ...
std::string status_class(int status);

}  // namespace trueup::http
