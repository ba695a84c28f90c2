#pragma once
// Storage for the HTTP `Idempotency-Key` header (IETF
// draft-ietf-httpapi-idempotency-key-header): the first request with a key
// claims it, its response is stored in the same transaction as its effects,
// and later requests with the key get that response again.
//
//   auto b = keys.begin(key, scope, request_fingerprint(method, path, body));
//   New        -> process; in the processing transaction call
//                 complete(tx, claim, response); if processing fails before
//                 commit, abandon(claim) so the client can retry.
//   InFlight   -> 409 Conflict (the first request is still running)
//   Completed  -> replay the stored status, headers and body
//   Mismatch   -> 422 Unprocessable Content (key reused with another request)
//
// A claim is held for `lock_timeout` (default 60 s): a request that crashed
// leaves its key retryable after that. Each claim carries a random token; a
// later claim of an expired lock gets a new token, so a slow first request's
// complete() then fails with Errc::conflict and its transaction (with its
// effects) rolls back: only one of them commits.
//
// Keys expire `retention` (default 72 h) after they were claimed; an expired
// key counts as new. purge_expired() deletes expired rows.
//
// Thread-safety: safe from any thread. begin/abandon/purge_expired are
// blocking store calls (not from an io_context thread; not from inside a Work).

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "trueup/core/error.hpp"
#include "trueup/messaging/clock.hpp"
#include "trueup/store/store.hpp"

namespace trueup::messaging {

struct IdempotencySettings {
  std::chrono::seconds retention{std::chrono::hours(72)};
  std::chrono::seconds lock_timeout{60};
};

struct StoredResponse {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;  // any bytes
};

// The right to process a request: pass it to complete() or abandon().
struct IdempotencyClaim {
  std::string key;
  std::string scope;
  std::string token;
};

namespace idempotency {
struct New {
  IdempotencyClaim claim;
};
struct InFlight {};
struct Completed {
  StoredResponse response;
};
struct Mismatch {};
}  // namespace idempotency

using BeginOutcome =
    std::variant<idempotency::New, idempotency::InFlight, idempotency::Completed, idempotency::Mismatch>;

// Hex SHA-256 of method, path and body (separated by "\n"): what makes two
// requests "the same" for a key.
std::string request_fingerprint(std::string_view method, std::string_view path, std::string_view body);

class IdempotencyKeys {
 public:
  IdempotencyKeys(store::Store& store, IdempotencySettings settings = {}, Clock clock = {});

  // Claims or looks up (key, scope) in its own committed transaction.
  // `scope` separates key spaces (e.g. the API key's id plus the route).
  // Errc::invalid_argument for an empty key or fingerprint, or a key longer
  // than 255 bytes; store errors as they come.
  Result<BeginOutcome> begin(std::string_view key, std::string_view scope, std::string_view fingerprint);

  // Stores the response inside the request's processing transaction.
  // Errc::conflict when the claim is no longer this request's (its lock
  // expired and another request claimed the key, or it was abandoned):
  // return that error from the Work so the effects roll back.
  Status complete(store::Transaction& tx, const IdempotencyClaim& claim, const StoredResponse& response);

  // Releases an in-flight claim (processing failed before commit) so a retry
  // is processed anew. Ok also when the claim was already gone.
  Status abandon(const IdempotencyClaim& claim);

  // Deletes expired keys; returns how many.
  Result<std::size_t> purge_expired();

 private:
  store::Store& store_;
  IdempotencySettings settings_;
  Clock clock_;
  bool postgres_;
};

}  // namespace trueup::messaging
