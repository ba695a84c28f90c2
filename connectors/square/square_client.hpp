#pragma once
// The Square API calls of one Square account (Square-Version header, Bearer
// access token), each through a connector::Target: circuit breaker, the
// account's token-bucket budget, retries of 429 (RATE_LIMITED, without
// Retry-After: the budget's doubling pause) and 5xx with jittered backoff,
// per-operation metrics.
//
// Answers are parsed exactly (parse_exact: no number passes through a
// double). Errors:
//   unavailable / timeout (retryable)  429 or 5xx after the attempts, transport
//                                      failures, an open circuit, a deadline;
//                                      also a 2xx whose body is not the
//                                      documented shape (a proxy's page)
//   conflict (retryable)               409, 412
//   not_found, unauthenticated,        other 4xx; the message names the
//   invalid_argument                   operation, the status and Square's
//                                      errors[].code / detail / field
//
// Thread-safety: every member may be called from any thread (Target is).
// Calls block (budget waits, backoff): workflow steps and pollers only.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "square_payloads.hpp"
#include "trueup/connector/target.hpp"
#include "trueup/core/error.hpp"

namespace trueup::connectors::square {

inline constexpr std::string_view kDefaultApiBaseUrl = "https://connect.squareup.com";
inline constexpr std::string_view kDefaultApiVersion = "2025-08-20";  // ../shared/fixtures/square/api.json

struct SquareApiSettings {
  std::string target_name;  // budget and metrics target, e.g. "square:pos"
  std::string base_url = std::string(kDefaultApiBaseUrl);
  std::string access_token;
  std::string api_version = std::string(kDefaultApiVersion);
  connector::BudgetSettings budget = connector::square_budget();
};

// A page of raw objects as Square sent them (exact JSON) and the next cursor.
struct RawPage {
  std::vector<nlohmann::json> items;
  std::optional<std::string> cursor;  // absent: the last page
};

class SquareClient {
 public:
  // `budgets`, `http` and `metrics` must outlive the client.
  SquareClient(const SquareApiSettings& settings, connector::BudgetRegistry& budgets, http::OutboundClient& http,
               connector::ConnectorMetrics& metrics);

  // GET /v2/orders/{id}: the Order object. `deadline`: give up waiting
  // (budget, backoff) past it; default: the Target's (2 minutes).
  Result<nlohmann::json> retrieve_order(std::string_view order_id,
                                        std::optional<connector::SteadyTime> deadline = std::nullopt);

  // GET /v2/catalog/object/{id}: the SKU of an ITEM_VARIATION; nullopt when
  // the object does not exist (404), is not a variation or has no SKU.
  Result<std::optional<std::string>> variation_sku(std::string_view catalog_object_id,
                                                   std::optional<connector::SteadyTime> deadline = std::nullopt);

  // GET /v2/locations: every location id of the account.
  Result<std::vector<std::string>> location_ids();

  // POST /v2/orders/search: one page of Order objects.
  Result<RawPage> search_orders(const SearchOrdersRequest& request);

  // POST /v2/inventory/counts/batch-retrieve: one page of InventoryCount objects.
  Result<RawPage> retrieve_counts(const BatchRetrieveInventoryCountsRequest& request);

  // POST /v2/inventory/changes/batch-create, retried with the same body (and
  // so the same idempotency_key, which Square dedupes).
  struct ChangeAnswer {
    nlohmann::json counts = nlohmann::json::array();  // the counts after the change, exact JSON
    // Square answered IDEMPOTENCY_KEY_REUSED: a request with this key and
    // other values (an earlier attempt with another occurred_at) was taken.
    bool key_reused = false;
  };
  Result<ChangeAnswer> change_inventory(const BatchChangeInventoryRequest& request,
                                        std::optional<connector::SteadyTime> deadline);

 private:
  Result<http::OutboundReply> send(std::string operation, std::string method, std::string path, std::string body,
                                   std::optional<connector::SteadyTime> deadline = std::nullopt);
  // The 200 answer parsed exactly, else square_error.
  Result<nlohmann::json> parsed(std::string_view operation, Result<http::OutboundReply> reply);

  connector::Target target_;
};

// The error for a Square answer other than 2xx: the code of http_error
// (connector/target.hpp) and a message with Square's errors[] (code, detail,
// field) when the body has them.
Error square_error(std::string_view operation, const http::OutboundReply& reply);

// True when a Square error answer carries errors[].code == `code`.
bool has_square_error(const http::OutboundReply& reply, std::string_view code);

}  // namespace trueup::connectors::square
