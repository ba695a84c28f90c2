#include "trueup/api/auth.hpp"

#include "trueup/core/digest.hpp"

namespace trueup::api {

std::string_view scope_name(Scope s) {
  switch (s) {
    case Scope::read:
      return "read";
    case Scope::operate:
      return "operate";
    case Scope::admin:
      return "admin";
  }
  return "?";
}

std::optional<Scope> parse_scope(std::string_view text) {
  if (text == "read") return Scope::read;
  if (text == "operate") return Scope::operate;
  if (text == "admin") return Scope::admin;
  return std::nullopt;
}

std::string sha256_hex(std::string_view text) { return trueup::sha256_hex(text); }

Authenticator::Authenticator(std::vector<ApiKey> keys, bool allow_anonymous)
    : keys_(std::move(keys)), allow_anonymous_(allow_anonymous) {}

std::variant<Principal, http::Response> Authenticator::authenticate(const http::Request& request,
                                                                    Scope required) const {
  std::string presented;
  if (const auto* auth = request.header("authorization"); auth != nullptr && auth->rfind("Bearer ", 0) == 0) {
    presented = auth->substr(7);
  } else if (const auto* key = request.header("x-api-key"); key != nullptr) {
    presented = *key;
  }
  if (presented.empty()) {
    if (allow_anonymous_) return Principal{"anonymous", Scope::admin};
    auto r = http::problem(401, "/problems/unauthenticated", "Unauthorized",
                           "send an API key as `Authorization: Bearer KEY` or `X-Api-Key: KEY`");
    r.headers.emplace_back("WWW-Authenticate", "Bearer");
    return r;
  }
  const std::string digest = sha256_hex(presented);
  const ApiKey* match = nullptr;
  // Compare against every key in constant time per key, so timing does not
  // tell how much of a hash matched.
  for (const auto& k : keys_) {
    if (constant_time_equal(k.sha256_hex, digest)) match = &k;
  }
  if (match == nullptr) {
    auto r = http::problem(401, "/problems/unauthenticated", "Unauthorized", "the API key is not known");
    r.headers.emplace_back("WWW-Authenticate", "Bearer error=\"invalid_token\"");
    return r;
  }
  if (static_cast<int>(match->scope) < static_cast<int>(required)) {
    return http::problem(403, "/problems/forbidden", "Forbidden",
                         "the API key '" + match->name + "' has scope " + std::string(scope_name(match->scope)) +
                             "; this needs " + std::string(scope_name(required)));
  }
  return Principal{match->name, match->scope};
}

}  // namespace trueup::api
