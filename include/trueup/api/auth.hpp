#pragma once
// API keys for the system API: each configured key is stored as the hex
// SHA-256 of the key (never the key itself) with its scopes. Scopes nest:
// admin includes operate, operate includes read.
//
// A request presents its key as `Authorization: Bearer KEY` or `X-Api-Key: KEY`.
// Missing or unknown key: 401; a known key without the scope: 403.
//
// Thread-safety: immutable after construction.

#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "trueup/http/message.hpp"

namespace trueup::api {

enum class Scope { read = 0, operate = 1, admin = 2 };

std::string_view scope_name(Scope s);
std::optional<Scope> parse_scope(std::string_view text);

struct ApiKey {
  std::string name;        // who holds it, for logs and "resolved by"
  std::string sha256_hex;  // 64 lower-case hex digits
  Scope scope = Scope::read;
};

struct Principal {
  std::string name;  // the key's name, or "anonymous"
  Scope scope = Scope::read;
};

// Hex SHA-256 of `text` (what `trueup api-key hash` prints).
std::string sha256_hex(std::string_view text);

class Authenticator {
 public:
  // With `allow_anonymous`, requests without a key act as "anonymous" admin
  // (for `trueup dev` only; `serve` refuses it unless set explicitly).
  Authenticator(std::vector<ApiKey> keys, bool allow_anonymous);

  // The principal, or the 401/403 problem response to send.
  std::variant<Principal, http::Response> authenticate(const http::Request& request, Scope required) const;

 private:
  std::vector<ApiKey> keys_;
  bool allow_anonymous_;
};

}  // namespace trueup::api
