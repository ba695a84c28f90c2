// Codecs for Shipment, Return and Refund.

#include "codec_parts.hpp"
#include "trueup/model/refund.hpp"
#include "trueup/model/return.hpp"
#include "trueup/model/shipment.hpp"

namespace trueup::model {
namespace detail {
namespace {

constexpr std::pair<std::string_view, ShipmentStatus> kShipmentStatus[] = {
    {"pending", ShipmentStatus::pending},
    {"shipped", ShipmentStatus::shipped},
    {"delivered", ShipmentStatus::delivered},
    {"cancelled", ShipmentStatus::cancelled},
};

constexpr std::pair<std::string_view, ReturnStatus> kReturnStatus[] = {
    {"requested", ReturnStatus::requested}, {"in_transit", ReturnStatus::in_transit},
    {"received", ReturnStatus::received},   {"closed", ReturnStatus::closed},
    {"cancelled", ReturnStatus::cancelled},
};

void read_shipment(Problems& p, const json& j, const std::string& path, Shipment& s) {
  ObjectReader r(p, j, path);
  r.string("id", s.id, StringKind::identifier);
  r.string("order_id", s.order_id, StringKind::identifier);
  r.string("channel", s.channel, StringKind::code);
  r.string("location", s.location, StringKind::code);
  r.enumeration<ShipmentStatus>("status", s.status, kShipmentStatus);
  r.timestamp("shipped_at", s.shipped_at);
  r.string("carrier", s.carrier, StringKind::text);
  r.string("tracking_number", s.tracking_number, StringKind::identifier);
  r.array("lines", s.lines, true, 1, [](Problems& p2, const json& e, const std::string& at, ShipmentLine& l) {
    ObjectReader lr(p2, e, at);
    lr.string("line_id", l.line_id, StringKind::identifier);
    lr.string("sku", l.sku, StringKind::identifier);
    lr.quantity("quantity", l.quantity);
    lr.finish();
  });
  r.finish();
  if (!r.failed() && !s.shipped_at && (s.status == ShipmentStatus::shipped || s.status == ShipmentStatus::delivered))
    r.fail("shipped_at", "required when status is shipped or delivered");
}

// restock ⇒ location
void check_restock(ObjectReader& r, bool restock, const std::optional<LocationCode>& location) {
  if (!r.failed() && restock && !location) r.fail("location", "required when restock is true");
}

void read_return(Problems& p, const json& j, const std::string& path, Return& ret) {
  ObjectReader r(p, j, path);
  r.string("id", ret.id, StringKind::identifier);
  r.string("order_id", ret.order_id, StringKind::identifier);
  r.string("channel", ret.channel, StringKind::code);
  r.enumeration<ReturnStatus>("status", ret.status, kReturnStatus);
  r.timestamp("created_at", ret.created_at);
  r.timestamp("received_at", ret.received_at);
  r.array("lines", ret.lines, true, 1, [](Problems& p2, const json& e, const std::string& at, ReturnLine& l) {
    ObjectReader lr(p2, e, at);
    lr.string("line_id", l.line_id, StringKind::identifier);
    lr.string("sku", l.sku, StringKind::identifier);
    lr.quantity("quantity", l.quantity);
    lr.string("reason", l.reason, StringKind::text);
    lr.boolean("restock", l.restock, std::nullopt);
    lr.string("location", l.location, StringKind::code);
    lr.finish();
    check_restock(lr, l.restock, l.location);
  });
  r.finish();
}

void read_refund(Problems& p, const json& j, const std::string& path, Refund& f) {
  ObjectReader r(p, j, path);
  r.string("id", f.id, StringKind::identifier);
  r.string("order_id", f.order_id, StringKind::identifier);
  r.string("return_id", f.return_id, StringKind::identifier);
  r.string("channel", f.channel, StringKind::code);
  r.timestamp("created_at", f.created_at);
  r.currency("currency", f.currency);
  r.string("reason", f.reason, StringKind::text);
  const Currency c = f.currency;
  r.array("lines", f.lines, false, 0, [c](Problems& p2, const json& e, const std::string& at, RefundLine& l) {
    ObjectReader lr(p2, e, at);
    lr.string("line_id", l.line_id, StringKind::identifier);
    lr.string("sku", l.sku, StringKind::identifier);
    lr.quantity("quantity", l.quantity);
    lr.money("amount", l.amount, c);
    lr.boolean("restock", l.restock, std::nullopt);
    lr.string("location", l.location, StringKind::code);
    lr.finish();
    check_restock(lr, l.restock, l.location);
  });
  f.shipping = Money::zero(c);
  std::optional<Money> shipping;
  r.money("shipping", shipping, c);
  if (shipping) f.shipping = *shipping;
  r.money("total", f.total, c);
  r.array("tenders", f.tenders, false, 0, read_tender);
  r.finish();
}

}  // namespace
}  // namespace detail

std::string_view to_string(ShipmentStatus s) noexcept {
  return detail::enum_name<ShipmentStatus>(detail::kShipmentStatus, s);
}
std::string_view to_string(ReturnStatus s) noexcept {
  return detail::enum_name<ReturnStatus>(detail::kReturnStatus, s);
}

template <>
Result<Shipment> from_json<Shipment>(const nlohmann::json& j, std::string_view pointer) {
  return detail::read_document<Shipment>(j, pointer, detail::read_shipment);
}

nlohmann::json to_json(const Shipment& s) {
  nlohmann::json j = nlohmann::json::object();
  j["id"] = s.id;
  j["order_id"] = s.order_id;
  j["channel"] = s.channel;
  j["location"] = s.location;
  j["status"] = to_string(s.status);
  if (s.shipped_at) j["shipped_at"] = s.shipped_at->to_string();
  detail::put(j, "carrier", s.carrier);
  detail::put(j, "tracking_number", s.tracking_number);
  j["lines"] = detail::array_json(s.lines, [](const ShipmentLine& l) {
    return nlohmann::json{{"line_id", l.line_id}, {"sku", l.sku}, {"quantity", l.quantity.to_string()}};
  });
  return j;
}

template <>
Result<Return> from_json<Return>(const nlohmann::json& j, std::string_view pointer) {
  return detail::read_document<Return>(j, pointer, detail::read_return);
}

nlohmann::json to_json(const Return& r) {
  nlohmann::json j = nlohmann::json::object();
  j["id"] = r.id;
  j["order_id"] = r.order_id;
  j["channel"] = r.channel;
  j["status"] = to_string(r.status);
  j["created_at"] = r.created_at.to_string();
  if (r.received_at) j["received_at"] = r.received_at->to_string();
  j["lines"] = detail::array_json(r.lines, [](const ReturnLine& l) {
    nlohmann::json e{
        {"line_id", l.line_id}, {"sku", l.sku}, {"quantity", l.quantity.to_string()}, {"restock", l.restock}};
    detail::put(e, "reason", l.reason);
    detail::put(e, "location", l.location);
    return e;
  });
  return j;
}

template <>
Result<Refund> from_json<Refund>(const nlohmann::json& j, std::string_view pointer) {
  return detail::read_document<Refund>(j, pointer, detail::read_refund);
}

nlohmann::json to_json(const Refund& f) {
  nlohmann::json j = nlohmann::json::object();
  j["id"] = f.id;
  j["order_id"] = f.order_id;
  detail::put(j, "return_id", f.return_id);
  j["channel"] = f.channel;
  j["created_at"] = f.created_at.to_string();
  j["currency"] = f.currency.code();
  detail::put(j, "reason", f.reason);
  j["lines"] = detail::array_json(f.lines, [](const RefundLine& l) {
    nlohmann::json e{{"line_id", l.line_id},
                     {"sku", l.sku},
                     {"quantity", l.quantity.to_string()},
                     {"amount", l.amount.to_decimal_string()},
                     {"restock", l.restock}};
    detail::put(e, "location", l.location);
    return e;
  });
  j["shipping"] = f.shipping.to_decimal_string();
  j["total"] = f.total.to_decimal_string();
  j["tenders"] = detail::array_json(f.tenders, [](const Tender& t) { return to_json(t); });
  return j;
}

}  // namespace trueup::model
