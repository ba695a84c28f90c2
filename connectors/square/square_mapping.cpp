#include "square_mapping.hpp"

#include <algorithm>
#include <optional>
#include <string>
#include <utility>

#include "common/payload_reader.hpp"

namespace trueup::connectors::square {
namespace {

std::optional<model::OrderStatus> order_status(std::string_view state) {
  if (state == "OPEN") return model::OrderStatus::open;
  if (state == "COMPLETED") return model::OrderStatus::closed;
  if (state == "CANCELED") return model::OrderStatus::cancelled;
  if (state == "DRAFT") return model::OrderStatus::pending;
  return std::nullopt;
}

model::TenderKind tender_kind(std::string_view type) {
  if (type == "CARD") return model::TenderKind::card;
  if (type == "CASH") return model::TenderKind::cash;
  if (type == "SQUARE_GIFT_CARD") return model::TenderKind::gift_card;
  if (type == "WALLET") return model::TenderKind::wallet;
  if (type == "BANK_ACCOUNT") return model::TenderKind::bank_transfer;
  if (type == "SQUARE_ACCOUNT") return model::TenderKind::store_credit;
  return model::TenderKind::other;
}

// Square percentages are in percent ("9" = 9 %); the model wants a fraction.
// Omitted when it is not exact at 5 decimals.
std::optional<Quantity> rate_of(const std::optional<Quantity>& percentage) {
  if (!percentage || percentage->scaled() % 100 != 0) return std::nullopt;
  return Quantity::from_scaled(percentage->scaled() / 100);
}

const OrderDiscount* find_uid(const std::vector<OrderDiscount>& items, const std::string& uid) {
  auto it = std::find_if(items.begin(), items.end(), [&](const OrderDiscount& d) { return d.uid == uid; });
  return it == items.end() ? nullptr : &*it;
}

std::string line_pointer(std::size_t i) { return "/line_items/" + std::to_string(i); }

// The SKU a line names: its catalog variation, else its name (custom_item).
std::optional<model::Sku> line_sku(const std::optional<std::string>& catalog_object_id,
                                   const std::optional<std::string>& name, const std::string& at, IdMapping& ids) {
  if (catalog_object_id) return ids.sku(kItemVariationEntity, *catalog_object_id, at + "/catalog_object_id");
  if (name) return ids.sku(kCustomItemEntity, *name, at + "/name");
  return std::nullopt;
}

}  // namespace

Mapped<model::Order> to_order(const Order& order, const MappingContext& context) {
  if (!order.id) return invalid_payload("order_without_id: a request body, not a stored order");
  if (!order.created_at) return invalid_payload("/created_at: required member is missing");
  if (!order.total_money) return invalid_payload("/total_money: required member is missing");
  if (!order.state) return invalid_payload("/state: required member is missing");
  const auto status = order_status(*order.state);
  if (!status) return invalid_payload("/state: unknown order state " + *order.state);

  const Currency currency = order.total_money->currency();
  const Money zero = Money::zero(currency);
  IdMapping ids(context.resolver);
  model::Order out;
  out.id = canonical_order_id(context.channel, *order.id);
  out.channel = context.channel;
  out.external_reference = *order.id;
  out.placed_at = *order.created_at;
  out.updated_at = order.updated_at;
  out.status = *status;
  out.currency = currency;
  if (order.location_id) out.location = ids.location(kLocationEntity, *order.location_id, "/location_id");
  out.taxes_included =
      std::any_of(order.taxes.begin(), order.taxes.end(), [](const OrderDiscount& t) { return t.type == "INCLUSIVE"; });

  Money subtotal = zero;
  for (std::size_t i = 0; i < order.line_items.size(); ++i) {
    const OrderLineItem& item = order.line_items[i];
    const std::string at = line_pointer(i);
    if (!item.uid) return invalid_payload(at + "/uid: required member is missing");
    model::OrderLine line;
    line.line_id = *item.uid;
    auto sku = line_sku(item.catalog_object_id, item.name, at, ids);
    if (!sku) return invalid_payload(at + ": a line item without catalog_object_id or name names no product");
    line.sku = std::move(*sku);
    line.title = item.name;
    line.quantity = item.quantity;
    line.unit_price = item.base_price_money;
    for (const auto& applied : item.applied_discounts) {
      const OrderDiscount* d = find_uid(order.discounts, applied.uid);
      line.discounts.push_back(
          model::Discount{std::nullopt, d != nullptr ? d->name : std::nullopt, applied.applied_money.value_or(zero)});
    }
    for (const auto& applied : item.applied_taxes) {
      const OrderDiscount* t = find_uid(order.taxes, applied.uid);
      line.taxes.push_back(model::TaxLine{t != nullptr && t->name ? *t->name : applied.uid,
                                          t != nullptr ? rate_of(t->percentage) : std::nullopt,
                                          applied.applied_money.value_or(zero)});
    }
    // gross_sales_money = price x quantity + modifiers, as Square computed it.
    Money gross = zero;
    if (item.gross_sales_money) {
      gross = *item.gross_sales_money;
    } else if (item.base_price_money) {
      auto extended = extend_price(*item.base_price_money, item.quantity);
      if (!extended) return invalid_payload(at + ": " + extended.error().message);
      gross = *extended;
    }
    auto sum = subtotal.add(gross);
    if (!sum) return invalid_payload(at + "/gross_sales_money: " + sum.error().message);
    subtotal = *sum;
    out.lines.push_back(std::move(line));
  }
  if (out.lines.empty()) return invalid_payload("/line_items: an order without line items");

  for (const auto& tender : order.tenders) {
    model::Tender t;
    t.tender_id = tender.id;
    t.kind = tender_kind(tender.type);
    t.amount = tender.amount_money;
    t.provider = std::string(kSystem);
    t.reference = tender.payment_id;
    out.tenders.push_back(std::move(t));
  }
  out.totals.subtotal = subtotal;
  out.totals.discount_total = order.total_discount_money.value_or(zero);
  out.totals.shipping_total = zero;
  out.totals.tax_total = order.total_tax_money.value_or(zero);
  out.totals.grand_total = *order.total_money;
  if (!ids.complete()) return ids.error();
  return canonical(std::move(out));
}

Mapped<model::Tender> to_tender(const Payment& payment) {
  model::Tender t;
  t.tender_id = payment.id;
  t.kind = tender_kind(payment.source_type.value_or(""));
  t.amount = payment.total_money.value_or(payment.amount_money);
  t.provider = std::string(kSystem);
  t.reference = payment.receipt_number;
  t.captured_at = payment.captured_at;
  return canonical(std::move(t));
}

Mapped<model::Refund> to_refund(const PaymentRefund& refund, const MappingContext& context) {
  const std::string status = refund.status.value_or("");
  if (status == "REJECTED" || status == "FAILED")
    return unsupported("refund_not_made: status " + status + ", no money was returned");
  if (!refund.order_id) return invalid_payload("/order_id: a refund without an order cannot be linked");
  if (!refund.created_at) return invalid_payload("/created_at: required member is missing");
  model::Refund out;
  out.id = canonical_order_id(context.channel, refund.id);
  out.order_id = canonical_order_id(context.channel, *refund.order_id);
  out.channel = context.channel;
  out.created_at = *refund.created_at;
  out.currency = refund.amount_money.currency();
  out.reason = refund.reason;
  out.shipping = Money::zero(out.currency);
  out.total = refund.amount_money;
  if (refund.payment_id) {
    model::Tender t;
    t.tender_id = *refund.payment_id;
    t.kind = model::TenderKind::other;  // the refund does not say; the payment does
    t.amount = refund.amount_money;
    t.provider = std::string(kSystem);
    t.reference = refund.id;
    out.tenders.push_back(std::move(t));
  }
  return canonical(std::move(out));
}

namespace {

model::InventoryMovement movement_base(std::string id, model::MovementKind kind, const std::string& catalog_object_id,
                                       const std::string& location_id, const model::Timestamp& at,
                                       const std::string& at_pointer, IdMapping& ids) {
  model::InventoryMovement m;
  m.movement_id = std::move(id);
  m.kind = kind;
  m.sku = ids.sku(kItemVariationEntity, catalog_object_id, at_pointer + "/catalog_object_id");
  m.location = ids.location(kLocationEntity, location_id, at_pointer + "/location_id");
  m.occurred_at = at;
  m.source_system = std::string(kSystem);
  m.source_reference = catalog_object_id + "@" + location_id;
  return m;
}

Mapped<std::vector<model::InventoryMovement>> checked(std::vector<model::InventoryMovement> out, IdMapping& ids) {
  if (!ids.complete()) return ids.error();
  for (auto& m : out) {
    auto one = canonical(m);
    if (!one) return one.error();
  }
  return out;
}

}  // namespace

Mapped<std::vector<model::InventoryMovement>> to_count_movements(const std::vector<InventoryCount>& counts,
                                                                 const MappingContext& context) {
  IdMapping ids(context.resolver);
  std::vector<model::InventoryMovement> out;
  for (std::size_t i = 0; i < counts.size(); ++i) {
    const InventoryCount& c = counts[i];
    if (c.state != "IN_STOCK") continue;
    auto m = movement_base(
        "square:count:" + c.catalog_object_id + ":" + c.location_id + ":" + c.calculated_at.to_utc_string(),
        model::MovementKind::count, c.catalog_object_id, c.location_id, c.calculated_at, "/" + std::to_string(i), ids);
    m.counted_quantity = c.quantity;
    out.push_back(std::move(m));
  }
  return checked(std::move(out), ids);
}

Mapped<std::vector<model::InventoryMovement>> to_movements(const std::vector<InventoryChange>& changes,
                                                           const MappingContext& context) {
  IdMapping ids(context.resolver);
  std::vector<model::InventoryMovement> out;
  for (std::size_t i = 0; i < changes.size(); ++i) {
    const std::string at = "/" + std::to_string(i);
    if (const auto* count = std::get_if<PhysicalCount>(&changes[i])) {
      if (!count->id) return invalid_payload(at + "/physical_count/id: required member is missing");
      if (count->state != "IN_STOCK") continue;
      auto m = movement_base("square:change:" + *count->id, model::MovementKind::count, count->catalog_object_id,
                             count->location_id, count->occurred_at, at + "/physical_count", ids);
      m.counted_quantity = count->quantity;
      out.push_back(std::move(m));
      continue;
    }
    const auto& adj = std::get<InventoryAdjustment>(changes[i]);
    if (!adj.id) return invalid_payload(at + "/adjustment/id: required member is missing");
    const bool in = adj.to_state == "IN_STOCK";
    const bool outgoing = adj.from_state == "IN_STOCK";
    if (in == outgoing) continue;  // not a change of stock on hand
    model::MovementKind kind = model::MovementKind::adjustment;
    if (adj.to_state == "SOLD") kind = model::MovementKind::sale;
    if (adj.from_state == "SOLD") kind = model::MovementKind::return_;
    if (adj.from_state == "NONE") kind = model::MovementKind::receipt;
    auto m = movement_base("square:change:" + *adj.id, kind, adj.catalog_object_id, adj.location_id, adj.occurred_at,
                           at + "/adjustment", ids);
    auto delta = in ? Result<Quantity>(adj.quantity) : adj.quantity.negate();
    if (!delta) return invalid_payload(at + "/adjustment/quantity: " + delta.error().message);
    m.quantity_delta = *delta;
    m.reason = adj.from_state + " -> " + adj.to_state;
    out.push_back(std::move(m));
  }
  return checked(std::move(out), ids);
}

Result<std::vector<OrderReturnLine>> decode_order_returns(const nlohmann::json& order) {
  return read_payload<std::vector<OrderReturnLine>>(order, [](PayloadReader& r, std::vector<OrderReturnLine>& out) {
    std::size_t ret = 0;
    r.each("returns", Need::optional, [&](const nlohmann::json& e, const std::string& at) {
      PayloadReader rr(r.problems(), e, at);
      const std::string return_uid = rr.id("uid", Need::optional).value_or("r" + std::to_string(ret++));
      std::size_t index = 0;
      rr.each("return_line_items", Need::optional, [&](const nlohmann::json& l, const std::string& line_at) {
        PayloadReader lr(r.problems(), l, line_at);
        OrderReturnLine line;
        line.return_uid = return_uid;
        line.uid = lr.id("uid", Need::optional).value_or("l" + std::to_string(index++));
        line.catalog_object_id = lr.id("catalog_object_id", Need::optional);
        line.name = lr.text("name", Need::optional);
        line.quantity = lr.quantity("quantity", Need::required).value_or(Quantity{});
        line.pointer = line_at;
        out.push_back(std::move(line));
      });
    });
  });
}

Mapped<std::vector<model::InventoryMovement>> to_order_movements(const Order& order,
                                                                 const std::vector<OrderReturnLine>& returns,
                                                                 const MappingContext& context) {
  if (order.state != "COMPLETED") return std::vector<model::InventoryMovement>{};
  if (!order.id) return invalid_payload("order_without_id: a request body, not a stored order");
  if (!order.location_id)
    return invalid_payload("/location_id: a completed order without a location moved no known stock");
  const auto at_time = order.closed_at ? order.closed_at : order.updated_at ? order.updated_at : order.created_at;
  if (!at_time) return invalid_payload("/created_at: required member is missing");
  IdMapping ids(context.resolver);
  const model::LocationCode location = ids.location(kLocationEntity, *order.location_id, "/location_id");
  const std::string order_id = canonical_order_id(context.channel, *order.id);
  std::vector<model::InventoryMovement> out;
  auto add = [&](std::string line_key, model::MovementKind kind, model::Sku sku, Quantity delta) {
    model::InventoryMovement m;
    m.movement_id = "square:order:" + *order.id + ":" + line_key;
    m.kind = kind;
    m.sku = std::move(sku);
    m.location = location;
    m.quantity_delta = delta;
    m.occurred_at = *at_time;
    m.source_system = std::string(kSystem);
    m.source_reference = *order.id + ":" + line_key;
    m.order_id = order_id;
    out.push_back(std::move(m));
  };
  for (std::size_t i = 0; i < order.line_items.size(); ++i) {
    const OrderLineItem& item = order.line_items[i];
    const std::string at = line_pointer(i);
    if (!item.uid) return invalid_payload(at + "/uid: required member is missing");
    auto sku = line_sku(item.catalog_object_id, item.name, at, ids);
    if (!sku) return invalid_payload(at + ": a line item without catalog_object_id or name names no product");
    if (item.quantity.is_zero()) continue;
    auto delta = item.quantity.negate();
    if (!delta) return invalid_payload(at + "/quantity: " + delta.error().message);
    add(*item.uid, model::MovementKind::sale, std::move(*sku), *delta);
  }
  for (const auto& line : returns) {
    auto sku = line_sku(line.catalog_object_id, line.name, line.pointer, ids);
    if (!sku)
      return invalid_payload(line.pointer + ": a return line without catalog_object_id or name names no product");
    if (line.quantity.is_zero()) continue;
    add("return:" + line.return_uid + ":" + line.uid, model::MovementKind::return_, std::move(*sku), line.quantity);
  }
  return checked(std::move(out), ids);
}

Result<InventoryChange> physical_count(const ChangeTarget& target, Quantity quantity, std::string reference) {
  if (quantity.scaled() < 0)
    return make_error(Errc::invalid_argument, "a physical count is at least 0, got " + quantity.to_string());
  PhysicalCount count;
  count.reference_id = std::move(reference);
  count.catalog_object_id = target.catalog_object_id;
  count.location_id = target.location_id;
  count.quantity = quantity;
  count.occurred_at = target.occurred_at;
  count.state = "IN_STOCK";
  return InventoryChange(std::move(count));
}

Result<InventoryChange> to_inventory_change(const model::InventoryMovement& movement, const ChangeTarget& target) {
  if (movement.kind == model::MovementKind::count) {
    if (!movement.counted_quantity)
      return make_error(Errc::invalid_argument, "a count movement without counted_quantity");
    return physical_count(target, *movement.counted_quantity, movement.movement_id);
  }
  if (movement.kind == model::MovementKind::transfer)
    return make_error(Errc::invalid_argument,
                      "a transfer moves stock between two locations: send an adjustment per location instead");
  if (!movement.quantity_delta || movement.quantity_delta->is_zero())
    return make_error(Errc::invalid_argument, "movement " + movement.movement_id +
                                                  " changes nothing (quantity_delta absent or 0); Square takes "
                                                  "positive quantities");
  const bool receipt = movement.quantity_delta->scaled() > 0;
  InventoryAdjustment adjustment;
  adjustment.reference_id = movement.movement_id;
  adjustment.catalog_object_id = target.catalog_object_id;
  adjustment.location_id = target.location_id;
  adjustment.occurred_at = target.occurred_at;
  if (receipt) {
    adjustment.quantity = *movement.quantity_delta;
    adjustment.from_state = "NONE";
    adjustment.to_state = "IN_STOCK";
  } else {
    auto quantity = movement.quantity_delta->negate();
    if (!quantity) return std::move(quantity).error();
    adjustment.quantity = *quantity;
    adjustment.from_state = "IN_STOCK";
    adjustment.to_state = movement.kind == model::MovementKind::sale ? "SOLD" : "WASTE";
  }
  return InventoryChange(std::move(adjustment));
}

}  // namespace trueup::connectors::square
