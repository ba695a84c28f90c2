#include "trueup/api/auth.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>

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

std::string sha256_hex(std::string_view text) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(text.data(), text.size(), digest, &len, EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(len * 2);
  for (unsigned i = 0; i < len; ++i) {
    out += kHex[digest[i] >> 4];
    out += kHex[digest[i] & 0xf];
  }
  return out;
}

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
    if (k.sha256_hex.size() == digest.size() && CRYPTO_memcmp(k.sha256_hex.data(), digest.data(), digest.size()) == 0)
      match = &k;
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
