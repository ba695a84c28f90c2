#pragma once
// Representative canonical documents (exactly what to_json writes) for the
// model codec and schema contract tests: JPY, KWD, negative amounts, ids
// beyond 2^53, offsets kept, pending lines without a price.

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace trueup::model::samples {

struct Sample {
  std::string name;
  std::string schema;  // file under docs/schemas/
  nlohmann::json doc;
};

inline std::vector<Sample> all() {
  using nlohmann::json;
  std::vector<Sample> s;
  s.push_back({"order_usd", "order.schema.json", json::parse(R"({
    "id": "ord-450789469", "channel": "shopify-us", "external_reference": "9223372036854775807",
    "placed_at": "2026-03-01T10:15:00.123+01:00", "updated_at": "2026-03-01T11:00:00Z",
    "status": "open", "currency": "USD", "location": "WEB", "taxes_included": false,
    "lines": [
      {"line_id": "18446744073709551615", "sku": "TSHIRT-RED-M", "title": "T-shirt, red, M", "quantity": "2",
       "unit_price": "19.99", "discounts": [{"code": "SPRING10", "description": "10 % off", "amount": "4.00"}],
       "taxes": [{"name": "NY State Tax", "rate": "0.08875", "amount": "3.19"}]},
      {"line_id": "2", "sku": "SCALE ÜBER 5kg", "quantity": "1.5", "unit_price": "3.33", "discounts": [], "taxes": []}
    ],
    "shipping_lines": [{"line_id": "ship-1", "method": "Standard", "price": "4.95", "discounts": [], "taxes": []}],
    "discounts": [{"amount": "0.00"}], "taxes": [],
    "tenders": [{"tender_id": "9007199254740993", "kind": "card", "currency": "USD", "amount": "49.11",
                 "provider": "shopify_payments", "reference": "ch_3N5", "captured_at": "2026-03-01T09:16:00.000001Z"}],
    "totals": {"subtotal": "44.98", "discount_total": "4.00", "shipping_total": "4.95", "tax_total": "3.19",
               "grand_total": "49.11"}})")});
  s.push_back({"order_jpy_amazon", "order.schema.json", json::parse(R"({
    "id": "ord-503-1234567-1234567", "channel": "amazon-jp", "external_reference": "503-1234567-1234567",
    "placed_at": "2026-02-28T23:59:59+09:00", "status": "fulfilled", "currency": "JPY", "taxes_included": true,
    "lines": [{"line_id": "1", "sku": "MUG-01", "quantity": "3", "unit_price": "1000", "discounts": [],
               "taxes": [{"name": "消費税", "rate": "0.1", "amount": "272"}]}],
    "shipping_lines": [], "discounts": [], "taxes": [],
    "tenders": [{"tender_id": "amzn-1", "kind": "marketplace", "currency": "JPY", "amount": "3000"}],
    "totals": {"subtotal": "3000", "discount_total": "0", "shipping_total": "0", "tax_total": "272",
               "grand_total": "3000"}})")});
  s.push_back({"order_kwd_pending", "order.schema.json", json::parse(R"({
    "id": "ord-kw-1", "channel": "pos:kuwait", "external_reference": "R-1",
    "placed_at": "2026-01-05T08:00:00.500-03:30", "status": "pending", "currency": "KWD", "taxes_included": false,
    "lines": [{"line_id": "1", "sku": "PERFUME-50", "quantity": "1", "discounts": [], "taxes": []},
              {"line_id": "2", "sku": "GIFTWRAP-CREDIT", "quantity": "1", "unit_price": "-0.500", "discounts": [], "taxes": []}],
    "shipping_lines": [], "discounts": [], "taxes": [], "tenders": [],
    "totals": {"subtotal": "-0.500", "discount_total": "0.000", "shipping_total": "0.000", "tax_total": "0.000",
               "grand_total": "-0.500"}})")});
  s.push_back({"tender_clf", "tender.schema.json", json::parse(R"({
    "tender_id": "t1", "kind": "bank_transfer", "currency": "CLF", "amount": "1.2345"})")});
  s.push_back({"shipment", "shipment.schema.json", json::parse(R"({
    "id": "shp-1", "order_id": "ord-450789469", "channel": "shopify-us", "location": "WH-EAST", "status": "shipped",
    "shipped_at": "2026-03-02T14:00:00-05:00", "carrier": "UPS", "tracking_number": "1Z999AA10123456784",
    "lines": [{"line_id": "18446744073709551615", "sku": "TSHIRT-RED-M", "quantity": "2"}]})")});
  s.push_back({"return", "return.schema.json", json::parse(R"({
    "id": "ret-1", "order_id": "ord-450789469", "channel": "shopify-us", "status": "received",
    "created_at": "2026-03-10T09:00:00Z", "received_at": "2026-03-12T09:00:00Z",
    "lines": [{"line_id": "18446744073709551615", "sku": "TSHIRT-RED-M", "quantity": "1", "reason": "too small",
               "restock": true, "location": "WH-EAST"},
              {"line_id": "2", "sku": "SCALE ÜBER 5kg", "quantity": "0.5", "restock": false}]})")});
  s.push_back({"refund_kwd", "refund.schema.json", json::parse(R"({
    "id": "rf-1", "order_id": "ord-kw-1", "return_id": "ret-9", "channel": "pos:kuwait",
    "created_at": "2026-01-06T10:00:00+03:00", "currency": "KWD", "reason": "damaged",
    "lines": [{"line_id": "1", "sku": "PERFUME-50", "quantity": "1", "amount": "12.345", "restock": true,
               "location": "KW-STORE-1"}],
    "shipping": "0.000", "total": "12.345",
    "tenders": [{"tender_id": "rt-1", "kind": "cash", "currency": "KWD", "amount": "12.345"}]})")});
  s.push_back({"movement_sale", "inventory-movement.schema.json", json::parse(R"({
    "movement_id": "sq-evt-6c4d1d6c", "kind": "sale", "sku": "SCALE ÜBER 5kg", "location": "STORE-1",
    "quantity_delta": "-1.5", "occurred_at": "2026-03-01T10:15:00.123456789+05:45", "source_system": "square",
    "source_reference": "9223372036854775808", "order_id": "ord-1", "reason": "POS sale"})")});
  s.push_back({"movement_transfer", "inventory-movement.schema.json", json::parse(R"({
    "movement_id": "mv-2", "kind": "transfer", "sku": "MUG-01", "location": "WH-EAST", "to_location": "STORE-1",
    "quantity_delta": "12", "occurred_at": "2026-03-01T00:00:00Z", "source_system": "business-central",
    "source_reference": "TR-0001"})")});
  s.push_back({"movement_count", "inventory-movement.schema.json", json::parse(R"({
    "movement_id": "mv-3", "kind": "count", "sku": "MUG-01", "location": "STORE-1", "counted_quantity": "0",
    "occurred_at": "2026-03-01T00:00:00Z", "source_system": "square", "source_reference": "cnt-7"})")});
  s.push_back({"stock_position", "stock-position.schema.json", json::parse(R"({
    "sku": "MUG-01", "location": "STORE-1", "on_hand": "3", "committed": "5", "available": "-2",
    "as_of": "2026-03-01T10:15:00.123Z", "last_movement_id": "mv-3"})")});
  s.push_back({"settlement_fee_jpy", "settlement-line.schema.json", json::parse(R"({
    "settlement_id": "11223344556", "line_id": "7", "channel": "amazon-jp", "category": "fee",
    "description": "ItemFees/Commission", "external_order_reference": "503-1234567-1234567", "sku": "MUG-01",
    "quantity": "3", "currency": "JPY", "amount": "-450", "posted_at": "2026-03-03T00:00:00+09:00"})")});
  s.push_back({"erp_posting", "erp-posting.schema.json", json::parse(R"({
    "posting_id": "post-1", "system": "business-central", "document_type": "sales_invoice", "status": "posted",
    "document_number": "PSI-103001", "external_document_number": "shopify-us/450789469", "order_id": "ord-450789469",
    "posted_at": "2026-03-02T08:00:00Z", "currency": "EUR", "amount": "1234567890123.45",
    "lines": [{"sku": "TSHIRT-RED-M", "quantity": "2", "amount": "35.98"},
              {"account": "8400", "description": "Shipping", "amount": "4.95"}]})")});
  s.push_back({"exception_opened", "exception-opened.schema.json", json::parse(R"({
    "exception_id": "exc-1", "kind": "unmapped_sku", "severity": "error", "subject_type": "sku",
    "subject_id": "shopify-us/9223372036854775807", "reason": "no canonical SKU for Shopify variant 9223372036854775807",
    "opened_at": "2026-03-01T10:15:01Z", "workflow_id": "wf-1", "message_id": "msg-1"})")});
  s.push_back({"exception_resolved", "exception-resolved.schema.json", json::parse(R"({
    "exception_id": "exc-1", "kind": "unmapped_sku", "resolution": "retried", "resolved_by": "alice",
    "reason": "mapping added", "opened_at": "2026-03-01T10:15:01Z", "resolved_at": "2026-03-01T12:00:00Z"})")});
  s.push_back({"instance_started", "instance-started.schema.json", json::parse(R"({
    "instance_id": "host-a-1234", "version": "0.1.0", "store": "postgres", "bus": "kafka", "http_port": 8080})")});
  return s;
}

}  // namespace trueup::model::samples
