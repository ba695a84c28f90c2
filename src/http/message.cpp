#include <nlohmann/json.hpp>

#include "trueup/http/message.hpp"

namespace trueup::http {

Response Response::text(int status, std::string body, std::string content_type) {
  Response r;
  r.status = status;
  r.body = std::move(body);
  r.content_type = std::move(content_type);
  return r;
}

Response Response::json(int status, std::string body) { return text(status, std::move(body), "application/json"); }

Response problem(int status, std::string_view type, std::string_view title, std::string_view detail,
                 const std::vector<std::pair<std::string, std::string>>& extra) {
  nlohmann::ordered_json j;
  j["type"] = type;
  j["title"] = title;
  j["status"] = status;
  j["detail"] = detail;
  for (const auto& [k, v] : extra) j[k] = nlohmann::json::parse(v, nullptr, false);
  return Response::text(status, j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                        "application/problem+json");
}

std::string status_class(int status) {
  if (status < 100 || status > 599) return "other";
  return std::to_string(status / 100) + "xx";
}

}  // namespace trueup::http
