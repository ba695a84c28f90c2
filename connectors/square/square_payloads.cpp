#include "square_payloads.hpp"

#include <cctype>
#include <utility>

#include "common/exact_json.hpp"
#include "common/payload_reader.hpp"

namespace trueup::connectors::square {
namespace {

using nlohmann::json;

// Square Money: {"amount": <integer minor units>, "currency": "USD"}.
std::optional<Money> money(PayloadReader& r, std::string_view key, Need need) {
  PayloadReader m = r.object(key, need);
  if (!m.present()) return std::nullopt;
  auto amount = m.integer("amount", Need::required);
  auto currency = m.currency("currency", Need::required);
  if (!amount || !currency) return std::nullopt;
  return Money::from_minor(*amount, *currency);
}

// Parses the body exactly and rejects Square's error responses.
Result<json> parse_response(std::string_view body) {
  auto j = parse_exact(body);
  if (!j) return j;
  auto errors = j->find("errors");
  if (errors != j->end() && errors->is_array() && !errors->empty()) {
    std::string message = "square_errors:";
    for (const auto& e : *errors) {
      const auto code = e.find("code");
      message += ' ';
      message += code != e.end() && code->is_string() ? code->get<std::string>() : std::string("?");
    }
    return make_error(Errc::invalid_argument, message);
  }
  return j;
}

// parse_response(body), then read_payload<T>(document, read).
template <class T, class F>
Result<T> read_response(std::string_view body, F&& read) {
  auto j = parse_response(body);
  if (!j) return std::move(j).error();
  return read_payload<T>(*j, std::forward<F>(read));
}

void read_applied(PayloadReader& r, std::string_view key, std::string_view uid_key, std::vector<AppliedAmount>& out) {
  r.each(key, Need::optional, [&](const json& e, const std::string& at) {
    PayloadReader a(r.problems(), e, at);
    AppliedAmount applied;
    applied.uid = a.id(uid_key, Need::required).value_or("");
    applied.applied_money = money(a, "applied_money", Need::optional);
    out.push_back(std::move(applied));
  });
}

void read_line_item(PayloadReader& r, OrderLineItem& l) {
  l.uid = r.id("uid", Need::optional);
  l.name = r.text("name", Need::optional);
  l.catalog_object_id = r.id("catalog_object_id", Need::optional);
  l.variation_name = r.text("variation_name", Need::optional);
  l.quantity = r.quantity("quantity", Need::required).value_or(Quantity{});
  l.base_price_money = money(r, "base_price_money", Need::optional);
  l.gross_sales_money = money(r, "gross_sales_money", Need::optional);
  l.total_discount_money = money(r, "total_discount_money", Need::optional);
  l.total_tax_money = money(r, "total_tax_money", Need::optional);
  l.total_money = money(r, "total_money", Need::optional);
  read_applied(r, "applied_discounts", "discount_uid", l.applied_discounts);
  read_applied(r, "applied_taxes", "tax_uid", l.applied_taxes);
}

void read_discount(PayloadReader& r, OrderDiscount& d) {
  d.uid = r.id("uid", Need::optional);
  d.name = r.text("name", Need::optional);
  d.catalog_object_id = r.id("catalog_object_id", Need::optional);
  d.type = r.text("type", Need::optional);
  d.scope = r.text("scope", Need::optional);
  d.percentage = r.quantity("percentage", Need::optional);
  d.amount_money = money(r, "amount_money", Need::optional);
  d.applied_money = money(r, "applied_money", Need::optional);
}

void read_order(PayloadReader& r, Order& o) {
  o.id = r.id("id", Need::optional);
  o.location_id = r.id("location_id", Need::optional);
  o.reference_id = r.text("reference_id", Need::optional);
  o.state = r.text("state", Need::optional);
  o.version = r.integer("version", Need::optional);
  o.created_at = r.timestamp("created_at", Need::optional);
  o.updated_at = r.timestamp("updated_at", Need::optional);
  o.closed_at = r.timestamp("closed_at", Need::optional);
  r.objects("line_items", Need::optional, o.line_items, read_line_item);
  r.objects("discounts", Need::optional, o.discounts, read_discount);
  r.objects("taxes", Need::optional, o.taxes, read_discount);
  r.objects("tenders", Need::optional, o.tenders, [](PayloadReader& t, OrderTender& out) {
    out.id = t.id("id", Need::required).value_or("");
    out.type = t.text("type", Need::required).value_or("");
    out.amount_money = money(t, "amount_money", Need::required).value_or(Money{});
    out.payment_id = t.id("payment_id", Need::optional);
  });
  o.total_money = money(r, "total_money", Need::optional);
  o.total_tax_money = money(r, "total_tax_money", Need::optional);
  o.total_discount_money = money(r, "total_discount_money", Need::optional);
  o.total_tip_money = money(r, "total_tip_money", Need::optional);
  o.total_service_charge_money = money(r, "total_service_charge_money", Need::optional);
}

void read_payment(PayloadReader& r, Payment& p) {
  p.id = r.id("id", Need::required).value_or("");
  p.order_id = r.id("order_id", Need::optional);
  p.location_id = r.id("location_id", Need::optional);
  p.status = r.text("status", Need::optional);
  p.source_type = r.text("source_type", Need::optional);
  p.amount_money = money(r, "amount_money", Need::required).value_or(Money{});
  p.tip_money = money(r, "tip_money", Need::optional);
  p.total_money = money(r, "total_money", Need::optional);
  p.created_at = r.timestamp("created_at", Need::optional);
  PayloadReader card = r.object("card_details", Need::optional);
  PayloadReader timeline = card.object("card_payment_timeline", Need::optional);
  p.captured_at = timeline.timestamp("captured_at", Need::optional);
  p.receipt_number = r.text("receipt_number", Need::optional);
  p.reference_id = r.text("reference_id", Need::optional);
}

void read_refund(PayloadReader& r, PaymentRefund& p) {
  p.id = r.id("id", Need::required).value_or("");
  p.payment_id = r.id("payment_id", Need::optional);
  p.order_id = r.id("order_id", Need::optional);
  p.location_id = r.id("location_id", Need::optional);
  p.status = r.text("status", Need::optional);
  p.reason = r.text("reason", Need::optional);
  p.amount_money = money(r, "amount_money", Need::required).value_or(Money{});
  p.created_at = r.timestamp("created_at", Need::optional);
}

void read_count(PayloadReader& r, InventoryCount& c) {
  c.catalog_object_id = r.id("catalog_object_id", Need::required).value_or("");
  c.catalog_object_type = r.text("catalog_object_type", Need::optional);
  c.location_id = r.id("location_id", Need::required).value_or("");
  c.state = r.text("state", Need::required).value_or("");
  c.quantity = r.quantity("quantity", Need::required).value_or(Quantity{});
  c.calculated_at = r.timestamp("calculated_at", Need::required).value_or(model::Timestamp{});
}

void read_change_fields(PayloadReader& r, InventoryChangeFields& c) {
  c.id = r.id("id", Need::optional);
  c.reference_id = r.text("reference_id", Need::optional);
  c.catalog_object_id = r.id("catalog_object_id", Need::required).value_or("");
  c.location_id = r.id("location_id", Need::required).value_or("");
  c.quantity = r.quantity("quantity", Need::required).value_or(Quantity{});
  c.occurred_at = r.timestamp("occurred_at", Need::required).value_or(model::Timestamp{});
  c.team_member_id = r.id("team_member_id", Need::optional);
}

void read_physical_count(PayloadReader& r, PhysicalCount& c) {
  read_change_fields(r, c);
  c.state = r.text("state", Need::required).value_or("");
}

void read_adjustment(PayloadReader& r, InventoryAdjustment& a) {
  read_change_fields(r, a);
  a.from_state = r.text("from_state", Need::required).value_or("");
  a.to_state = r.text("to_state", Need::required).value_or("");
}

void read_change(PayloadReader& r, InventoryChange& out) {
  auto type = r.text("type", Need::required);
  if (!type) return;
  if (*type == "PHYSICAL_COUNT") {
    PayloadReader c = r.object("physical_count", Need::required);
    PhysicalCount count;
    if (c.present()) read_physical_count(c, count);
    out = std::move(count);
  } else if (*type == "ADJUSTMENT") {
    PayloadReader a = r.object("adjustment", Need::required);
    InventoryAdjustment adjustment;
    if (a.present()) read_adjustment(a, adjustment);
    out = std::move(adjustment);
  } else {
    r.fail("type", "unsupported_change_type: only PHYSICAL_COUNT and ADJUSTMENT are read, got " + *type);
  }
}

// Reads the body's `key` object with `read`.
template <class T, class F>
Result<T> decode_wrapped(std::string_view body, std::string_view key, F&& read) {
  return read_response<T>(body, [&](PayloadReader& r, T& out) {
    PayloadReader inner = r.object(key, Need::required);
    if (inner.present()) read(inner, out);
  });
}

json change_fields_json(const InventoryChangeFields& c) {
  json j = {{"catalog_object_id", c.catalog_object_id},
            {"location_id", c.location_id},
            {"occurred_at", c.occurred_at.to_string()},
            {"quantity", c.quantity.to_string()}};
  if (c.reference_id) j["reference_id"] = *c.reference_id;
  if (c.team_member_id) j["team_member_id"] = *c.team_member_id;
  return j;
}

json change_json(const InventoryChange& change) {
  if (const auto* count = std::get_if<PhysicalCount>(&change)) {
    json j = change_fields_json(*count);
    j["state"] = count->state;
    return json{{"physical_count", std::move(j)}, {"type", "PHYSICAL_COUNT"}};
  }
  const auto& adjustment = std::get<InventoryAdjustment>(change);
  json j = change_fields_json(adjustment);
  j["from_state"] = adjustment.from_state;
  j["to_state"] = adjustment.to_state;
  return json{{"adjustment", std::move(j)}, {"type", "ADJUSTMENT"}};
}

}  // namespace

Result<Order> decode_order(const json& j, std::string_view pointer) {
  return read_payload<Order>(j, read_order, pointer);
}

Result<Order> decode_order_response(std::string_view body) { return decode_wrapped<Order>(body, "order", read_order); }

Result<SearchOrdersResponse> decode_search_orders_response(std::string_view body) {
  return read_response<SearchOrdersResponse>(body, [](PayloadReader& r, SearchOrdersResponse& out) {
    r.objects("orders", Need::optional, out.orders, read_order);
    r.objects("order_entries", Need::optional, out.order_entries, [](PayloadReader& e, OrderEntry& entry) {
      entry.order_id = e.id("order_id", Need::required).value_or("");
      entry.location_id = e.id("location_id", Need::optional);
      entry.version = e.integer("version", Need::optional);
    });
    out.cursor = r.text("cursor", Need::optional);
  });
}

Result<Payment> decode_payment(const json& j, std::string_view pointer) {
  return read_payload<Payment>(j, read_payment, pointer);
}

Result<PaymentRefund> decode_payment_refund(const json& j, std::string_view pointer) {
  return read_payload<PaymentRefund>(j, read_refund, pointer);
}

Result<Payment> decode_payment_response(std::string_view body) {
  return decode_wrapped<Payment>(body, "payment", read_payment);
}

Result<PaymentRefund> decode_refund_response(std::string_view body) {
  return decode_wrapped<PaymentRefund>(body, "refund", read_refund);
}

Result<PaymentRefundsPage> decode_list_refunds_response(std::string_view body) {
  return read_response<PaymentRefundsPage>(body, [](PayloadReader& r, PaymentRefundsPage& out) {
    r.objects("refunds", Need::optional, out.refunds, read_refund);
    out.cursor = r.text("cursor", Need::optional);
  });
}

Result<InventoryCount> decode_inventory_count(const json& j, std::string_view pointer) {
  return read_payload<InventoryCount>(j, read_count, pointer);
}

Result<InventoryCountsPage> decode_inventory_counts_response(std::string_view body) {
  return read_response<InventoryCountsPage>(body, [](PayloadReader& r, InventoryCountsPage& out) {
    r.objects("counts", Need::optional, out.counts, read_count);
    out.cursor = r.text("cursor", Need::optional);
  });
}

Result<InventoryChangesPage> decode_inventory_changes_response(std::string_view body) {
  return read_response<InventoryChangesPage>(body, [](PayloadReader& r, InventoryChangesPage& out) {
    r.objects("changes", Need::optional, out.changes, read_change);
    out.cursor = r.text("cursor", Need::optional);
  });
}

Result<json> build_batch_change_inventory(const BatchChangeInventoryRequest& request) {
  if (request.idempotency_key.empty() || request.idempotency_key.size() > 128)
    return make_error(Errc::invalid_argument, "idempotency_key must be 1 to 128 bytes");
  if (request.changes.empty() || request.changes.size() > 100)
    return make_error(Errc::invalid_argument,
                      "a batch holds 1 to 100 inventory changes, got " + std::to_string(request.changes.size()));
  json changes = json::array();
  for (const auto& change : request.changes) changes.push_back(change_json(change));
  json body = {{"changes", std::move(changes)}, {"idempotency_key", request.idempotency_key}};
  if (request.ignore_unchanged_counts) body["ignore_unchanged_counts"] = *request.ignore_unchanged_counts;
  return body;
}

Result<BatchChangeInventoryRequest> decode_batch_change_inventory(std::string_view body) {
  return read_body<BatchChangeInventoryRequest>(body, [](PayloadReader& r, BatchChangeInventoryRequest& out) {
    out.idempotency_key = r.text("idempotency_key", Need::required).value_or("");
    r.objects("changes", Need::optional, out.changes, read_change);
    out.ignore_unchanged_counts = r.boolean("ignore_unchanged_counts", Need::optional);
  });
}

json build_batch_retrieve_inventory_counts(const BatchRetrieveInventoryCountsRequest& request) {
  json body = json::object();
  if (!request.catalog_object_ids.empty()) body["catalog_object_ids"] = request.catalog_object_ids;
  if (!request.location_ids.empty()) body["location_ids"] = request.location_ids;
  if (request.updated_after) body["updated_after"] = request.updated_after->to_string();
  if (request.cursor) body["cursor"] = *request.cursor;
  return body;
}

Result<json> build_search_orders(const SearchOrdersRequest& request) {
  if (request.location_ids.empty() || request.location_ids.size() > 10)
    return make_error(Errc::invalid_argument,
                      "search 1 to 10 locations, got " + std::to_string(request.location_ids.size()));
  const std::string& field = request.time_field;
  if (field != "CREATED_AT" && field != "UPDATED_AT" && field != "CLOSED_AT")
    return make_error(Errc::invalid_argument, "time_field must be CREATED_AT, UPDATED_AT or CLOSED_AT, got " + field);
  std::string filter_key = field;
  for (char& c : filter_key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  json filter = json::object();
  if (request.start_at || request.end_at) {
    json range = json::object();
    if (request.start_at) range["start_at"] = request.start_at->to_string();
    if (request.end_at) range["end_at"] = request.end_at->to_string();
    filter["date_time_filter"] = {{filter_key, std::move(range)}};
  }
  if (!request.states.empty()) filter["state_filter"] = {{"states", request.states}};
  json body = {
      {"location_ids", request.location_ids},
      {"query",
       {{"filter", std::move(filter)}, {"sort", {{"sort_field", field}, {"sort_order", request.sort_order}}}}}};
  if (request.limit) body["limit"] = *request.limit;
  if (request.cursor) body["cursor"] = *request.cursor;
  if (request.return_entries) body["return_entries"] = true;
  return body;
}

Result<WebhookEvent> decode_webhook_event(std::string_view body) {
  return read_body<WebhookEvent>(body, [](PayloadReader& r, WebhookEvent& e) {
    e.merchant_id = r.id("merchant_id", Need::required).value_or("");
    e.type = r.text("type", Need::required).value_or("");
    e.event_id = r.id("event_id", Need::required).value_or("");
    e.created_at = r.timestamp("created_at", Need::required).value_or(model::Timestamp{});
    PayloadReader data = r.object("data", Need::required);
    e.data_type = data.text("type", Need::required).value_or("");
    e.data_id = data.id("id", Need::optional);
    PayloadReader object = data.object("object", Need::required);
    if (r.failed()) return;
    const std::string_view type = e.type;
    if (type == "inventory.count.updated") {
      std::vector<InventoryCount> counts;
      object.objects("inventory_counts", Need::optional, counts, read_count);
      e.payload = std::move(counts);
    } else if (type.starts_with("order.")) {
      // order_created, order_updated, order_fulfillment_updated: the member
      // is named after data.type.
      PayloadReader o = object.object(e.data_type, Need::required);
      OrderChange change;
      change.order_id = o.id("order_id", Need::required).value_or("");
      change.location_id = o.id("location_id", Need::optional);
      change.state = o.text("state", Need::optional);
      change.version = o.integer("version", Need::required).value_or(0);
      change.created_at = o.timestamp("created_at", Need::optional);
      change.updated_at = o.timestamp("updated_at", Need::optional);
      e.payload = std::move(change);
    } else if (type.starts_with("payment.")) {
      PayloadReader p = object.object("payment", Need::required);
      Payment payment;
      if (p.present()) read_payment(p, payment);
      e.payload = std::move(payment);
    } else if (type.starts_with("refund.")) {
      PayloadReader p = object.object("refund", Need::required);
      PaymentRefund refund;
      if (p.present()) read_refund(p, refund);
      e.payload = std::move(refund);
    } else {
      r.fail("type", "unsupported_event_type: " + e.type);
    }
  });
}

}  // namespace trueup::connectors::square
