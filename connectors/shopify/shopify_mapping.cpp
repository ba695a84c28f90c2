#include "shopify_mapping.hpp"

#include <string>
#include <utility>

namespace trueup::connectors::shopify {
namespace {

model::OrderStatus order_status(const Order& o) {
  if (o.cancelled_at) return model::OrderStatus::cancelled;
  if (o.fulfillment_status == "fulfilled")
    return o.closed_at ? model::OrderStatus::closed : model::OrderStatus::fulfilled;
  if (o.fulfillment_status == "partial") return model::OrderStatus::partially_fulfilled;
  if (o.closed_at) return model::OrderStatus::closed;
  if (o.financial_status == "pending") return model::OrderStatus::pending;
  return model::OrderStatus::open;
}

model::TenderKind tender_kind(std::string_view gateway) {
  if (gateway == "shopify_payments") return model::TenderKind::card;
  if (gateway == "gift_card") return model::TenderKind::gift_card;
  if (gateway == "cash") return model::TenderKind::cash;
  if (gateway == "shopify_store_credit") return model::TenderKind::store_credit;
  return model::TenderKind::other;
}

model::Tender tender_of(const Transaction& t) {
  model::Tender tender;
  tender.tender_id = t.id.value_or("");
  tender.kind = t.card_company ? model::TenderKind::card : tender_kind(t.gateway.value_or(""));
  tender.amount = t.amount;
  tender.provider = t.gateway;
  tender.reference = t.payment_id;
  tender.captured_at = t.processed_at;
  return tender;
}

model::Sku line_sku(const LineItem& l, IdMapping& ids, const std::string& at) {
  if (l.variant_id) return ids.sku(kVariantEntity, *l.variant_id, at + "/variant_id");
  if (l.sku) return ids.sku(kSkuEntity, *l.sku, at + "/sku");
  return ids.sku(kCustomItemEntity, l.title.value_or(""), at + "/title");
}

std::vector<model::TaxLine> taxes(const std::vector<TaxLine>& lines) {
  std::vector<model::TaxLine> out;
  for (const auto& t : lines) out.push_back(model::TaxLine{t.title, t.rate, t.price.shop});
  return out;
}

std::vector<model::Discount> discounts(const std::vector<DiscountAllocation>& allocations,
                                       const std::vector<DiscountApplication>& applications) {
  std::vector<model::Discount> out;
  for (const auto& a : allocations) {
    model::Discount d;
    d.amount = a.amount.shop;
    const auto index = static_cast<std::size_t>(a.discount_application_index);
    if (a.discount_application_index >= 0 && index < applications.size()) {
      const DiscountApplication& app = applications[index];
      if (app.code && model::is_identifier(*app.code)) d.code = app.code;
      d.description = app.title ? app.title : app.description;
    }
    out.push_back(std::move(d));
  }
  return out;
}

// Adds `m` to `sum`; false (with `error` set) on mixed currencies or overflow.
bool accumulate(Money& sum, const Money& m, const std::string& at, std::optional<MappingError>& error) {
  auto next = sum.add(m);
  if (!next) {
    error = invalid_payload(at + ": " + next.error().message);
    return false;
  }
  sum = *next;
  return true;
}

}  // namespace

Mapped<model::Order> to_order(const Order& order, const MappingContext& context) {
  if (!order.created_at) return invalid_payload("/created_at: required member is missing (a fields= selection?)");
  if (!order.currency) return invalid_payload("/currency: required member is missing (a fields= selection?)");
  if (!order.total_price) return invalid_payload("/total_price: required member is missing");
  if (order.line_items.empty()) return invalid_payload("/line_items: an order without line items");
  const Currency currency = *order.currency;
  const Money zero = Money::zero(currency);
  IdMapping ids(context.resolver);
  model::Order out;
  out.id = canonical_order_id(context.channel, order.id);
  out.channel = context.channel;
  out.external_reference = order.id;
  out.placed_at = *order.created_at;
  out.updated_at = order.updated_at;
  out.status = order_status(order);
  out.currency = currency;
  if (order.location_id) out.location = ids.location(kLocationEntity, *order.location_id, "/location_id");
  out.taxes_included = order.taxes_included;

  std::optional<MappingError> error;
  Money line_total = zero;
  for (std::size_t i = 0; i < order.line_items.size(); ++i) {
    const LineItem& item = order.line_items[i];
    const std::string at = "/line_items/" + std::to_string(i);
    model::OrderLine line;
    line.line_id = item.id;
    line.sku = line_sku(item, ids, at);
    line.title = item.title;
    line.quantity = item.quantity;
    line.unit_price = item.price.shop;
    line.discounts = discounts(item.discount_allocations, order.discount_applications);
    line.taxes = taxes(item.tax_lines);
    auto extended = extend_price(item.price.shop, item.quantity);
    if (!extended) return invalid_payload(at + "/price: " + extended.error().message);
    if (!accumulate(line_total, *extended, at, error)) return *error;
    out.lines.push_back(std::move(line));
  }
  Money shipping_total = zero;
  for (std::size_t i = 0; i < order.shipping_lines.size(); ++i) {
    const ShippingLine& s = order.shipping_lines[i];
    model::ShippingLine line;
    if (s.id) line.line_id = s.id;
    line.method = s.title;
    line.price = s.price.shop;
    line.discounts = discounts(s.discount_allocations, order.discount_applications);
    line.taxes = taxes(s.tax_lines);
    if (!accumulate(shipping_total, s.price.shop, "/shipping_lines/" + std::to_string(i), error)) return *error;
    out.shipping_lines.push_back(std::move(line));
  }
  out.totals.subtotal = order.total_line_items_price ? order.total_line_items_price->shop : line_total;
  out.totals.discount_total = order.total_discounts ? order.total_discounts->shop : zero;
  out.totals.shipping_total = order.total_shipping_price ? order.total_shipping_price->shop : shipping_total;
  out.totals.tax_total = order.total_tax ? order.total_tax->shop : zero;
  out.totals.grand_total = order.total_price->shop;
  if (!ids.complete()) return ids.error();
  return canonical(std::move(out));
}

Mapped<model::Refund> to_refund(const Refund& refund, const MappingContext& context) {
  if (!refund.id) return invalid_payload("refund_without_id: a refunds/calculate answer, not a refund");
  if (!refund.order_id) return invalid_payload("/order_id: required member is missing");
  if (!refund.created_at) return invalid_payload("/created_at: required member is missing");
  if (!refund.currency) return invalid_payload("/currency: the refund names no shop currency");
  const Currency currency = *refund.currency;
  IdMapping ids(context.resolver);
  std::optional<MappingError> error;
  model::Refund out;
  out.id = canonical_order_id(context.channel, *refund.id);
  out.order_id = canonical_order_id(context.channel, *refund.order_id);
  out.channel = context.channel;
  out.created_at = *refund.created_at;
  out.currency = currency;
  out.reason = refund.note;
  out.shipping = Money::zero(currency);
  Money computed = Money::zero(currency);  // lines + their tax + shipping
  for (std::size_t i = 0; i < refund.refund_line_items.size(); ++i) {
    const RefundLineItem& item = refund.refund_line_items[i];
    const std::string at = "/refund_line_items/" + std::to_string(i);
    if (!item.line_item) return invalid_payload(at + "/line_item: required to name the SKU refunded");
    if (!item.subtotal) return invalid_payload(at + "/subtotal: required member is missing");
    model::RefundLine line;
    line.line_id = item.line_item_id;
    line.sku = line_sku(*item.line_item, ids, at + "/line_item");
    line.quantity = item.quantity;
    line.amount = item.subtotal->shop;
    line.restock = item.restock_type != "no_restock";
    if (line.restock) {
      if (!item.location_id)
        return invalid_payload(at + "/location_id: restock_type " + item.restock_type + " without a location");
      line.location = ids.location(kLocationEntity, *item.location_id, at + "/location_id");
    }
    if (!accumulate(computed, line.amount, at + "/subtotal", error)) return *error;
    if (item.total_tax && !accumulate(computed, item.total_tax->shop, at + "/total_tax", error)) return *error;
    out.lines.push_back(std::move(line));
  }
  for (std::size_t i = 0; i < refund.refund_shipping_lines.size(); ++i) {
    const std::string at = "/refund_shipping_lines/" + std::to_string(i) + "/subtotal_amount_set";
    if (!accumulate(out.shipping, refund.refund_shipping_lines[i].shop, at, error)) return *error;
    if (!accumulate(computed, refund.refund_shipping_lines[i].shop, at, error)) return *error;
  }
  Money paid = Money::zero(currency);
  bool any_paid = false;
  for (std::size_t i = 0; i < refund.transactions.size(); ++i) {
    const Transaction& t = refund.transactions[i];
    if (t.kind != "refund" || t.status.value_or("success") != "success") continue;
    if (!t.id) return invalid_payload("/transactions/" + std::to_string(i) + "/id: required member is missing");
    out.tenders.push_back(tender_of(t));
    // Transactions in another (presentment) currency are tenders, not the total.
    if (t.amount.currency() == currency) {
      if (!accumulate(paid, t.amount, "/transactions/" + std::to_string(i) + "/amount", error)) return *error;
      any_paid = true;
    }
  }
  out.total = any_paid ? paid : computed;
  if (!ids.complete()) return ids.error();
  return canonical(std::move(out));
}

Mapped<model::Tender> to_tender(const Transaction& transaction) {
  const bool payment = transaction.kind == "sale" || transaction.kind == "capture";
  const std::string status = transaction.status.value_or("");
  if (!payment || status != "success")
    return unsupported("not_a_payment: a " + (status.empty() ? std::string("") : status + " ") + transaction.kind +
                       " transaction");
  if (!transaction.id) return invalid_payload("/id: required member is missing");
  return canonical(tender_of(transaction));
}

Mapped<model::InventoryMovement> to_count_movement(const InventoryLevel& level, const MappingContext& context) {
  if (!level.available) return unsupported("untracked_item: the level has no `available` quantity");
  if (!level.updated_at) return invalid_payload("/updated_at: required member is missing");
  auto quantity = Quantity::from_integer(*level.available);
  if (!quantity) return invalid_payload("/available: " + quantity.error().message);
  IdMapping ids(context.resolver);
  model::InventoryMovement m;
  m.movement_id =
      "shopify:level:" + level.inventory_item_id + ":" + level.location_id + ":" + level.updated_at->to_utc_string();
  m.kind = model::MovementKind::count;
  m.sku = ids.sku(kInventoryItemEntity, level.inventory_item_id, "/inventory_item_id");
  m.location = ids.location(kLocationEntity, level.location_id, "/location_id");
  m.counted_quantity = *quantity;
  m.occurred_at = *level.updated_at;
  m.source_system = std::string(kSystem);
  m.source_reference = level.inventory_item_id + "@" + level.location_id;
  if (!ids.complete()) return ids.error();
  return canonical(std::move(m));
}

}  // namespace trueup::connectors::shopify
