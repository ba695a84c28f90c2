#include "business_central_client.hpp"

#include <algorithm>
#include <cctype>
#include <utility>

#include "common/exact_json.hpp"
#include "trueup/core/digest.hpp"

namespace trueup::connectors::business_central {

using nlohmann::json;

namespace {

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

std::string normalised_resource(std::string_view resource) {
  while (resource.starts_with('/')) resource.remove_prefix(1);
  return lower(resource);
}

connector::TargetSettings target_settings(const ApiSettings& api, int attempts) {
  connector::TargetSettings t;
  t.name = api.target_name;
  t.base_url = api.base_url;
  t.budget = api.budget;
  t.attempts = attempts;
  t.timeout = api.timeout;
  t.headers.add("Authorization", "Bearer " + api.access_token);
  t.headers.add("Accept", "application/json");
  return t;
}

}  // namespace

std::string api_path(const ApiSettings& settings) {
  std::string out = "/v2.0/";
  if (!settings.tenant.empty()) out += settings.tenant + "/";
  return out + settings.environment + "/api/v2.0";
}

std::string company_path(const ApiSettings& settings) {
  return api_path(settings) + "/companies(" + settings.company_id + ")";
}

std::string ledger_entries_path(const ApiSettings& settings, std::int64_t after_entry_number) {
  return company_path(settings) + "/itemLedgerEntries?$filter=" +
         connector::query_escape("entryNumber gt " + std::to_string(after_entry_number)) +
         "&$orderby=" + connector::query_escape("entryNumber asc");
}

std::string document_lookup_path(const ApiSettings& settings, const DocumentType& type, std::string_view edn) {
  return company_path(settings) + "/" + std::string(type.set) +
         "?$filter=" + connector::query_escape("externalDocumentNumber eq " + odata_string(edn));
}

std::string external_document_number_for(std::string_view source_reference) {
  if (source_reference.size() <= kExternalDocumentNumberLength) return std::string(source_reference);
  // The reference's start, "~", then 16 hex digits of its SHA-256: 35 in all.
  constexpr std::size_t kHashDigits = 16;
  std::size_t cut = kExternalDocumentNumberLength - 1 - kHashDigits;
  // Back to the start of a UTF-8 sequence (continuation bytes are 10xxxxxx).
  while (cut > 0 && (static_cast<unsigned char>(source_reference[cut]) & 0xC0) == 0x80) --cut;
  return std::string(source_reference.substr(0, cut)) + "~" + sha256_hex(source_reference).substr(0, kHashDigits);
}

std::string subscription_resource(const ApiSettings& settings, std::string_view entity_set) {
  return "/api/v2.0/companies(" + settings.company_id + ")/" + std::string(entity_set);
}

std::vector<SubscriptionAction> plan_subscriptions(const std::vector<Subscription>& existing,
                                                   const std::vector<std::string>& resources,
                                                   std::string_view notification_url, std::string_view client_state,
                                                   const model::Timestamp& now,
                                                   std::chrono::milliseconds renew_before) {
  std::vector<SubscriptionAction> out;
  const auto renew_by = model::Timestamp::from_utc(now.utc() + std::chrono::nanoseconds(renew_before));
  for (const auto& resource : resources) {
    const Subscription* found = nullptr;
    const std::string wanted = normalised_resource(resource);
    for (const auto& s : existing)
      if (s.notification_url == notification_url && normalised_resource(s.resource) == wanted) found = &s;
    if (found == nullptr) {
      out.push_back({SubscriptionAction::Kind::create, resource, std::nullopt});
      continue;
    }
    const bool expiring = !found->expiration || found->expiration->compare_instant(renew_by) <= 0;
    const bool other_state = found->client_state.value_or("") != client_state;
    if (expiring || other_state) out.push_back({SubscriptionAction::Kind::renew, resource, *found});
  }
  return out;
}

BusinessCentralClient::BusinessCentralClient(ApiSettings settings, connector::BudgetRegistry& budgets,
                                             http::OutboundClient& http, connector::ConnectorMetrics& metrics)
    : settings_(std::move(settings)),
      reads_(target_settings(settings_, 4), budgets, http, metrics),
      writes_(target_settings(settings_, 1), budgets, http, metrics) {
  http.set_target_limits(settings_.target_name, http::OutboundTargetLimits{kMaxInFlight, 95});
}

Result<http::OutboundReply> BusinessCentralClient::send(connector::Target& target, std::string operation,
                                                        std::string method, std::string path, std::string body,
                                                        std::string if_match,
                                                        std::optional<connector::SteadyTime> deadline) {
  connector::TargetCall call;
  call.operation = std::move(operation);
  call.method = std::move(method);
  call.path = std::move(path);
  if (!body.empty()) call.headers.add("Content-Type", "application/json");
  if (!if_match.empty()) call.headers.add("If-Match", std::move(if_match));
  call.body = std::move(body);
  call.deadline = deadline;
  return target.send(call);
}

Result<json> BusinessCentralClient::parsed(std::string_view operation, Result<http::OutboundReply> reply) {
  if (!reply) return std::move(reply).error();
  if (reply->status < 200 || reply->status > 299) return bc_error(operation, *reply);
  auto doc = parse_exact(reply->body);
  if (!doc || !doc->is_object())
    return make_error(Errc::unavailable,
                      "business central " + std::string(operation) + ": the answer is not a JSON object");
  return std::move(doc).value();
}

Result<std::vector<json>> BusinessCentralClient::collection(std::string_view operation,
                                                            Result<http::OutboundReply> reply) {
  auto doc = parsed(operation, std::move(reply));
  if (!doc) return std::move(doc).error();
  if (!doc->contains("value") || !(*doc)["value"].is_array())
    return make_error(Errc::unavailable,
                      "business central " + std::string(operation) + ": the answer is not {\"value\": [...]}");
  return (*doc)["value"].get<std::vector<json>>();
}

Result<RawPage> BusinessCentralClient::ledger_entries(const std::string& path_or_link) {
  connector::TargetCall call;
  call.operation = "itemLedgerEntries.list";
  call.path = path_or_link;
  call.headers.add("Prefer", "odata.maxpagesize=" + std::to_string(settings_.ledger_page_size));
  auto doc = parsed(call.operation, reads_.send(call));
  if (!doc) return std::move(doc).error();
  if (!doc->contains("value") || !(*doc)["value"].is_array())
    return make_error(Errc::unavailable,
                      "business central itemLedgerEntries.list: the answer is not {\"value\": [...]}");
  RawPage page;
  page.value = (*doc)["value"].get<std::vector<json>>();
  if (doc->contains("@odata.nextLink") && (*doc)["@odata.nextLink"].is_string())
    page.next_link = (*doc)["@odata.nextLink"].get<std::string>();
  return page;
}

Result<std::vector<json>> BusinessCentralClient::find_documents(const DocumentType& type, std::string_view edn,
                                                                std::optional<connector::SteadyTime> deadline) {
  const std::string op = std::string(type.set) + ".find";
  return collection(op, send(reads_, op, "GET", document_lookup_path(settings_, type, edn), "", "", deadline));
}

Result<std::vector<json>> BusinessCentralClient::find_documents_by_number(const DocumentType& type,
                                                                          std::string_view number) {
  const std::string op = std::string(type.set) + ".find";
  const std::string path = company_path(settings_) + "/" + std::string(type.set) +
                           "?$filter=" + connector::query_escape("number eq " + odata_string(number));
  return collection(op, send(reads_, op, "GET", path, "", "", std::nullopt));
}

Result<json> BusinessCentralClient::get_document(const DocumentType& type, std::string_view id,
                                                 std::optional<connector::SteadyTime> deadline) {
  const std::string op = std::string(type.set) + ".get";
  return parsed(
      op, send(reads_, op, "GET", company_path(settings_) + "/" + std::string(type.set) + "(" + std::string(id) + ")",
               "", "", deadline));
}

Result<json> BusinessCentralClient::create_document(const DocumentType& type, std::string body,
                                                    std::optional<connector::SteadyTime> deadline) {
  const std::string op = std::string(type.set) + ".create";
  return parsed(op, send(writes_, op, "POST", company_path(settings_) + "/" + std::string(type.set), std::move(body),
                         "", deadline));
}

Result<json> BusinessCentralClient::patch_document(const DocumentType& type, std::string_view id, std::string_view etag,
                                                   std::string body, std::optional<connector::SteadyTime> deadline) {
  const std::string op = std::string(type.set) + ".update";
  return parsed(
      op, send(reads_, op, "PATCH", company_path(settings_) + "/" + std::string(type.set) + "(" + std::string(id) + ")",
               std::move(body), std::string(etag), deadline));
}

Status BusinessCentralClient::delete_document(const DocumentType& type, std::string_view id, std::string_view etag,
                                              std::optional<connector::SteadyTime> deadline) {
  const std::string op = std::string(type.set) + ".delete";
  auto reply =
      send(reads_, op, "DELETE", company_path(settings_) + "/" + std::string(type.set) + "(" + std::string(id) + ")",
           "", std::string(etag), deadline);
  if (!reply) return std::move(reply).error();
  if (reply->status == 404 || (reply->status >= 200 && reply->status <= 299)) return Ok{};
  return bc_error(op, *reply);
}

Status BusinessCentralClient::post_document(const DocumentType& type, std::string_view id,
                                            std::optional<connector::SteadyTime> deadline) {
  const std::string op = std::string(type.set) + ".post";
  const std::string action(type.post_action);
  auto reply = send(writes_, op, "POST",
                    company_path(settings_) + "/" + std::string(type.set) + "(" + std::string(id) + ")/" + action, "",
                    "", deadline);
  if (!reply) return std::move(reply).error();
  if (reply->status < 200 || reply->status > 299) return bc_error(op, *reply);
  return Ok{};
}

Result<std::optional<std::string>> BusinessCentralClient::location_id(std::string_view code) {
  const std::string path =
      company_path(settings_) + "/locations?$filter=" + connector::query_escape("code eq " + odata_string(code));
  auto found = collection("locations.find", send(reads_, "locations.find", "GET", path, "", "", std::nullopt));
  if (!found) return std::move(found).error();
  for (const auto& l : *found)
    if (l.contains("id") && l["id"].is_string()) return std::optional<std::string>(l["id"].get<std::string>());
  return std::optional<std::string>();
}

namespace {
// The body of a 2xx answer, else the error (decoders read it directly).
Result<std::string> ok_body(std::string_view operation, Result<http::OutboundReply> reply) {
  if (!reply) return std::move(reply).error();
  if (reply->status < 200 || reply->status > 299) return bc_error(operation, *reply);
  return std::move(reply->body);
}

Result<Subscription> one_subscription(std::string_view operation, Result<std::string> body) {
  if (!body) return std::move(body).error();
  auto page = decode_subscriptions(*body);
  if (!page || page->value.size() != 1)
    return make_error(Errc::unavailable, "business central " + std::string(operation) + ": not a subscription");
  return std::move(page->value.front());
}
}  // namespace

Result<std::vector<Subscription>> BusinessCentralClient::subscriptions() {
  auto body = ok_body("subscriptions.list",
                      send(reads_, "subscriptions.list", "GET", api_path(settings_) + "/subscriptions", "", "", {}));
  if (!body) return std::move(body).error();
  auto page = decode_subscriptions(*body);
  if (!page) return make_error(Errc::unavailable, "business central subscriptions.list: " + page.error().message);
  return std::move(page->value);
}

Result<Subscription> BusinessCentralClient::create_subscription(const Subscription& wanted) {
  return one_subscription("subscriptions.create",
                          ok_body("subscriptions.create",
                                  send(writes_, "subscriptions.create", "POST", api_path(settings_) + "/subscriptions",
                                       build_subscription(wanted).dump(), "", {})));
}

Result<Subscription> BusinessCentralClient::renew_subscription(const Subscription& existing,
                                                               const Subscription& wanted) {
  const std::string path = api_path(settings_) + "/subscriptions('" + existing.subscription_id.value_or("") + "')";
  return one_subscription(
      "subscriptions.renew",
      ok_body("subscriptions.renew", send(writes_, "subscriptions.renew", "PATCH", path,
                                          build_subscription(wanted).dump(), existing.etag.value_or("*"), {})));
}

Error bc_error(std::string_view operation, const http::OutboundReply& reply) {
  Error e = connector::http_error("business central " + std::string(operation), reply);
  auto doc = json::parse(reply.body, nullptr, false);
  if (doc.is_object() && doc.contains("error") && doc["error"].is_object()) {
    const json& err = doc["error"];
    std::string detail;
    if (err.contains("code") && err["code"].is_string()) detail += err["code"].get<std::string>();
    if (err.contains("message") && err["message"].is_string()) detail += ": " + err["message"].get<std::string>();
    if (!detail.empty())
      e = make_error(e.code, "business central " + std::string(operation) + " answered " +
                                 std::to_string(reply.status) + " " + detail);
  }
  return e;
}

}  // namespace trueup::connectors::business_central
