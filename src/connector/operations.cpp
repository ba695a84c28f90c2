#include "trueup/connector/operations.hpp"

namespace trueup::connector {

Result<nlohmann::json> post_sale_input(const model::Order& order) {
  if (!order.location)
    return make_error(Errc::invalid_argument, "order " + order.id + " has no location; the ERP document needs one");
  if (order.lines.empty()) return make_error(Errc::invalid_argument, "order " + order.id + " has no lines");
  nlohmann::json lines = nlohmann::json::array();
  for (const auto& line : order.lines) {
    nlohmann::json l{{"sku", line.sku}, {"quantity", line.quantity.to_string()}};
    if (line.unit_price)
      l["unit_price"] = {{"amount", line.unit_price->to_decimal_string()},
                         {"currency", std::string(line.unit_price->currency().code())}};
    lines.push_back(std::move(l));
  }
  // The sale's local date as the channel stated it: "2026-11-26T10:00:00+01:00" -> "2026-11-26".
  const std::string placed = order.placed_at.to_string();
  return nlohmann::json{{"order_id", order.id},
                        {"external_document_number", order.external_reference},
                        {"location", *order.location},
                        {"posting_date", placed.substr(0, 10)},
                        {"currency", std::string(order.currency.code())},
                        {"lines", std::move(lines)}};
}

nlohmann::json set_available_input(const std::string& sku, const std::string& location, std::int64_t available) {
  return {{"sku", sku}, {"location", location}, {"available", available}};
}

}  // namespace trueup::connector
