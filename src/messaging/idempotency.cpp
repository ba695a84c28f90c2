#include "trueup/messaging/idempotency.hpp"

#include <nlohmann/json.hpp>

#include <optional>

#include "sql_support.hpp"
#include "trueup/messaging/outbox.hpp"

namespace trueup::messaging {
namespace {

bool truthy(const std::optional<std::string>& v) { return v && (*v == "t" || *v == "1" || *v == "true"); }

std::string headers_json(const std::vector<std::pair<std::string, std::string>>& headers) {
  auto a = nlohmann::json::array();
  for (const auto& [name, value] : headers) a.push_back({name, value});
  return a.dump();
}

Result<std::vector<std::pair<std::string, std::string>>> parse_headers(const std::optional<std::string>& text) {
  std::vector<std::pair<std::string, std::string>> out;
  if (!text) return out;
  auto j = nlohmann::json::parse(*text, nullptr, false);
  if (!j.is_array()) return make_error(Errc::internal, "idempotency: stored response headers are not a JSON array");
  for (const auto& h : j) {
    if (!h.is_array() || h.size() != 2 || !h[0].is_string() || !h[1].is_string())
      return make_error(Errc::internal, "idempotency: stored response header is not [name, value]");
    out.emplace_back(h[0].get<std::string>(), h[1].get<std::string>());
  }
  return out;
}

}  // namespace

std::string request_fingerprint(std::string_view method, std::string_view path, std::string_view body) {
  std::string text;
  text.reserve(method.size() + path.size() + body.size() + 2);
  text.append(method).append("\n").append(path).append("\n").append(body);
  return detail::sha256_hex(text);
}

IdempotencyKeys::IdempotencyKeys(store::Store& store, IdempotencySettings settings, Clock clock)
    : store_(store), settings_(settings), clock_(std::move(clock)), postgres_(detail::dialect_of(store).postgres) {}

Result<BeginOutcome> IdempotencyKeys::begin(std::string_view key, std::string_view scope,
                                            std::string_view fingerprint) {
  if (key.empty()) return make_error(Errc::invalid_argument, "Idempotency-Key is empty");
  if (key.size() > 255) return make_error(Errc::invalid_argument, "Idempotency-Key is longer than 255 bytes");
  if (fingerprint.empty()) return make_error(Errc::invalid_argument, "idempotency: request fingerprint is empty");
  const detail::Dialect d{postgres_};
  const auto now = now_of(clock_);
  const std::string now_ts = detail::timestamp(now);
  const std::string lock_ts = detail::timestamp(now + settings_.lock_timeout);
  const std::string expires_ts = detail::timestamp(now + settings_.retention);
  const std::string k(key), s(scope), f(fingerprint);
  std::optional<BeginOutcome> outcome;

  auto status = store_.transact([&](store::Transaction& tx) -> Status {
    outcome.reset();
    // Two rounds: a row deleted (abandoned, purged) between our insert and
    // our read is inserted on the second.
    for (int round = 0; round < 2; ++round) {
      const std::string token = make_uuid_v4();
      auto ins = tx.exec(
          "INSERT INTO trueup_idempotency_key (scope, key, fingerprint, state, token, locked_until, "
          "created_at, expires_at) VALUES ($1, $2, $3, 'in_flight', $4, " +
              d.ts(5) + ", " + d.ts(6) + ", " + d.ts(7) + ") ON CONFLICT (scope, key) DO NOTHING RETURNING key",
          {s, k, f, token, lock_ts, now_ts, expires_ts});
      if (!ins) return std::move(ins).error();
      if (!ins->rows.empty()) {
        outcome = idempotency::New{IdempotencyClaim{k, s, token}};
        return Ok{};
      }
      auto sel =
          tx.exec("SELECT fingerprint, state, response_status, response_headers, " + d.bytes_out("response_body") +
                      ", expires_at <= " + d.ts(3) + ", locked_until <= " + d.ts(3) +
                      " FROM trueup_idempotency_key WHERE scope = $1 AND key = $2" + (postgres_ ? " FOR UPDATE" : ""),
                  {s, k, now_ts});
      if (!sel) return std::move(sel).error();
      if (sel->rows.empty()) continue;
      const auto& row = sel->rows[0];
      const bool expired = truthy(row[5]);
      const bool completed = row[1] && *row[1] == "completed";
      if (!expired && row[0] != f) {
        outcome = idempotency::Mismatch{};
        return Ok{};
      }
      if (!expired && completed) {
        StoredResponse response;
        response.status = static_cast<int>(detail::to_int(row[2]).value_or(0));
        auto headers = parse_headers(row[3]);
        if (!headers) return std::move(headers).error();
        response.headers = std::move(*headers);
        auto body = d.bytes_value(row[4]);
        if (!body) return std::move(body).error();
        response.body = std::move(*body);
        outcome = idempotency::Completed{std::move(response)};
        return Ok{};
      }
      if (!expired && !truthy(row[6])) {
        outcome = idempotency::InFlight{};
        return Ok{};
      }
      // Expired key, or an in-flight claim whose lock ran out (its request
      // crashed or is very slow): claim it anew with a new token.
      auto upd = tx.exec(
          "UPDATE trueup_idempotency_key SET fingerprint = $3, state = 'in_flight', token = $4, "
          "locked_until = " +
              d.ts(5) + ", created_at = " + d.ts(6) +
              ", expires_at = " + (expired ? d.ts(7) : std::string("expires_at")) +
              ", response_status = NULL, response_headers = NULL, response_body = NULL, "
              "completed_at = NULL WHERE scope = $1 AND key = $2",
          expired ? std::vector<store::Param>{s, k, f, token, lock_ts, now_ts, expires_ts}
                  : std::vector<store::Param>{s, k, f, token, lock_ts, now_ts});
      if (!upd) return std::move(upd).error();
      outcome = idempotency::New{IdempotencyClaim{k, s, token}};
      return Ok{};
    }
    return make_error(Errc::conflict, "idempotency: key changed concurrently; retry");
  });
  if (!status) return std::move(status).error();
  if (!outcome) return make_error(Errc::internal, "idempotency: no outcome");
  return std::move(*outcome);
}

Status IdempotencyKeys::complete(store::Transaction& tx, const IdempotencyClaim& claim,
                                 const StoredResponse& response) {
  const detail::Dialect d{postgres_};
  auto r = tx.exec(
      "UPDATE trueup_idempotency_key SET state = 'completed', token = NULL, locked_until = NULL, "
      "response_status = $4, response_headers = $5, response_body = " +
          d.bytes_in(6) + ", completed_at = " + d.ts(7) +
          " WHERE scope = $1 AND key = $2 AND token = $3 AND state = 'in_flight' RETURNING key",
      {claim.scope, claim.key, claim.token, std::int64_t{response.status}, headers_json(response.headers),
       d.bytes_param(response.body), detail::timestamp(now_of(clock_))});
  if (!r) return std::move(r).error();
  if (r->rows.empty())
    return make_error(Errc::conflict, "idempotency: the claim on key '" + claim.key +
                                          "' is no longer held (its lock expired and another request took it)");
  return Ok{};
}

Status IdempotencyKeys::abandon(const IdempotencyClaim& claim) {
  return store_.transact([&](store::Transaction& tx) -> Status {
    auto r = tx.exec(
        "DELETE FROM trueup_idempotency_key WHERE scope = $1 AND key = $2 AND token = $3 AND "
        "state = 'in_flight'",
        {claim.scope, claim.key, claim.token});
    if (!r) return std::move(r).error();
    return Ok{};
  });
}

Result<std::size_t> IdempotencyKeys::purge_expired() {
  const detail::Dialect d{postgres_};
  std::size_t n = 0;
  auto status = store_.transact([&](store::Transaction& tx) -> Status {
    auto r = tx.exec("DELETE FROM trueup_idempotency_key WHERE expires_at <= " + d.ts(1),
                     {detail::timestamp(now_of(clock_))});
    if (!r) return std::move(r).error();
    n = static_cast<std::size_t>(r->affected);
    return Ok{};
  });
  if (!status) return std::move(status).error();
  return n;
}

}  // namespace trueup::messaging
