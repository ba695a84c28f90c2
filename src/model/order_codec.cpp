// Codecs for Order and Tender.

#include "codec_parts.hpp"

namespace trueup::model {
namespace detail {
namespace {

constexpr std::pair<std::string_view, OrderStatus> kOrderStatus[] = {
    {"pending", OrderStatus::pending},     {"open", OrderStatus::open},
    {"on_hold", OrderStatus::on_hold},     {"partially_fulfilled", OrderStatus::partially_fulfilled},
    {"fulfilled", OrderStatus::fulfilled}, {"cancelled", OrderStatus::cancelled},
    {"closed", OrderStatus::closed},
};

constexpr std::pair<std::string_view, TenderKind> kTenderKind[] = {
    {"card", TenderKind::card},
    {"cash", TenderKind::cash},
    {"gift_card", TenderKind::gift_card},
    {"store_credit", TenderKind::store_credit},
    {"marketplace", TenderKind::marketplace},
    {"bank_transfer", TenderKind::bank_transfer},
    {"wallet", TenderKind::wallet},
    {"other", TenderKind::other},
};

void read_order_line(Problems& p, const json& j, const std::string& path, Currency c, OrderLine& l) {
  ObjectReader r(p, j, path);
  r.string("line_id", l.line_id, StringKind::identifier);
  r.string("sku", l.sku, StringKind::identifier);
  r.string("title", l.title, StringKind::text);
  r.quantity("quantity", l.quantity);
  r.money("unit_price", l.unit_price, c);
  r.array("discounts", l.discounts, false, 0,
          [c](Problems& p2, const json& e, const std::string& at, Discount& d) { read_discount(p2, e, at, c, d); });
  r.array("taxes", l.taxes, false, 0,
          [c](Problems& p2, const json& e, const std::string& at, TaxLine& t) { read_tax_line(p2, e, at, c, t); });
  r.finish();
}

void read_shipping_line(Problems& p, const json& j, const std::string& path, Currency c, ShippingLine& l) {
  ObjectReader r(p, j, path);
  r.string("line_id", l.line_id, StringKind::identifier);
  r.string("method", l.method, StringKind::text);
  r.money("price", l.price, c);
  r.array("discounts", l.discounts, false, 0,
          [c](Problems& p2, const json& e, const std::string& at, Discount& d) { read_discount(p2, e, at, c, d); });
  r.array("taxes", l.taxes, false, 0,
          [c](Problems& p2, const json& e, const std::string& at, TaxLine& t) { read_tax_line(p2, e, at, c, t); });
  r.finish();
}

void read_totals(Problems& p, const json& j, const std::string& path, Currency c, OrderTotals& t) {
  ObjectReader r(p, j, path);
  r.money("subtotal", t.subtotal, c);
  r.money("discount_total", t.discount_total, c);
  r.money("shipping_total", t.shipping_total, c);
  r.money("tax_total", t.tax_total, c);
  r.money("grand_total", t.grand_total, c);
  r.finish();
}

void read_order(Problems& p, const json& j, const std::string& path, Order& o) {
  ObjectReader r(p, j, path);
  r.string("id", o.id, StringKind::identifier);
  r.string("channel", o.channel, StringKind::code);
  r.string("external_reference", o.external_reference, StringKind::identifier);
  r.timestamp("placed_at", o.placed_at);
  r.timestamp("updated_at", o.updated_at);
  r.enumeration<OrderStatus>("status", o.status, kOrderStatus);
  r.currency("currency", o.currency);
  r.string("location", o.location, StringKind::code);
  r.boolean("taxes_included", o.taxes_included, false);
  const Currency c = o.currency;
  r.array("lines", o.lines, true, 1,
          [c](Problems& p2, const json& e, const std::string& at, OrderLine& l) { read_order_line(p2, e, at, c, l); });
  r.array("shipping_lines", o.shipping_lines, false, 0,
          [c](Problems& p2, const json& e, const std::string& at, ShippingLine& l) {
            read_shipping_line(p2, e, at, c, l);
          });
  r.array("discounts", o.discounts, false, 0,
          [c](Problems& p2, const json& e, const std::string& at, Discount& d) { read_discount(p2, e, at, c, d); });
  r.array("taxes", o.taxes, false, 0,
          [c](Problems& p2, const json& e, const std::string& at, TaxLine& t) { read_tax_line(p2, e, at, c, t); });
  r.array("tenders", o.tenders, false, 0, read_tender);
  if (const json* totals = r.member("totals", true)) read_totals(p, *totals, r.path_of("totals"), c, o.totals);
  r.finish();
}

}  // namespace

void read_tender(Problems& p, const json& j, const std::string& path, Tender& t) {
  ObjectReader r(p, j, path);
  r.string("tender_id", t.tender_id, StringKind::identifier);
  r.enumeration<TenderKind>("kind", t.kind, kTenderKind);
  Currency c;
  r.currency("currency", c);
  r.money("amount", t.amount, c);
  r.string("provider", t.provider, StringKind::text);
  r.string("reference", t.reference, StringKind::identifier);
  r.timestamp("captured_at", t.captured_at);
  r.finish();
}

void read_discount(Problems& p, const json& j, const std::string& path, Currency c, Discount& d) {
  ObjectReader r(p, j, path);
  r.string("code", d.code, StringKind::identifier);
  r.string("description", d.description, StringKind::text);
  r.money("amount", d.amount, c);
  r.finish();
}

void read_tax_line(Problems& p, const json& j, const std::string& path, Currency c, TaxLine& t) {
  ObjectReader r(p, j, path);
  r.string("name", t.name, StringKind::text);
  r.quantity("rate", t.rate);
  r.money("amount", t.amount, c);
  r.finish();
}

json discount_json(const Discount& d) {
  json j = json::object();
  put(j, "code", d.code);
  put(j, "description", d.description);
  j["amount"] = d.amount.to_decimal_string();
  return j;
}

json tax_line_json(const TaxLine& t) {
  json j = json::object();
  j["name"] = t.name;
  if (t.rate) j["rate"] = t.rate->to_string();
  j["amount"] = t.amount.to_decimal_string();
  return j;
}

}  // namespace detail

std::optional<OrderStatus> parse_order_status(std::string_view text) noexcept {
  for (const auto& [name, value] : detail::kOrderStatus)
    if (name == text) return value;
  return std::nullopt;
}

std::string_view to_string(OrderStatus s) noexcept { return detail::enum_name<OrderStatus>(detail::kOrderStatus, s); }
std::string_view to_string(TenderKind k) noexcept { return detail::enum_name<TenderKind>(detail::kTenderKind, k); }

template <>
Result<Tender> from_json<Tender>(const nlohmann::json& j, std::string_view pointer) {
  return detail::read_document<Tender>(j, pointer, detail::read_tender);
}

nlohmann::json to_json(const Tender& t) {
  nlohmann::json j = nlohmann::json::object();
  j["tender_id"] = t.tender_id;
  j["kind"] = to_string(t.kind);
  j["currency"] = t.amount.currency().code();
  j["amount"] = t.amount.to_decimal_string();
  detail::put(j, "provider", t.provider);
  detail::put(j, "reference", t.reference);
  if (t.captured_at) j["captured_at"] = t.captured_at->to_string();
  return j;
}

template <>
Result<Order> from_json<Order>(const nlohmann::json& j, std::string_view pointer) {
  return detail::read_document<Order>(j, pointer, detail::read_order);
}

nlohmann::json to_json(const Order& o) {
  using detail::array_json;
  nlohmann::json j = nlohmann::json::object();
  j["id"] = o.id;
  j["channel"] = o.channel;
  j["external_reference"] = o.external_reference;
  j["placed_at"] = o.placed_at.to_string();
  if (o.updated_at) j["updated_at"] = o.updated_at->to_string();
  j["status"] = to_string(o.status);
  j["currency"] = o.currency.code();
  detail::put(j, "location", o.location);
  j["taxes_included"] = o.taxes_included;
  j["lines"] = array_json(o.lines, [](const OrderLine& l) {
    nlohmann::json e = nlohmann::json::object();
    e["line_id"] = l.line_id;
    e["sku"] = l.sku;
    detail::put(e, "title", l.title);
    e["quantity"] = l.quantity.to_string();
    if (l.unit_price) e["unit_price"] = l.unit_price->to_decimal_string();
    e["discounts"] = array_json(l.discounts, detail::discount_json);
    e["taxes"] = array_json(l.taxes, detail::tax_line_json);
    return e;
  });
  j["shipping_lines"] = array_json(o.shipping_lines, [](const ShippingLine& l) {
    nlohmann::json e = nlohmann::json::object();
    detail::put(e, "line_id", l.line_id);
    e["method"] = l.method;
    e["price"] = l.price.to_decimal_string();
    e["discounts"] = array_json(l.discounts, detail::discount_json);
    e["taxes"] = array_json(l.taxes, detail::tax_line_json);
    return e;
  });
  j["discounts"] = array_json(o.discounts, detail::discount_json);
  j["taxes"] = array_json(o.taxes, detail::tax_line_json);
  j["tenders"] = array_json(o.tenders, [](const Tender& t) { return to_json(t); });
  j["totals"] = {{"subtotal", o.totals.subtotal.to_decimal_string()},
                 {"discount_total", o.totals.discount_total.to_decimal_string()},
                 {"shipping_total", o.totals.shipping_total.to_decimal_string()},
                 {"tax_total", o.totals.tax_total.to_decimal_string()},
                 {"grand_total", o.totals.grand_total.to_decimal_string()}};
  return j;
}

}  // namespace trueup::model
