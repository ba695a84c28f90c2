#include "square_client.hpp"

#include <utility>

#include "common/exact_json.hpp"

namespace trueup::connectors::square {
namespace {

using nlohmann::json;

connector::TargetSettings target_settings(const SquareApiSettings& s) {
  connector::TargetSettings t;
  t.name = s.target_name;
  t.base_url = s.base_url;
  while (!t.base_url.empty() && t.base_url.back() == '/') t.base_url.pop_back();
  t.budget = s.budget;
  t.headers.add("Authorization", "Bearer " + s.access_token);
  t.headers.add("Square-Version", s.api_version);
  t.headers.add("Accept", "application/json");
  return t;
}

// The errors[] of a Square answer, or an empty array.
json square_errors(const http::OutboundReply& reply) {
  auto doc = json::parse(reply.body, nullptr, false);
  if (!doc.is_object() || !doc.contains("errors") || !doc["errors"].is_array()) return json::array();
  return doc["errors"];
}

std::string text_of(const json& e, const char* key) {
  return e.is_object() && e.contains(key) && e[key].is_string() ? e[key].get<std::string>() : std::string();
}

// The `key` array of an answer as a page, with its cursor.
Result<RawPage> page_of(std::string_view operation, Result<json> doc, const char* key) {
  if (!doc) return std::move(doc).error();
  RawPage page;
  if (doc->contains(key)) {
    if (!(*doc)[key].is_array())
      return make_error(Errc::unavailable, "square " + std::string(operation) + ": `" + key + "` is not an array");
    for (auto& item : (*doc)[key]) page.items.push_back(std::move(item));
  }
  if (doc->contains("cursor") && (*doc)["cursor"].is_string() && !(*doc)["cursor"].get<std::string>().empty())
    page.cursor = (*doc)["cursor"].get<std::string>();
  return page;
}

}  // namespace

SquareClient::SquareClient(const SquareApiSettings& settings, connector::BudgetRegistry& budgets,
                           http::OutboundClient& http, connector::ConnectorMetrics& metrics)
    : target_(target_settings(settings), budgets, http, metrics) {}

Result<http::OutboundReply> SquareClient::send(std::string operation, std::string method, std::string path,
                                               std::string body, std::optional<connector::SteadyTime> deadline) {
  connector::TargetCall call;
  call.operation = std::move(operation);
  call.method = std::move(method);
  call.path = std::move(path);
  if (!body.empty()) call.headers.add("Content-Type", "application/json");
  call.body = std::move(body);
  call.deadline = deadline;
  return target_.send(call);
}

Result<json> SquareClient::parsed(std::string_view operation, Result<http::OutboundReply> reply) {
  if (!reply) return std::move(reply).error();
  if (reply->status != 200) return square_error(operation, *reply);
  auto doc = parse_exact(reply->body);
  if (!doc || !doc->is_object())
    return make_error(Errc::unavailable, "square " + std::string(operation) + ": the answer is not a JSON object");
  return doc;
}

Result<json> SquareClient::retrieve_order(std::string_view order_id, std::optional<connector::SteadyTime> deadline) {
  auto doc = parsed("orders.retrieve",
                    send("orders.retrieve", "GET", "/v2/orders/" + connector::query_escape(order_id), {}, deadline));
  if (!doc) return doc;
  if (!doc->contains("order") || !(*doc)["order"].is_object())
    return make_error(Errc::unavailable, "square orders.retrieve: the answer has no order");
  return (*doc)["order"];
}

Result<std::optional<std::string>> SquareClient::variation_sku(std::string_view catalog_object_id,
                                                               std::optional<connector::SteadyTime> deadline) {
  auto reply =
      send("catalog.retrieve", "GET", "/v2/catalog/object/" + connector::query_escape(catalog_object_id), {}, deadline);
  if (reply && reply->status == 404) return std::optional<std::string>();
  auto doc = parsed("catalog.retrieve", std::move(reply));
  if (!doc) return std::move(doc).error();
  static const json kNone;
  const json& object = doc->contains("object") ? (*doc)["object"] : kNone;
  if (text_of(object, "type") != "ITEM_VARIATION" || !object.contains("item_variation_data"))
    return std::optional<std::string>();
  const std::string sku = text_of(object["item_variation_data"], "sku");
  if (sku.empty()) return std::optional<std::string>();
  return std::optional<std::string>(sku);
}

Result<std::vector<std::string>> SquareClient::location_ids() {
  auto page = page_of("locations.list", parsed("locations.list", send("locations.list", "GET", "/v2/locations", {})),
                      "locations");
  if (!page) return std::move(page).error();
  std::vector<std::string> ids;
  for (const auto& location : page->items)
    if (const std::string id = text_of(location, "id"); !id.empty()) ids.push_back(id);
  return ids;
}

Result<RawPage> SquareClient::search_orders(const SearchOrdersRequest& request) {
  auto body = build_search_orders(request);
  if (!body) return std::move(body).error();
  return page_of("orders.search",
                 parsed("orders.search", send("orders.search", "POST", "/v2/orders/search", dump_exact(*body))),
                 "orders");
}

Result<RawPage> SquareClient::retrieve_counts(const BatchRetrieveInventoryCountsRequest& request) {
  return page_of("inventory.counts",
                 parsed("inventory.counts", send("inventory.counts", "POST", "/v2/inventory/counts/batch-retrieve",
                                                 dump_exact(build_batch_retrieve_inventory_counts(request)))),
                 "counts");
}

Result<SquareClient::ChangeAnswer> SquareClient::change_inventory(const BatchChangeInventoryRequest& request,
                                                                  std::optional<connector::SteadyTime> deadline) {
  auto body = build_batch_change_inventory(request);
  if (!body) return std::move(body).error();
  auto reply = send("inventory.change", "POST", "/v2/inventory/changes/batch-create", dump_exact(*body), deadline);
  ChangeAnswer answer;
  if (reply && reply->status == 400 && has_square_error(*reply, "IDEMPOTENCY_KEY_REUSED")) {
    answer.key_reused = true;
    return answer;
  }
  auto page = page_of("inventory.change", parsed("inventory.change", std::move(reply)), "counts");
  if (!page) return std::move(page).error();
  for (auto& count : page->items) answer.counts.push_back(std::move(count));
  return answer;
}

Error square_error(std::string_view operation, const http::OutboundReply& reply) {
  Error error = connector::http_error("square " + std::string(operation), reply);
  const json errors = square_errors(reply);
  if (errors.empty()) return error;
  std::string message = "square " + std::string(operation) + ": HTTP " + std::to_string(reply.status);
  for (const auto& e : errors) {
    message += "; " + text_of(e, "code");
    if (const std::string detail = text_of(e, "detail"); !detail.empty()) message += ": " + detail;
    if (const std::string field = text_of(e, "field"); !field.empty()) message += " (field " + field + ")";
  }
  error.message = std::move(message);
  return error;
}

bool has_square_error(const http::OutboundReply& reply, std::string_view code) {
  for (const auto& e : square_errors(reply))
    if (text_of(e, "code") == code) return true;
  return false;
}

}  // namespace trueup::connectors::square
