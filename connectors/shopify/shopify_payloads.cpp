#include "shopify_payloads.hpp"

#include <utility>

#include "common/exact_json.hpp"
#include "common/payload_reader.hpp"

namespace trueup::connectors::shopify {
namespace {

using nlohmann::json;

// One entry of a MoneyBag: {"amount": "1.00", "currency_code": "USD"}
// (transactions write "currency" instead of "currency_code").
std::optional<Money> bag_entry(PayloadReader& r, std::string_view key, Need need) {
  PayloadReader m = r.object(key, need);
  if (!m.present()) return std::nullopt;
  const bool coded = m.member("currency_code", Need::optional) != nullptr;
  auto currency = m.currency(coded ? "currency_code" : "currency", Need::required);
  if (!currency) return std::nullopt;
  return m.decimal_money("amount", *currency, Need::required);
}

std::optional<MoneyPair> money_set(PayloadReader& r, std::string_view key) {
  PayloadReader set = r.object(key, Need::optional);
  if (!set.present()) return std::nullopt;
  auto shop = bag_entry(set, "shop_money", Need::required);
  auto presentment = bag_entry(set, "presentment_money", Need::optional);
  if (!shop) return std::nullopt;
  return MoneyPair{*shop, presentment};
}

// "<key>_set" when present (and then "<key>", if given, must agree with its
// shop money), else "<key>" in `currency`.
std::optional<MoneyPair> amount(PayloadReader& r, std::string_view key, const std::optional<Currency>& currency,
                                Need need, std::string_view set_suffix = "_set") {
  const std::string set_key = std::string(key) + std::string(set_suffix);
  auto pair = money_set(r, set_key);
  if (r.failed()) return std::nullopt;
  const bool plain_present = r.member(key, Need::optional) != nullptr;
  if (pair) {
    if (plain_present) {
      auto plain = r.decimal_money(key, pair->shop.currency(), Need::required);
      if (plain && *plain != pair->shop) {
        r.fail(key, "disagrees with " + set_key + "/shop_money (" + pair->shop.to_decimal_string() + ")");
        return std::nullopt;
      }
    }
    return pair;
  }
  if (!plain_present) {
    if (need == Need::required) r.member(key, Need::required);
    return std::nullopt;
  }
  if (!currency) {
    r.fail(key, "an amount without a currency: the resource names no `currency` (a fields= selection?)");
    return std::nullopt;
  }
  auto m = r.decimal_money(key, *currency, Need::required);
  if (!m) return std::nullopt;
  return MoneyPair{*m, std::nullopt};
}

void read_tax_lines(PayloadReader& r, const std::optional<Currency>& currency, std::vector<TaxLine>& out) {
  r.objects("tax_lines", Need::optional, out, [&](PayloadReader& t, TaxLine& tax) {
    tax.title = t.text("title", Need::required).value_or("");
    tax.rate = t.quantity("rate", Need::optional);
    tax.price = amount(t, "price", currency, Need::required).value_or(MoneyPair{});
  });
}

void read_allocations(PayloadReader& r, const std::optional<Currency>& currency, std::vector<DiscountAllocation>& out) {
  r.objects("discount_allocations", Need::optional, out, [&](PayloadReader& a, DiscountAllocation& d) {
    d.amount = amount(a, "amount", currency, Need::required).value_or(MoneyPair{});
    d.discount_application_index = a.integer("discount_application_index", Need::required).value_or(0);
  });
}

void read_line_item(PayloadReader& r, const std::optional<Currency>& currency, LineItem& l) {
  l.id = r.id("id", Need::required).value_or("");
  l.variant_id = r.id("variant_id", Need::optional);
  l.product_id = r.id("product_id", Need::optional);
  l.sku = r.text("sku", Need::optional);
  if (l.sku && l.sku->empty()) l.sku.reset();
  l.title = r.text("title", Need::optional);
  l.name = r.text("name", Need::optional);
  l.quantity = r.quantity("quantity", Need::required).value_or(Quantity{});
  l.price = amount(r, "price", currency, Need::required).value_or(MoneyPair{});
  read_tax_lines(r, currency, l.tax_lines);
  read_allocations(r, currency, l.discount_allocations);
}

void read_order(PayloadReader& r, Order& o) {
  o.id = r.id("id", Need::required).value_or("");
  o.name = r.text("name", Need::optional);
  o.created_at = r.timestamp("created_at", Need::optional);
  o.updated_at = r.timestamp("updated_at", Need::optional);
  o.cancelled_at = r.timestamp("cancelled_at", Need::optional);
  o.closed_at = r.timestamp("closed_at", Need::optional);
  o.currency = r.currency("currency", Need::optional);
  o.presentment_currency = r.currency("presentment_currency", Need::optional);
  o.financial_status = r.text("financial_status", Need::optional);
  o.fulfillment_status = r.text("fulfillment_status", Need::optional);
  o.taxes_included = r.boolean("taxes_included", Need::optional).value_or(false);
  o.location_id = r.id("location_id", Need::optional);
  const auto& c = o.currency;
  r.objects("line_items", Need::optional, o.line_items,
            [&](PayloadReader& l, LineItem& item) { read_line_item(l, c, item); });
  r.objects("shipping_lines", Need::optional, o.shipping_lines, [&](PayloadReader& s, ShippingLine& line) {
    line.id = s.id("id", Need::optional);
    line.title = s.text("title", Need::required).value_or("");
    line.code = s.text("code", Need::optional);
    line.price = amount(s, "price", c, Need::required).value_or(MoneyPair{});
    read_tax_lines(s, c, line.tax_lines);
    read_allocations(s, c, line.discount_allocations);
  });
  read_tax_lines(r, c, o.tax_lines);
  r.objects("discount_applications", Need::optional, o.discount_applications,
            [](PayloadReader& a, DiscountApplication& d) {
              d.type = a.text("type", Need::required).value_or("");
              d.code = a.text("code", Need::optional);
              d.title = a.text("title", Need::optional);
              d.description = a.text("description", Need::optional);
              d.target_type = a.text("target_type", Need::optional);
            });
  o.total_line_items_price = amount(r, "total_line_items_price", c, Need::optional);
  o.subtotal_price = amount(r, "subtotal_price", c, Need::optional);
  o.total_discounts = amount(r, "total_discounts", c, Need::optional);
  o.total_tax = amount(r, "total_tax", c, Need::optional);
  o.total_shipping_price = money_set(r, "total_shipping_price_set");
  o.total_price = amount(r, "total_price", c, Need::optional);
}

// The shop currency of a refund: its `currency`, else the first shop money it carries.
std::optional<Currency> refund_currency(PayloadReader& r, const json& j) {
  if (auto c = r.currency("currency", Need::optional)) return c;
  for (const char* key : {"total_duties_set", "total_additional_fees_set"}) {
    auto code = j.find(key);
    if (code == j.end() || !code->is_object()) continue;
    const json& shop = code->value("shop_money", json::object());
    if (shop.contains("currency_code") && shop["currency_code"].is_string()) {
      auto c = Currency::from_code(shop["currency_code"].get<std::string>());
      if (c) return *c;
    }
  }
  return std::nullopt;
}

void read_transaction(PayloadReader& t, Transaction& x) {
  x.id = t.id("id", Need::optional);
  x.kind = t.text("kind", Need::required).value_or("");
  x.status = t.text("status", Need::optional);
  x.gateway = t.text("gateway", Need::optional);
  x.authorization = t.text("authorization", Need::optional);
  x.payment_id = t.id("payment_id", Need::optional);
  auto currency = t.currency("currency", Need::required);
  if (currency) x.amount = t.decimal_money("amount", *currency, Need::required).value_or(Money{});
  x.processed_at = t.timestamp("processed_at", Need::optional);
  x.card_company = t.object("payment_details", Need::optional).text("credit_card_company", Need::optional);
}

void read_refund(PayloadReader& r, const json& j, Refund& f) {
  f.id = r.id("id", Need::optional);
  f.order_id = r.id("order_id", Need::optional);
  f.created_at = r.timestamp("created_at", Need::optional);
  f.note = r.text("note", Need::optional);
  f.currency = refund_currency(r, j);
  const auto& c = f.currency;
  r.objects("refund_line_items", Need::optional, f.refund_line_items, [&](PayloadReader& l, RefundLineItem& item) {
    item.id = l.id("id", Need::optional);
    item.line_item_id = l.id("line_item_id", Need::required).value_or("");
    item.quantity = l.quantity("quantity", Need::required).value_or(Quantity{});
    item.restock_type = l.text("restock_type", Need::required).value_or("");
    item.location_id = l.id("location_id", Need::optional);
    item.subtotal = amount(l, "subtotal", c, Need::optional);
    item.total_tax = amount(l, "total_tax", c, Need::optional);
    PayloadReader line = l.object("line_item", Need::optional);
    if (line.present()) {
      LineItem embedded;
      read_line_item(line, c, embedded);
      item.line_item = std::move(embedded);
    }
  });
  r.each("refund_shipping_lines", Need::optional, [&](const json& e, const std::string& at) {
    PayloadReader s(r.problems(), e, at);
    if (auto m = money_set(s, "subtotal_amount_set")) f.refund_shipping_lines.push_back(*m);
  });
  r.objects("transactions", Need::optional, f.transactions, read_transaction);
}

// {"<plural>": [...]}, {"<singular>": {...}} or the bare resource.
template <class T, class F>
Result<std::vector<T>> decode_resources(std::string_view body, const char* singular, const char* plural, F&& read) {
  auto j = parse_exact(body);
  if (!j) return std::move(j).error();
  return read_payload<std::vector<T>>(*j, [&](PayloadReader& r, std::vector<T>& out) {
    if (!j->is_object()) return;
    if (j->contains(plural)) {
      r.each(plural, Need::required, [&](const json& e, const std::string& at) {
        PayloadReader item(r.problems(), e, at);
        T value{};
        read(item, e, value);
        out.push_back(std::move(value));
      });
      return;
    }
    const bool wrapped = j->contains(singular);
    const json& resource = wrapped ? j->at(singular) : *j;
    PayloadReader item = wrapped ? r.object(singular, Need::required) : r;
    if (!item.present()) return;
    T value{};
    read(item, resource, value);
    out.push_back(std::move(value));
  });
}

// Shopify ids in request bodies are JSON integers.
Result<json> id_number(const std::string& id, const char* name) {
  std::uint64_t value = 0;
  const bool digits = !id.empty() && id.size() <= 19 && id.find_first_not_of("0123456789") == std::string::npos;
  if (digits) value = std::stoull(id);
  if (!digits || value > static_cast<std::uint64_t>(INT64_MAX))
    return make_error(Errc::invalid_argument,
                      std::string(name) + ": expected a Shopify id (decimal digits), got \"" + id + "\"");
  return json(value);
}

}  // namespace

Result<std::vector<Order>> decode_orders(std::string_view body) {
  return decode_resources<Order>(body, "order", "orders",
                                 [](PayloadReader& r, const json&, Order& o) { read_order(r, o); });
}

Result<std::vector<Refund>> decode_refunds(std::string_view body) {
  return decode_resources<Refund>(body, "refund", "refunds", read_refund);
}

Result<std::vector<Transaction>> decode_transactions(std::string_view body) {
  return decode_resources<Transaction>(body, "transaction", "transactions",
                                       [](PayloadReader& r, const json&, Transaction& t) { read_transaction(r, t); });
}

Result<std::vector<InventoryLevel>> decode_inventory_levels(std::string_view body) {
  return decode_resources<InventoryLevel>(
      body, "inventory_level", "inventory_levels", [](PayloadReader& r, const json&, InventoryLevel& l) {
        l.inventory_item_id = r.id("inventory_item_id", Need::required).value_or("");
        l.location_id = r.id("location_id", Need::required).value_or("");
        l.available = r.integer("available", Need::optional);
        l.updated_at = r.timestamp("updated_at", Need::optional);
      });
}

Result<std::vector<Variant>> decode_variants(std::string_view body) {
  return decode_resources<Variant>(body, "variant", "variants", [](PayloadReader& r, const json&, Variant& v) {
    v.id = r.id("id", Need::required).value_or("");
    v.product_id = r.id("product_id", Need::optional);
    v.sku = r.text("sku", Need::optional);
    v.inventory_item_id = r.id("inventory_item_id", Need::optional);
    v.title = r.text("title", Need::optional);
    v.price = r.text("price", Need::optional);
  });
}

Result<std::vector<InventoryItem>> decode_inventory_items(std::string_view body) {
  return decode_resources<InventoryItem>(body, "inventory_item", "inventory_items",
                                         [](PayloadReader& r, const json&, InventoryItem& i) {
                                           i.id = r.id("id", Need::required).value_or("");
                                           i.sku = r.text("sku", Need::optional);
                                           i.tracked = r.boolean("tracked", Need::optional);
                                         });
}

Result<std::vector<Location>> decode_locations(std::string_view body) {
  return decode_resources<Location>(body, "location", "locations", [](PayloadReader& r, const json&, Location& l) {
    l.id = r.id("id", Need::required).value_or("");
    l.name = r.text("name", Need::required).value_or("");
    l.active = r.boolean("active", Need::optional);
  });
}

Result<json> build_inventory_level_set(const InventoryLevelSet& request) {
  auto location = id_number(request.location_id, "location_id");
  if (!location) return location;
  auto item = id_number(request.inventory_item_id, "inventory_item_id");
  if (!item) return item;
  return json{{"location_id", *location}, {"inventory_item_id", *item}, {"available", request.available}};
}

Result<InventoryLevelSet> decode_inventory_level_set(std::string_view body) {
  return read_body<InventoryLevelSet>(body, [](PayloadReader& r, InventoryLevelSet& s) {
    s.location_id = r.id("location_id", Need::required).value_or("");
    s.inventory_item_id = r.id("inventory_item_id", Need::required).value_or("");
    s.available = r.integer("available", Need::required).value_or(0);
  });
}

namespace {

constexpr const char* kSetQuantitiesMutation =
    "mutation SetAvailable($input: InventorySetQuantitiesInput!, $idempotencyKey: String!) { "
    "inventorySetQuantities(input: $input) @idempotent(key: $idempotencyKey) { "
    "inventoryAdjustmentGroup { createdAt reason changes { name delta quantityAfterChange item { id } location { id } "
    "} } userErrors { field code message } } }";

std::optional<double> number(const json& object, const char* name) {
  auto it = object.find(name);
  if (it == object.end() || !it->is_number()) return std::nullopt;
  return it->get<double>();
}

}  // namespace

Result<json> build_inventory_set_quantities(const std::vector<QuantitySet>& quantities,
                                            const std::string& idempotency_key) {
  if (quantities.empty() || quantities.size() > kMaxSetQuantities)
    return make_error(Errc::invalid_argument, "inventorySetQuantities takes 1.." + std::to_string(kMaxSetQuantities) +
                                                  " quantities, got " + std::to_string(quantities.size()));
  if (idempotency_key.empty()) return make_error(Errc::invalid_argument, "inventorySetQuantities needs a key");
  json list = json::array();
  for (const auto& q : quantities) {
    auto item = id_number(q.inventory_item_id, "inventory_item_id");
    if (!item) return item;
    auto location = id_number(q.location_id, "location_id");
    if (!location) return location;
    list.push_back(json{{"inventoryItemId", "gid://shopify/InventoryItem/" + q.inventory_item_id},
                        {"locationId", "gid://shopify/Location/" + q.location_id},
                        {"quantity", q.quantity},
                        {"changeFromQuantity", nullptr}});
  }
  return json{{"query", kSetQuantitiesMutation},
              {"variables",
               {{"input", {{"name", "available"}, {"reason", "correction"}, {"quantities", std::move(list)}}},
                {"idempotencyKey", idempotency_key}}}};
}

bool SetQuantitiesAnswer::throttled() const {
  for (const auto& e : errors)
    if (e.code == "THROTTLED") return true;
  return false;
}

Result<SetQuantitiesAnswer> decode_inventory_set_quantities_answer(std::string_view body) {
  const json doc = json::parse(body, nullptr, false);
  if (doc.is_discarded() || !doc.is_object() || (!doc.contains("data") && !doc.contains("errors")))
    return make_error(Errc::invalid_argument, "not a GraphQL answer (neither data nor errors)");
  SetQuantitiesAnswer out;
  if (auto errors = doc.find("errors"); errors != doc.end() && errors->is_array()) {
    for (const auto& e : *errors) {
      SetQuantitiesAnswer::TopLevelError error;
      if (e.is_object()) {
        error.message = e.value("message", "");
        if (auto ext = e.find("extensions"); ext != e.end() && ext->is_object()) error.code = ext->value("code", "");
      }
      out.errors.push_back(std::move(error));
    }
  }
  const json* payload = nullptr;
  if (auto data = doc.find("data"); data != doc.end() && data->is_object())
    if (auto set = data->find("inventorySetQuantities"); set != data->end() && set->is_object()) payload = &*set;
  if (payload != nullptr) {
    out.applied = true;
    if (auto list = payload->find("userErrors"); list != payload->end() && list->is_array()) {
      for (const auto& e : *list) {
        SetQuantitiesAnswer::UserError error;
        if (!e.is_object()) continue;
        error.code = e.value("code", json()).is_string() ? e["code"].get<std::string>() : std::string();
        error.message = e.value("message", "");
        // ["input", "quantities", "<i>", ...]: the quantity it is about.
        const json field = e.value("field", json());
        if (field.is_array() && field.size() >= 3 && field[1] == "quantities" && field[2].is_string()) {
          const std::string& index = field[2].get_ref<const std::string&>();
          if (!index.empty() && index.size() < 10 && index.find_first_not_of("0123456789") == std::string::npos)
            error.quantity = static_cast<std::size_t>(std::stoul(index));
        }
        out.user_errors.push_back(std::move(error));
      }
    }
  }
  if (auto ext = doc.find("extensions"); ext != doc.end() && ext->is_object()) {
    if (auto cost = ext->find("cost"); cost != ext->end() && cost->is_object()) {
      const json status = cost->value("throttleStatus", json::object());
      auto available = status.is_object() ? number(status, "currentlyAvailable") : std::nullopt;
      if (available) {
        SetQuantitiesAnswer::Cost c;
        c.requested = number(*cost, "requestedQueryCost").value_or(0);
        c.currently_available = *available;
        c.maximum_available = number(status, "maximumAvailable").value_or(0);
        c.restore_rate = number(status, "restoreRate").value_or(0);
        out.cost = c;
      }
    }
  }
  return out;
}

}  // namespace trueup::connectors::shopify
