#include "trueup/connector/operations.hpp"

#include <set>

namespace trueup::connector {

Result<nlohmann::json> post_sale_input(const model::Order& order) {
  if (!order.location)
    return make_error(Errc::invalid_argument, "order " + order.id + " has no location; the ERP document needs one");
  if (order.lines.empty()) return make_error(Errc::invalid_argument, "order " + order.id + " has no lines");
  DocumentBooking document;
  document.order_id = order.id;
  document.external_document_number = order.external_reference;
  document.location = *order.location;
  // The sale's local date as the channel stated it: "2026-11-26T10:00:00+01:00" -> "2026-11-26".
  document.posting_date = order.placed_at.to_string().substr(0, 10);
  document.currency = order.currency;
  for (const auto& line : order.lines) document.lines.push_back(DocumentLine{line.sku, line.quantity, line.unit_price});
  return document_input(document);
}

// ERP documents ---------------------------------------------------------------

Result<nlohmann::json> document_input(const DocumentBooking& document) {
  const auto bad = [&](const std::string& what) {
    return make_error(Errc::invalid_argument,
                      "ERP document " + document.external_document_number + " (" + document.order_id + "): " + what);
  };
  if (document.location.empty()) return bad("no location; the ERP document needs one");
  if (document.lines.empty()) return bad("no lines");
  nlohmann::json lines = nlohmann::json::array();
  for (const auto& line : document.lines) {
    nlohmann::json l{{"sku", line.sku}, {"quantity", line.quantity.to_string()}};
    if (line.unit_price) {
      if (!document.currency || line.unit_price->currency() != *document.currency)
        return bad("line " + line.sku + " is priced in " + std::string(line.unit_price->currency().code()) +
                   ", not in the document's currency");
      l["unit_price"] = {{"amount", line.unit_price->to_decimal_string()},
                         {"currency", std::string(line.unit_price->currency().code())}};
    }
    lines.push_back(std::move(l));
  }
  nlohmann::json out{{"order_id", document.order_id},
                     {"external_document_number", document.external_document_number},
                     {"location", document.location},
                     {"posting_date", document.posting_date}};
  if (document.currency) out["currency"] = std::string(document.currency->code());
  out["lines"] = std::move(lines);
  return out;
}

nlohmann::json set_available_input(const std::string& sku, const std::string& location, std::int64_t available) {
  return {{"sku", sku}, {"location", location}, {"available", available}};
}

// set_available_batch ------------------------------------------------------

nlohmann::json set_available_batch_input(const SetAvailableBatch& batch) {
  nlohmann::json items = nlohmann::json::array();
  for (const auto& item : batch.items) items.push_back({{"sku", item.sku}, {"available", item.available}});
  return {{"location", batch.location}, {"items", std::move(items)}};
}

Result<SetAvailableBatch> read_set_available_batch(const nlohmann::json& input) {
  const auto bad = [](const std::string& what) {
    return make_error(Errc::invalid_argument,
                      "set_available_batch takes {\"location\": string, \"items\": [{\"sku\": string, "
                      "\"available\": integer >= 0}]}: " +
                          what);
  };
  if (!input.is_object() || !input.contains("location") || !input["location"].is_string() ||
      input["location"].get_ref<const std::string&>().empty())
    return bad("location is missing");
  if (!input.contains("items") || !input["items"].is_array() || input["items"].empty())
    return bad("items is missing or empty");
  if (input["items"].size() > kMaxSetAvailableBatch)
    return bad(std::to_string(input["items"].size()) + " items; at most " + std::to_string(kMaxSetAvailableBatch));
  SetAvailableBatch out;
  out.location = input["location"].get<std::string>();
  std::set<std::string> seen;
  for (std::size_t i = 0; i < input["items"].size(); ++i) {
    const auto& item = input["items"][i];
    const std::string at = "items[" + std::to_string(i) + "]";
    if (!item.is_object() || !item.contains("sku") || !item["sku"].is_string() ||
        item["sku"].get_ref<const std::string&>().empty())
      return bad(at + ".sku is missing");
    if (!item.contains("available") || !item["available"].is_number_integer() ||
        item["available"].get<std::int64_t>() < 0)
      return bad(at + ".available is not an integer >= 0");
    if (!seen.insert(item["sku"].get<std::string>()).second)
      return bad(at + ".sku " + item["sku"].get<std::string>() + " is given twice");
    out.items.push_back(AvailableQuantity{item["sku"].get<std::string>(), item["available"].get<std::int64_t>()});
  }
  return out;
}

std::string_view to_string(ItemResult result) noexcept {
  switch (result) {
    case ItemResult::accepted:
      return "accepted";
    case ItemResult::refused:
      return "refused";
    case ItemResult::retry:
      return "retry";
  }
  return "retry";
}

nlohmann::json item_outcomes_json(const std::vector<ItemOutcome>& outcomes) {
  nlohmann::json items = nlohmann::json::array();
  for (const auto& o : outcomes) {
    nlohmann::json item{{"sku", o.sku}, {"result", std::string(to_string(o.result))}};
    if (!o.error.empty()) item["error"] = o.error;
    items.push_back(std::move(item));
  }
  return {{"items", std::move(items)}};
}

Result<std::vector<ItemOutcome>> read_item_outcomes(const nlohmann::json& answer) {
  if (!answer.is_object() || !answer.contains("items") || !answer["items"].is_array())
    return make_error(Errc::invalid_argument, "a set_available_batch answer has no items array");
  std::vector<ItemOutcome> out;
  for (const auto& item : answer["items"]) {
    if (!item.is_object() || !item.contains("sku") || !item["sku"].is_string() || !item.contains("result") ||
        !item["result"].is_string())
      return make_error(Errc::invalid_argument, "a set_available_batch answer item lacks sku or result");
    ItemOutcome o;
    o.sku = item["sku"].get<std::string>();
    const std::string result = item["result"].get<std::string>();
    if (result == "accepted")
      o.result = ItemResult::accepted;
    else if (result == "refused")
      o.result = ItemResult::refused;
    else if (result == "retry")
      o.result = ItemResult::retry;
    else
      return make_error(Errc::invalid_argument, "a set_available_batch answer item has result " + result);
    if (item.contains("error") && item["error"].is_string()) o.error = item["error"].get<std::string>();
    out.push_back(std::move(o));
  }
  return out;
}

}  // namespace trueup::connector
