#include "business_central_mapping.hpp"

#include <utility>

namespace trueup::connectors::business_central {
namespace {

// BC dates are YYYY-MM-DD: the instant is midnight UTC of that day.
std::optional<model::Timestamp> date_instant(std::string_view date) {
  auto t = model::Timestamp::parse(std::string(date) + "T00:00:00Z");
  if (!t) return std::nullopt;
  return *t;
}

model::ErpPostingStatus posting_status(SalesDocumentKind kind, const std::string& status) {
  if (kind == SalesDocumentKind::order) return model::ErpPostingStatus::pending;
  if (status == "Open" || status == "Paid" || status == "Corrective") return model::ErpPostingStatus::posted;
  if (status == "Canceled") return model::ErpPostingStatus::reversed;
  return model::ErpPostingStatus::pending;  // Draft, In Review
}

}  // namespace

Mapped<model::InventoryMovement> to_movement(const ItemLedgerEntry& entry, const MappingContext& context,
                                             const std::optional<std::string>& default_location) {
  const std::optional<std::string> location = entry.location_code ? entry.location_code : default_location;
  if (!location || location->empty())
    return invalid_payload("/locationCode: no location on the entry and no default location configured");
  auto quantity = Quantity::parse(entry.quantity);
  if (!quantity) return invalid_payload("/quantity: " + quantity.error().message);
  auto occurred = date_instant(entry.posting_date);
  if (!occurred) return invalid_payload("/postingDate: expected YYYY-MM-DD, got \"" + entry.posting_date + "\"");
  IdMapping ids(context.resolver);
  model::InventoryMovement m;
  m.movement_id = std::string(kSystem) + ":ile:" + entry.id;
  m.kind = model::MovementKind::adjustment;
  if (entry.entry_type == "Sale")
    m.kind = quantity->is_negative() ? model::MovementKind::sale : model::MovementKind::return_;
  if (entry.entry_type == "Purchase") m.kind = model::MovementKind::receipt;
  m.sku = ids.sku(kItemEntity, entry.item_number, "/itemNumber");
  m.location = ids.location(kLocationEntity, *location, entry.location_code ? "/locationCode" : "(default location)");
  m.quantity_delta = *quantity;
  m.occurred_at = *occurred;
  m.source_system = std::string(kSystem);
  m.source_reference = std::to_string(entry.entry_number);
  std::string reason = entry.entry_type;
  if (entry.document_number && !entry.document_number->empty()) reason += " " + *entry.document_number;
  m.reason = reason;
  if (!ids.complete()) return ids.error();
  return canonical(std::move(m));
}

Mapped<model::ErpPosting> to_erp_posting(const SalesDocument& document, SalesDocumentKind kind, Currency local_currency,
                                         const MappingContext& context) {
  if (document.external_document_number.empty())
    return invalid_payload("no_external_document_number: the document is not linked to a source (not made by Trueup)");
  Currency currency = local_currency;
  if (!document.currency_code.empty()) {
    auto c = Currency::from_code(document.currency_code);
    if (!c) return invalid_payload("/currencyCode: " + c.error().message);
    currency = *c;
  }
  auto money = [&](const std::optional<DecimalText>& text, const std::string& at) -> Mapped<Money> {
    if (!text) return invalid_payload(at + ": required member is missing");
    auto m = parse_decimal(*text, currency);
    if (!m) return invalid_payload(at + ": " + m.error().message);
    return *m;
  };
  const bool order = kind == SalesDocumentKind::order;
  IdMapping ids(context.resolver);
  model::ErpPosting out;
  out.posting_id = std::string(kSystem) + ":" + document.id;
  out.system = std::string(kSystem);
  out.document_type = order ? model::ErpDocumentType::sales_order : model::ErpDocumentType::sales_invoice;
  out.status = posting_status(kind, document.status.value_or(""));
  out.document_number = document.number;
  out.external_document_number = document.external_document_number;
  out.currency = currency;
  auto total = money(document.total_amount_including_tax, "/totalAmountIncludingTax");
  if (!total) return total.error();
  out.amount = *total;
  if (out.status != model::ErpPostingStatus::pending) {
    if (!document.posting_date) return invalid_payload("/postingDate: required once posted");
    out.posted_at = date_instant(*document.posting_date);
    if (!out.posted_at) return invalid_payload("/postingDate: expected YYYY-MM-DD");
  }
  const std::string lines_key = order ? "/salesOrderLines/" : "/salesInvoiceLines/";
  for (std::size_t i = 0; i < document.lines.size(); ++i) {
    const SalesDocumentLine& l = document.lines[i];
    const std::string at = lines_key + std::to_string(i);
    if (l.line_type == "Comment") continue;
    model::ErpPostingLine line;
    if (l.line_type == "Item") {
      if (!l.line_object_number) return invalid_payload(at + "/lineObjectNumber: required for Item lines");
      line.sku = ids.sku(kItemEntity, *l.line_object_number, at + "/lineObjectNumber");
    } else if (l.line_object_number && !l.line_object_number->empty()) {
      line.account = l.line_object_number;
    }
    if (l.description && !l.description->empty()) line.description = l.description;
    if (l.quantity) {
      auto q = Quantity::parse(*l.quantity);
      if (!q) return invalid_payload(at + "/quantity: " + q.error().message);
      line.quantity = *q;
    }
    auto amount = money(l.amount_including_tax, at + "/amountIncludingTax");
    if (!amount) return amount.error();
    line.amount = *amount;
    out.lines.push_back(std::move(line));
  }
  if (!ids.complete()) return ids.error();
  return canonical(std::move(out));
}

}  // namespace trueup::connectors::business_central
