#pragma once
// Routes requests by method and path pattern to handlers.
//
// Patterns are literal segments and {name} placeholders: "/v1/workflows/{id}".
// A handler answers through `respond`, exactly once, from any thread; that is
// how handlers hand work to the store's threads and answer later without
// blocking the I/O threads. Unknown paths answer 404 and a known path with
// another method 405, both as problem+json.
//
// Thread-safety: add routes before the server starts; dispatch is read-only.

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "trueup/http/message.hpp"

namespace trueup::http {

using Respond = std::function<void(Response)>;
using Handler = std::function<void(Request&, Respond)>;

class Router {
 public:
  void add(std::string method, std::string pattern, Handler handler);
  // A handler that answers synchronously. It runs on an I/O thread: it must
  // not block.
  void add_sync(std::string method, std::string pattern, std::function<Response(const Request&)> handler);

  // Finds the handler, fills request.params and request.route; when nothing
  // matches, answers 404/405 through `respond` and sets route "unmatched".
  void dispatch(Request& request, Respond respond) const;

  // "GET /v1/x/{id}" for every route, in the order added.
  std::vector<std::string> describe() const;

 private:
  struct Route {
    std::string method;
    std::string pattern;
    std::vector<std::string> segments;
    Handler handler;
  };
  std::vector<Route> routes_;
};

}  // namespace trueup::http
