#pragma once
// Microsoft Dynamics 365 Business Central API v2.0 payloads: items,
// locations, item ledger entries, sales orders / invoices and their lines,
// webhook subscriptions and notifications; the outbound sales document body
// and the OData helpers (paging, etags, the externalDocumentNumber lookup).
// Mapping to the canonical model is in business_central_mapping.hpp.
//
// Amounts and quantities are JSON decimal numbers: documents are parsed with
// parse_exact and numbers kept as their exact text (`DecimalText`), turned
// into Money only once the document's currency is known (lines do not carry
// it). Enum values arrive XML-escaped ("Positive_x0020_Adjmt_x002E_") and are
// decoded ("Positive Adjmt."). Every entity keeps its `@odata.etag` for
// If-Match.
//
// Each decoder accepts one entity or an OData collection
// ({"value": [...], "@odata.nextLink": "..."}). Errors are
// Errc::invalid_argument with the JSON Pointer of the value.
//
// Thread-safety: pure functions.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "trueup/core/error.hpp"
#include "trueup/core/money.hpp"
#include "trueup/model/timestamp.hpp"

namespace trueup::connectors::business_central {

// A JSON number exactly as BC wrote it ("1000.8", "0", "1e2").
using DecimalText = std::string;

// "_xHHHH_" escapes (XML names) back to their characters, UTF-8 encoded:
// "Positive_x0020_Adjmt_x002E_" -> "Positive Adjmt.", "_x0020_" -> " ".
std::string decode_enum_value(std::string_view escaped);

template <class T>
struct Page {
  std::vector<T> value;
  std::optional<std::string> next_link;  // @odata.nextLink: GET it for the next page
};

struct Item {
  std::string id;  // GUID
  std::string number;
  std::optional<std::string> display_name;
  std::optional<std::string> type;  // Inventory, Service, Non-Inventory
  std::optional<bool> blocked;
  std::optional<DecimalText> inventory;   // total over all locations
  std::optional<DecimalText> unit_price;  // in the company's local currency
  std::optional<std::string> base_unit_of_measure_code;
  std::optional<model::Timestamp> last_modified;
  std::optional<std::string> etag;
};
Result<Page<Item>> decode_items(std::string_view body);

struct Location {
  std::string id;
  std::string code;
  std::optional<std::string> display_name;
  std::optional<std::string> etag;
};
Result<Page<Location>> decode_locations(std::string_view body);

struct ItemLedgerEntry {
  std::string id;
  std::int64_t entry_number = 0;  // poll incrementally: $filter=entryNumber gt <last>
  std::string item_number;
  std::string posting_date;                  // YYYY-MM-DD
  std::string entry_type;                    // decoded: Purchase, Sale, Positive Adjmt., Negative Adjmt., Transfer, ...
  std::optional<std::string> source_type;    // decoded (" " = none)
  std::optional<std::string> document_type;  // decoded
  std::optional<std::string> document_number;
  std::optional<std::string> location_code;  // not in the v2.0 standard page; read when an extension adds it
  DecimalText quantity;                      // signed
  std::optional<DecimalText> sales_amount_actual;
  std::optional<DecimalText> cost_amount_actual;
  std::optional<model::Timestamp> last_modified;
};
Result<Page<ItemLedgerEntry>> decode_item_ledger_entries(std::string_view body);

enum class SalesDocumentKind { order, invoice };

struct SalesDocumentLine {
  std::string id;
  std::optional<std::string> document_id;
  std::optional<std::int64_t> sequence;
  std::string line_type;                          // Item, Account, Comment, ...
  std::optional<std::string> line_object_number;  // item number for Item lines
  std::optional<std::string> description;
  std::optional<DecimalText> quantity;
  std::optional<DecimalText> unit_price;
  std::optional<DecimalText> discount_amount;
  std::optional<DecimalText> amount_excluding_tax;
  std::optional<DecimalText> total_tax_amount;
  std::optional<DecimalText> amount_including_tax;
  std::optional<std::string> location_id;
  std::optional<std::string> etag;
};
Result<Page<SalesDocumentLine>> decode_sales_document_lines(std::string_view body);

struct SalesDocument {
  std::string id;
  std::optional<std::string> number;
  std::string external_document_number;      // "" when not set
  std::optional<std::string> document_date;  // orderDate or invoiceDate
  std::optional<std::string> posting_date;
  std::optional<std::string> customer_number;
  std::string currency_code;  // "" = the company's local currency
  std::optional<bool> prices_include_tax;
  std::optional<DecimalText> discount_amount;
  std::optional<DecimalText> total_amount_excluding_tax;
  std::optional<DecimalText> total_tax_amount;
  std::optional<DecimalText> total_amount_including_tax;
  std::optional<std::string> status;  // Draft, Open, Released, In Review, Paid, Canceled, Corrective
  std::optional<model::Timestamp> last_modified;
  std::optional<std::string> etag;
  std::vector<SalesDocumentLine> lines;  // with $expand=salesOrderLines / salesInvoiceLines
};
Result<Page<SalesDocument>> decode_sales_documents(std::string_view body, SalesDocumentKind kind);

// The body of POST salesOrders / salesInvoices with its lines (deep insert).
// externalDocumentNumber is required: it links the document to its source
// and is the natural idempotency key (look it up before creating).
struct SalesDocumentDraftLine {
  std::string item_number;  // lineObjectNumber of an Item line
  DecimalText quantity;
  std::optional<DecimalText> unit_price;  // omitted: BC's own price
  std::optional<DecimalText> discount_amount;
  std::optional<std::string> description;
};
struct SalesDocumentDraft {
  SalesDocumentKind kind = SalesDocumentKind::order;
  std::string external_document_number;  // 1..35 characters (BC's field length)
  std::string customer_number;
  std::optional<std::string> document_date;  // YYYY-MM-DD
  std::optional<std::string> currency_code;
  std::vector<SalesDocumentDraftLine> lines;
};
// Exact JSON text (numbers written as given); Errc::invalid_argument for a
// missing or too long externalDocumentNumber, a missing customer or a
// quantity/price that is not a JSON number.
Result<std::string> build_sales_document(const SalesDocumentDraft& draft);
// An OData string literal: 'text' with every quote doubled.
std::string odata_string(std::string_view text);
// The query that finds an existing document: "$filter=externalDocumentNumber eq '...'"
// (quotes doubled as OData requires; URL-encode it when sending).
std::string external_document_number_filter(std::string_view external_document_number);

// ---- Webhooks -------------------------------------------------------------

struct Subscription {
  std::optional<std::string> subscription_id;
  std::string notification_url;
  std::string resource;
  std::optional<std::string> client_state;
  std::optional<model::Timestamp> expiration;  // renew (PATCH) before: subscriptions last 3 days
  std::optional<std::string> etag;
};
Result<Page<Subscription>> decode_subscriptions(std::string_view body);
// The body of POST /subscriptions (and of the renewing PATCH).
nlohmann::json build_subscription(const Subscription& subscription);

// The handshake: BC calls notificationUrl?validationToken=<token>; answer 200
// with the token as the body. Percent-decoded; nullopt when absent.
std::optional<std::string> validation_token(std::string_view query);

struct Notification {
  std::string subscription_id;
  std::optional<std::string> client_state;
  std::optional<model::Timestamp> expiration;
  std::string resource;     // "api/v2.0/companies(<id>)/items(<id>)" or a collection with $filter
  std::string change_type;  // created, updated, deleted, collection
  std::optional<model::Timestamp> last_modified;
};
// {"value": [...]} as POSTed to the notification URL.
Result<std::vector<Notification>> decode_notifications(std::string_view body);
// BC signs nothing: the clientState is the shared secret. Compared in
// constant time against each accepted secret (rotation); a mismatch is
// Errc::invalid_argument "client_state_mismatch".
Status check_client_state(const Notification& notification, const std::vector<std::string>& accepted);

// What a notification's resource names.
struct ResourceRef {
  std::string company_id;
  std::string entity_set;                // items, salesOrders, ...
  std::optional<std::string> entity_id;  // absent for `collection` notifications
};
Result<ResourceRef> parse_resource(std::string_view resource);

}  // namespace trueup::connectors::business_central
