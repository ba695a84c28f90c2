#pragma once
// The Business Central API v2.0 calls of one company (Authorization: Bearer),
// each through a connector::Target: circuit breaker, the company's token
// bucket (19/s, burst 100: under 6000 requests per user in 5 minutes), at
// most 5 requests in flight (BC's per-user limit), per-operation metrics.
//
// Reads (GET) are retried within the call on 429, 5xx and transport failures.
// Writes that are not idempotent (create a document, create a subscription,
// the bound action Microsoft.NAV.post) are sent once per call: a lost answer
// is a retryable error, and the caller looks the document up again by its
// natural key before trying anything else (an in-call retry of a create that
// did reach BC would create a second document).
//
// Answers are parsed exactly (parse_exact): amounts keep their text. Errors:
//   unavailable / timeout (retryable)  429, 5xx, transport failures, an open
//                                      circuit, a deadline; a 2xx whose body
//                                      is not what BC documents
//   conflict (retryable)               409, 412 (a stale If-Match)
//   not_found, unauthenticated,        other 4xx; the message names the
//   invalid_argument                   operation, the status and BC's
//                                      error.code / error.message
//
// The free functions build the request paths and the subscription plan; they
// are pure and unit-tested.
//
// Thread-safety: every member may be called from any thread (Target is).
// Calls block (budget waits, backoff): workflow steps and pollers only.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "business_central_payloads.hpp"
#include "trueup/connector/target.hpp"
#include "trueup/core/error.hpp"
#include "trueup/model/timestamp.hpp"

namespace trueup::connectors::business_central {

inline constexpr std::string_view kDefaultApiBaseUrl = "https://api.businesscentral.dynamics.com";
// BC's per-user concurrency: 5 processed at once (more wait in BC's queue of
// 95, then 503); the outbound client keeps ours at that.
inline constexpr std::size_t kMaxInFlight = 5;
// The length of BC's externalDocumentNumber field.
inline constexpr std::size_t kExternalDocumentNumberLength = 35;

struct ApiSettings {
  std::string target_name;  // budget, concurrency and metrics target: "business-central:<id>"
  std::string base_url = std::string(kDefaultApiBaseUrl);
  std::string tenant;  // "" = the common endpoint (the token's tenant)
  std::string environment = "production";
  std::string company_id;
  std::string access_token;
  connector::BudgetSettings budget = connector::business_central_budget();
  std::int64_t ledger_page_size = 1000;      // Prefer: odata.maxpagesize
  std::chrono::milliseconds timeout{30000};  // per exchange; a write past it counts as not answered
};

// "/v2.0/[<tenant>/]<environment>/api/v2.0" (relative to base_url).
std::string api_path(const ApiSettings& settings);
// api_path + "/companies(<company_id>)".
std::string company_path(const ApiSettings& settings);
// The first page of item ledger entries after `after_entry_number`, oldest first:
// company_path + "/itemLedgerEntries?$filter=entryNumber%20gt%20<n>&$orderby=entryNumber%20asc".
std::string ledger_entries_path(const ApiSettings& settings, std::int64_t after_entry_number);
// A sales document entity set and what differs between the sets.
struct DocumentType {
  std::string_view set;          // "salesInvoices"
  std::string_view lines;        // the deep-insert member: "salesInvoiceLines"
  std::string_view date;         // the document date member: "invoiceDate"
  std::string_view post_action;  // the bound action that posts it
  bool status_shows_posting;     // false for orders: a posted order becomes an invoice
};
inline constexpr DocumentType kSalesInvoices{"salesInvoices", "salesInvoiceLines", "invoiceDate", "Microsoft.NAV.post",
                                             true};
inline constexpr DocumentType kSalesOrders{"salesOrders", "salesOrderLines", "orderDate",
                                           "Microsoft.NAV.shipAndInvoice", false};
inline constexpr DocumentType kSalesCreditMemos{"salesCreditMemos", "salesCreditMemoLines", "creditMemoDate",
                                                "Microsoft.NAV.post", true};
// The natural-key lookup: company_path + "/<set>?$filter=externalDocumentNumber%20eq%20'<edn>'"
// (quotes doubled, then percent-encoded).
std::string document_lookup_path(const ApiSettings& settings, const DocumentType& type, std::string_view edn);
// The externalDocumentNumber of a source reference: itself when it has at
// most 35 bytes, else its first 18 bytes (cut at a UTF-8 boundary), "~" and
// the first 16 hex digits of its SHA-256 — deterministic, so every retry
// looks up the same number.
std::string external_document_number_for(std::string_view source_reference);
// The subscription resource of an entity set: "/api/v2.0/companies(<id>)/<set>".
std::string subscription_resource(const ApiSettings& settings, std::string_view entity_set);

// What to do about one configured subscription.
struct SubscriptionAction {
  enum class Kind { create, renew } kind = Kind::create;
  std::string resource;
  std::optional<Subscription> existing;  // renew: the subscription (id, etag)
};
// For each resource in `resources`: create it when no subscription of
// `existing` has that resource and notification URL (leading slashes and case
// of the resource ignored); renew it when the one found expires within
// `renew_before` of `now`, has no expiry, or carries another clientState.
std::vector<SubscriptionAction> plan_subscriptions(const std::vector<Subscription>& existing,
                                                   const std::vector<std::string>& resources,
                                                   std::string_view notification_url, std::string_view client_state,
                                                   const model::Timestamp& now, std::chrono::milliseconds renew_before);

// One page of raw entities as BC sent them (exact JSON).
struct RawPage {
  std::vector<nlohmann::json> value;
  std::optional<std::string> next_link;  // absolute URL
};

class BusinessCentralClient {
 public:
  // `budgets`, `http` and `metrics` must outlive the client.
  BusinessCentralClient(ApiSettings settings, connector::BudgetRegistry& budgets, http::OutboundClient& http,
                        connector::ConnectorMetrics& metrics);

  const ApiSettings& settings() const noexcept { return settings_; }

  // GET `path_or_link` (ledger_entries_path or a page's next_link).
  Result<RawPage> ledger_entries(const std::string& path_or_link);

  // The documents of `type` whose externalDocumentNumber is `edn`.
  Result<std::vector<nlohmann::json>> find_documents(const DocumentType& type, std::string_view edn,
                                                     std::optional<connector::SteadyTime> deadline);
  // The documents of `type` numbered `number` (a posted document's number).
  Result<std::vector<nlohmann::json>> find_documents_by_number(const DocumentType& type, std::string_view number);
  Result<nlohmann::json> get_document(const DocumentType& type, std::string_view id,
                                      std::optional<connector::SteadyTime> deadline);
  // POST <set> (one attempt): the created document.
  Result<nlohmann::json> create_document(const DocumentType& type, std::string body,
                                         std::optional<connector::SteadyTime> deadline);
  // PATCH <set>(<id>) with If-Match: the updated document.
  Result<nlohmann::json> patch_document(const DocumentType& type, std::string_view id, std::string_view etag,
                                        std::string body, std::optional<connector::SteadyTime> deadline);
  // DELETE <set>(<id>) with If-Match (drafts only); a document already gone is Ok.
  Status delete_document(const DocumentType& type, std::string_view id, std::string_view etag,
                         std::optional<connector::SteadyTime> deadline);
  // POST <set>(<id>)/<post_action> (one attempt).
  Status post_document(const DocumentType& type, std::string_view id, std::optional<connector::SteadyTime> deadline);

  // The id of the location with `code`; nullopt when BC has none.
  Result<std::optional<std::string>> location_id(std::string_view code);

  Result<std::vector<Subscription>> subscriptions();
  // POST subscriptions (one attempt; BC calls our notificationUrl before it answers).
  Result<Subscription> create_subscription(const Subscription& wanted);
  // PATCH subscriptions('<id>') with If-Match (a handshake again).
  Result<Subscription> renew_subscription(const Subscription& existing, const Subscription& wanted);

 private:
  Result<http::OutboundReply> send(connector::Target& target, std::string operation, std::string method,
                                   std::string path, std::string body, std::string if_match,
                                   std::optional<connector::SteadyTime> deadline);
  // The 2xx answer parsed exactly, else bc_error.
  Result<nlohmann::json> parsed(std::string_view operation, Result<http::OutboundReply> reply);
  Result<std::vector<nlohmann::json>> collection(std::string_view operation, Result<http::OutboundReply> reply);

  ApiSettings settings_;
  connector::Target reads_;   // idempotent: retried within the call
  connector::Target writes_;  // creates and actions: one attempt
};

// The error for a BC answer other than 2xx: the code of http_error
// (connector/target.hpp) and BC's error.code / error.message when present.
Error bc_error(std::string_view operation, const http::OutboundReply& reply);

}  // namespace trueup::connectors::business_central
