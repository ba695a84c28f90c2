#include "trueup/http/router.hpp"

#include <algorithm>

namespace trueup::http {
namespace {

std::vector<std::string> split_path(std::string_view path) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i < path.size()) {
    if (path[i] == '/') {
      ++i;
      continue;
    }
    auto j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    out.emplace_back(path.substr(i, j - i));
    i = j;
  }
  return out;
}

bool is_param(const std::string& segment) {
  return segment.size() > 2 && segment.front() == '{' && segment.back() == '}';
}

}  // namespace

void Router::add(std::string method, std::string pattern, Handler handler) {
  auto segments = split_path(pattern);
  routes_.push_back(Route{std::move(method), std::move(pattern), std::move(segments), std::move(handler)});
}

void Router::add_sync(std::string method, std::string pattern, std::function<Response(const Request&)> handler) {
  add(std::move(method), std::move(pattern),
      [h = std::move(handler)](Request& request, Respond respond) { respond(h(request)); });
}

std::vector<std::string> Router::describe() const {
  std::vector<std::string> out;
  for (const auto& r : routes_) out.push_back(r.method + " " + r.pattern);
  return out;
}

void Router::dispatch(Request& request, Respond respond) const {
  auto segments = split_path(request.path);
  std::string allowed;
  for (const auto& route : routes_) {
    if (route.segments.size() != segments.size()) continue;
    bool match = true;
    for (std::size_t i = 0; i < segments.size() && match; ++i) {
      match = is_param(route.segments[i]) || route.segments[i] == segments[i];
    }
    if (!match) continue;
    if (route.method != request.method) {
      if (allowed.find(route.method) == std::string::npos) allowed += (allowed.empty() ? "" : ", ") + route.method;
      continue;
    }
    request.params.clear();
    for (std::size_t i = 0; i < segments.size(); ++i) {
      if (is_param(route.segments[i]))
        request.params[route.segments[i].substr(1, route.segments[i].size() - 2)] = segments[i];
    }
    request.route = route.pattern;
    route.handler(request, std::move(respond));
    return;
  }
  request.route = "unmatched";
  if (!allowed.empty()) {
    auto r = problem(405, "/problems/method-not-allowed", "Method Not Allowed",
                     "this resource does not accept " + request.method + "; it accepts " + allowed);
    r.headers.emplace_back("Allow", allowed);
    respond(std::move(r));
    return;
  }
  respond(problem(404, "/problems/not-found", "Not Found", "no resource at " + request.path));
}

}  // namespace trueup::http
