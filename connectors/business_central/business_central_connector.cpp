// The Business Central connector type, registered as "business-central" under
// `connectors:`: the ERP side of Trueup.
//
// Inbound:
// - Polling (the ERP's on-hand truth): item ledger entries after the cursor
//   (the last entry number), oldest first, every @odata.nextLink page up to
//   kMaxPagesPerPoll; one message "ile:<entryNumber>" per entry (topic
//   "itemLedgerEntry", the entry's exact JSON), mapped to a signed movement
//   (business_central_mapping.hpp). complete() adds the externalDocumentNumber
//   of the sales document a Sale entry belongs to, so that map() can set the
//   movement's order_id from the crosswalk entry post_sale wrote
//   (`sales_document`: externalDocumentNumber -> canonical order id) and the
//   ERP's sale replaces the channel's provisional one.
// - Webhooks: the validationToken handshake is answered 200 with the token as
//   text/plain (no message); notifications are checked against client_state
//   (and previous_client_state; constant time; a mismatch is 401 and nothing
//   is recorded) and recorded one message each (topic = changeType, dedupe
//   key from subscriptionId, resource, lastModifiedDateTime and changeType).
//   They move no stock (BC sends none for ledger entries): map() says
//   unsupported, and the inbox keeps them.
// - Subscriptions: on the poller thread (so one instance across processes,
//   and after the daemon serves: BC's handshake calls us back), every
//   `subscription_check_interval` the configured entity sets are made to
//   exist (POST subscriptions) and renewed (PATCH with If-Match) when they
//   expire within `subscription_renew_before`; failures are logged and
//   retried with doubling delays.
//
// Outbound (natural key: externalDocumentNumber): post_sale books a sale as a
// sales invoice (or order), post_return a return as a sales credit memo, and
// posts it — look up by externalDocumentNumber; absent: create with its lines
// (deep insert), read again (another instance may have created one: the
// oldest draft wins, newer drafts are deleted), then post; a draft: PATCH
// the header fields that differ (If-Match), then post; posted: done. Within
// a process one call per externalDocumentNumber runs at a time.
//
// Thread-safety: every member from any thread; the subscription state is the
// poller thread's (poll() is called by one thread at a time).

#include <algorithm>
#include <array>
#include <cctype>
#include <map>
#include <memory>
#include <mutex>
#include <tuple>

#include <nlohmann/json.hpp>

#include "business_central_client.hpp"
#include "business_central_mapping.hpp"
#include "business_central_payloads.hpp"
#include "common/exact_json.hpp"
#include "trueup/connector/connector.hpp"
#include "trueup/connector/operations.hpp"
#include "trueup/core/digest.hpp"
#include "trueup/log/log.hpp"

namespace trueup::connectors::business_central {
namespace {

using config::Type;
using connector::Canonical;
using connector::Inbound;
using connector::WebhookReceipt;
using connector::WebhookRequest;
using nlohmann::json;

constexpr std::string_view kLedgerTopic = "itemLedgerEntry";
// The crosswalk entity post_sale writes: externalDocumentNumber -> canonical order id.
constexpr std::string_view kSalesDocumentEntity = "sales_document";
// The member complete() adds to a Sale ledger entry.
constexpr const char* kDocumentEdnMember = "trueupExternalDocumentNumber";
constexpr int kMaxPagesPerPoll = 50;
constexpr std::size_t kMaxValidationTokenBytes = 4096;
constexpr std::size_t kDocumentCacheSize = 10000;

struct SubscriptionSettings {
  std::vector<std::string> entity_sets;  // empty: no subscription management
  std::string notification_url;
  std::chrono::milliseconds check_interval{3600000};
  std::chrono::milliseconds renew_before{86400000};
};

struct Settings {
  ApiSettings api;
  std::chrono::milliseconds poll_interval{60000};
  std::optional<std::string> customer_number;
  const DocumentType* sale_type = &kSalesInvoices;  // post_sale: invoices or orders
  std::optional<std::string> default_location;      // BC location code of entries without locationCode
  std::optional<std::string> local_currency;
  std::vector<std::string> client_states;  // current first, then the previous one
  SubscriptionSettings subscriptions;
};

std::optional<std::string> string_member(const json& j, const char* key) {
  if (j.is_object() && j.contains(key) && j[key].is_string()) return j[key].get<std::string>();
  return std::nullopt;
}

// A decimal as post_sale takes it ("2", "-1.5"): a JSON number's text, exact.
bool decimal_string(std::string_view text) {
  std::size_t i = text.starts_with('-') ? 1 : 0;
  const std::size_t digits_from = i;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i;
  if (i == digits_from) return false;
  if (i < text.size() && text[i] == '.') {
    const std::size_t fraction_from = ++i;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i;
    if (i == fraction_from) return false;
  }
  return i == text.size();
}

// The posted statuses of an invoice or credit memo (README: Draft and In Review are not posted).
bool posted(const SalesDocument& d, const DocumentType& type) {
  if (!type.status_shows_posting) return false;
  const std::string status = d.status.value_or("Draft");
  return status != "Draft" && status != "In Review";
}

json document_answer(const SalesDocument& d, const DocumentType& type) {
  return {{"id", d.id},
          {"number", d.number.value_or("")},
          {"status", d.status.value_or("")},
          {"document", std::string(type.set)},
          {"external_document_number", d.external_document_number}};
}

// The header of any sales document (the members read are the same in every set).
Result<SalesDocument> decode_document(const json& raw) {
  auto page = decode_sales_documents(dump_exact(raw), SalesDocumentKind::invoice);
  if (!page || page->value.size() != 1)
    return make_error(Errc::unavailable, "business central answered a sales document that does not decode" +
                                             (page ? std::string() : ": " + page.error().message));
  return std::move(page->value.front());
}

// What post_sale was asked, validated.
struct SaleRequest {
  std::string source_reference;
  std::string external_document_number;
  std::optional<std::string> order_id;
  std::string location;
  std::optional<std::string> posting_date;
  std::optional<std::string> customer_number;
  std::optional<std::string> currency;
  struct Line {
    std::string sku;
    std::string quantity;
    std::optional<std::string> unit_price;
  };
  std::vector<Line> lines;
};

Result<SaleRequest> read_sale(const json& in, std::string_view operation) {
  const auto bad = [operation](std::string what) {
    return make_error(Errc::invalid_argument,
                      std::string(operation) + ": " + what +
                          " (input {\"external_document_number\", \"location\", \"posting_date\"?: YYYY-MM-DD, "
                          "\"customer_number\"?, \"currency\"?, \"order_id\"?, \"lines\": [{\"sku\", \"quantity\": "
                          "decimal string, \"unit_price\"?: {\"amount\": decimal string, \"currency\"}}]})");
  };
  if (!in.is_object()) return bad("the input is not an object");
  SaleRequest s;
  auto edn = string_member(in, "external_document_number");
  if (!edn || edn->empty()) return bad("external_document_number is missing");
  s.source_reference = *edn;
  s.external_document_number = external_document_number_for(*edn);
  auto location = string_member(in, "location");
  if (!location || location->empty()) return bad("location is missing");
  s.location = *location;
  s.order_id = string_member(in, "order_id");
  s.posting_date = string_member(in, "posting_date");
  if (s.posting_date && !model::Timestamp::parse(*s.posting_date + "T00:00:00Z"))
    return bad("posting_date is not YYYY-MM-DD: " + *s.posting_date);
  s.customer_number = string_member(in, "customer_number");
  s.currency = string_member(in, "currency");
  if (!in.contains("lines") || !in["lines"].is_array() || in["lines"].empty()) return bad("lines are missing");
  for (std::size_t i = 0; i < in["lines"].size(); ++i) {
    const json& l = in["lines"][i];
    const std::string at = "lines/" + std::to_string(i);
    SaleRequest::Line line;
    auto sku = string_member(l, "sku");
    auto quantity = string_member(l, "quantity");
    if (!sku || sku->empty()) return bad(at + "/sku is missing");
    if (!quantity || !decimal_string(*quantity)) return bad(at + "/quantity is not a decimal string");
    line.sku = *sku;
    line.quantity = *quantity;
    if (l.contains("unit_price") && !l["unit_price"].is_null()) {
      auto amount = string_member(l["unit_price"], "amount");
      if (!amount || !decimal_string(*amount)) return bad(at + "/unit_price/amount is not a decimal string");
      auto currency = string_member(l["unit_price"], "currency");
      if (currency && s.currency && *currency != *s.currency)
        return bad(at + "/unit_price/currency " + *currency + " is not the sale's currency " + *s.currency);
      if (currency && !s.currency) s.currency = currency;
      line.unit_price = *amount;
    }
    s.lines.push_back(std::move(line));
  }
  return s;
}

class BusinessCentralConnector final : public connector::Connector {
 public:
  BusinessCentralConnector(std::string id, Settings settings, connector::Services& services)
      : Connector(std::move(id), "business-central"),
        settings_(std::move(settings)),
        ids_(services.ids),
        client_(settings_.api, services.budgets, services.http, services.metrics) {}

  std::chrono::milliseconds poll_interval() const override { return settings_.poll_interval; }

  // ---- Webhooks -----------------------------------------------------------

  Result<WebhookReceipt> receive_webhook(const WebhookRequest& request) override {
    const auto query_at = request.url.find('?');
    if (query_at != std::string::npos) {
      if (auto token = validation_token(std::string_view(request.url).substr(query_at + 1))) {
        if (token->empty() || token->size() > kMaxValidationTokenBytes)
          return make_error(Errc::invalid_argument, "validationToken must be 1 to 4096 bytes");
        WebhookReceipt handshake;
        handshake.reply_body = std::move(*token);
        handshake.reply_content_type = "text/plain; charset=utf-8";
        log::info("business central subscription handshake answered", {{"connector", id()}});
        return handshake;
      }
    }
    // BC signs nothing: the clientState inside the body is the proof, so a
    // body that does not decode cannot be authentic.
    auto notifications = decode_notifications(request.body);
    if (!notifications)
      return make_error(Errc::unauthenticated,
                        "business central notification that does not decode: " + notifications.error().message);
    for (const auto& n : *notifications)
      if (auto st = check_client_state(n, settings_.client_states); !st)
        return make_error(Errc::unauthenticated, "business central notification: " + st.error().message);
    auto doc = parse_exact(request.body);
    WebhookReceipt out;
    for (std::size_t i = 0; i < notifications->size(); ++i) {
      const Notification& n = (*notifications)[i];
      const std::string modified = n.last_modified ? n.last_modified->to_utc_string() : std::string();
      const std::string key = "notification:" + n.subscription_id + ":" +
                              sha256_hex(n.resource + "\n" + modified + "\n" + n.change_type).substr(0, 32);
      json one = (*doc)["value"][i];
      one.erase("clientState");  // the shared secret stays out of the inbox
      out.messages.push_back(Inbound{key, n.change_type, dump_exact(one)});
    }
    return out;
  }

  // ---- Polling ------------------------------------------------------------

  Result<connector::PollResult> poll(const std::string& cursor) override {
    maintain_subscriptions();
    std::int64_t after = 0;
    if (!cursor.empty()) {
      try {
        std::size_t used = 0;
        after = std::stoll(cursor, &used);
        if (used != cursor.size()) throw std::invalid_argument(cursor);
      } catch (const std::exception&) {
        return make_error(Errc::internal, "stored business central poll cursor is not an entry number: " + cursor);
      }
    }
    connector::PollResult out;
    std::string next = ledger_entries_path(settings_.api, after);
    for (int pages = 0; !next.empty() && pages < kMaxPagesPerPoll; ++pages) {
      auto page = client_.ledger_entries(next);
      if (!page) return std::move(page).error();
      for (const auto& raw : page->value) {
        const std::string text = dump_exact(raw);
        auto decoded = decode_item_ledger_entries(text);
        if (!decoded || decoded->value.size() != 1) {
          // Kept anyway, keyed by content: mapping quarantines it with the reason.
          out.messages.push_back(Inbound{"ile:sha256:" + sha256_hex(text), std::string(kLedgerTopic), text});
          continue;
        }
        const auto number = decoded->value.front().entry_number;
        out.messages.push_back(Inbound{"ile:" + std::to_string(number), std::string(kLedgerTopic), text});
        after = std::max(after, number);
      }
      next = page->next_link.value_or("");
    }
    out.cursor = std::to_string(after);
    return out;
  }

  // A Sale ledger entry gets the externalDocumentNumber of its document
  // (ledger entries carry only the posted number).
  Result<Inbound> complete(const Inbound& message) override {
    if (message.topic != kLedgerTopic) return message;
    auto doc = parse_exact(message.payload);
    auto entry = decode_item_ledger_entries(message.payload);
    if (!doc || !doc->is_object() || doc->contains(kDocumentEdnMember) || !entry || entry->value.size() != 1)
      return message;
    const ItemLedgerEntry& e = entry->value.front();
    if (e.entry_type != "Sale" || !e.document_number || e.document_number->empty()) return message;
    const DocumentType& type =
        e.document_type && *e.document_type == "Sales Credit Memo" ? kSalesCreditMemos : kSalesInvoices;
    auto edn = document_edn(type, *e.document_number);
    if (!edn) return std::move(edn).error();
    if (!*edn) return message;
    (*doc)[kDocumentEdnMember] = **edn;
    return Inbound{message.dedupe_key, message.topic, dump_exact(*doc)};
  }

  Mapped<Canonical> map(const Inbound& message, const IdResolver& resolver) override {
    if (message.topic != kLedgerTopic)
      return unsupported("business central " + message.topic +
                         " notification: recorded; stock comes from the item ledger poll");
    auto entries = decode_item_ledger_entries(message.payload);
    if (!entries) return invalid_payload(entries.error());
    if (entries->value.size() != 1) return invalid_payload("expected one item ledger entry");
    const MappingContext context{"", resolver};
    auto movement = to_movement(entries->value.front(), context, settings_.default_location);
    if (!movement) return movement.error();
    model::InventoryMovement m = std::move(movement).value();
    auto doc = parse_exact(message.payload);
    if (doc && doc->is_object())
      if (auto edn = string_member(*doc, kDocumentEdnMember))
        if (auto order = resolver.lookup(kSalesDocumentEntity, *edn)) m.order_id = *order;
    Canonical out;
    out.movements.push_back(std::move(m));
    return out;
  }

  // ---- Outbound -----------------------------------------------------------

  std::vector<connector::OperationSpec> operations() const override {
    const std::string input =
        " Input {external_document_number, location, posting_date?, customer_number?, currency?, order_id?, lines: "
        "[{sku, quantity, unit_price?}]}; items and locations through the crosswalk.";
    const std::string detail =
        "externalDocumentNumber = external_document_number (over 35 characters: its first 18, \"~\" and 16 hex "
        "digits of its SHA-256), looked up before anything is created";
    return {{connector::kPostSale,
             "Books a sale as a posted sales " +
                 std::string(settings_.sale_type == &kSalesOrders ? "order (shipAndInvoice)" : "invoice") +
                 ": lookup by externalDocumentNumber, create with its lines, post." + input,
             connector::Idempotency::natural_key, detail},
            {connector::kPostReturn,
             "Books a POS return as a posted sales credit memo (quantities = units returned): lookup by "
             "externalDocumentNumber, create with its lines, post." +
                 input,
             connector::Idempotency::natural_key, detail}};
  }

  Result<json> perform(const connector::OutboundCall& call) override {
    if (call.operation == connector::kPostSale) {
      std::vector<const DocumentType*> lookups{&kSalesInvoices};
      if (settings_.sale_type == &kSalesOrders) lookups.push_back(&kSalesOrders);
      return book(call, *settings_.sale_type, lookups);
    }
    if (call.operation == connector::kPostReturn) return book(call, kSalesCreditMemos, {&kSalesCreditMemos});
    return Connector::perform(call);
  }

 private:
  // ---- post_sale, post_return ---------------------------------------------

  Result<std::string> external(std::string_view entity, const std::string& canonical) {
    return ids_.require(kSystem, entity, canonical);
  }

  Result<std::string> location_guid(const std::string& code) {
    {
      std::lock_guard lock(mutex_);
      if (auto it = location_ids_.find(code); it != location_ids_.end()) return it->second;
    }
    auto id = client_.location_id(code);
    if (!id) return std::move(id).error();
    if (!*id) return make_error(Errc::not_found, "business central has no location with code " + code);
    std::lock_guard lock(mutex_);
    location_ids_[code] = **id;
    return **id;
  }

  // The sales document body (build_sales_document) with postingDate and each line's locationId.
  // (built as an invoice, then its date and lines members renamed for `type`).
  Result<std::string> document_body(const DocumentType& type, const SaleRequest& sale, const std::string& customer,
                                    const std::vector<std::string>& items, const std::string& location_id) {
    SalesDocumentDraft draft;
    draft.kind = SalesDocumentKind::invoice;
    draft.external_document_number = sale.external_document_number;
    draft.customer_number = customer;
    draft.document_date = sale.posting_date;
    draft.currency_code = currency_code(sale);
    for (std::size_t i = 0; i < sale.lines.size(); ++i)
      draft.lines.push_back(SalesDocumentDraftLine{items[i], sale.lines[i].quantity, sale.lines[i].unit_price,
                                                   std::nullopt, std::nullopt});
    auto text = build_sales_document(draft);
    if (!text) return make_error(Errc::invalid_argument, std::string(type.set) + ": " + text.error().message);
    auto parsed = parse_exact(*text);
    if (!parsed) return std::move(parsed).error();
    json body = json::object();
    for (auto& [key, value] : parsed->items()) {
      const std::string name = key == "invoiceDate"         ? std::string(type.date)
                               : key == "salesInvoiceLines" ? std::string(type.lines)
                                                            : key;
      body[name] = value;
    }
    if (sale.posting_date) body["postingDate"] = *sale.posting_date;
    for (auto& line : body[std::string(type.lines)]) line["locationId"] = location_id;
    return dump_exact(body);
  }

  // currencyCode: omitted for the company's local currency (BC keeps "" for it).
  std::optional<std::string> currency_code(const SaleRequest& sale) const {
    if (!sale.currency || (settings_.local_currency && *sale.currency == *settings_.local_currency))
      return std::nullopt;
    return sale.currency;
  }

  // The documents of `sale` by externalDocumentNumber in the `lookups` sets:
  // a posted one (an order that was shipped and invoiced became an invoice),
  // and the drafts of `type`, oldest first (number series grow with each
  // create).
  struct Existing {
    std::optional<std::pair<SalesDocument, const DocumentType*>> posted;
    std::vector<SalesDocument> drafts;
  };
  Result<Existing> existing(const SaleRequest& sale, const connector::OutboundCall& call, const DocumentType& type,
                            const std::vector<const DocumentType*>& lookups) {
    Existing out;
    for (const DocumentType* set : lookups) {
      auto raw = client_.find_documents(*set, sale.external_document_number, call.deadline);
      if (!raw) return std::move(raw).error();
      for (const auto& r : *raw) {
        auto d = decode_document(r);
        if (!d) return std::move(d).error();
        if (posted(*d, *set)) {
          if (!out.posted) out.posted.emplace(std::move(d).value(), set);
        } else if (set == &type) {
          out.drafts.push_back(std::move(d).value());
        }
      }
    }
    std::sort(out.drafts.begin(), out.drafts.end(), [](const SalesDocument& a, const SalesDocument& b) {
      const std::string an = a.number.value_or(""), bn = b.number.value_or("");
      return std::make_tuple(an.size(), an, a.id) < std::make_tuple(bn.size(), bn, b.id);
    });
    return out;
  }

  // Drafts that lost to the oldest one (a concurrent create elsewhere) are deleted.
  void delete_drafts(const DocumentType& type, const std::vector<SalesDocument>& drafts, const SaleRequest& sale,
                     const connector::OutboundCall& call) {
    for (const auto& d : drafts) {
      auto st = client_.delete_document(type, d.id, d.etag.value_or("*"), call.deadline);
      log::warn("business central: a second document for one externalDocumentNumber; the newer draft is deleted",
                {{"connector", id()},
                 {"external_document_number", sale.external_document_number},
                 {"number", d.number.value_or("")},
                 {"deleted", st ? "yes" : st.error().describe()}});
    }
  }

  // post_sale and post_return: one posted document of `type` per
  // externalDocumentNumber, whatever `lookups` already holds.
  Result<json> book(const connector::OutboundCall& call, const DocumentType& type,
                    const std::vector<const DocumentType*>& lookups) {
    auto sale = read_sale(call.input, call.operation);
    if (!sale) return std::move(sale).error();
    const std::string customer = sale->customer_number.value_or(settings_.customer_number.value_or(""));
    if (customer.empty())
      return make_error(Errc::invalid_argument,
                        call.operation +
                            ": no customer: set customer_number on the connector (the channel's customer in "
                            "Business Central) or in the input");
    // Every mapping is checked before anything is written; all misses are named.
    std::vector<std::string> items, missing;
    for (const auto& line : sale->lines) {
      auto item = external(kItemEntity, line.sku);
      if (!item && item.error().code != Errc::not_found) return std::move(item).error();
      if (!item) missing.push_back(item.error().message);
      items.push_back(item ? *item : std::string());
    }
    auto location_code = external(kLocationEntity, sale->location);
    if (!location_code && location_code.error().code != Errc::not_found) return std::move(location_code).error();
    if (!location_code) missing.push_back(location_code.error().message);
    if (!missing.empty()) {
      std::string text = call.operation + ": ";
      for (std::size_t i = 0; i < missing.size(); ++i) text += (i > 0 ? "; " : "") + missing[i];
      return make_error(Errc::not_found, text);
    }
    // The ledger entries of this document will name its order (see complete()).
    if (sale->order_id)
      if (auto st = ids_.learn(kSystem, kSalesDocumentEntity, sale->external_document_number, *sale->order_id); !st)
        return std::move(st).error();

    // One document at a time in this process (two workflows for one sale
    // would both miss the lookup); across processes the oldest draft wins below.
    std::lock_guard sale_lock(
        sale_locks_[std::hash<std::string>{}(sale->external_document_number) % sale_locks_.size()]);
    auto found = existing(*sale, call, type, lookups);
    if (!found) return std::move(found).error();
    if (found->posted) return document_answer(found->posted->first, *found->posted->second);
    if (found->drafts.empty()) {
      auto location_id = location_guid(*location_code);
      if (!location_id) return std::move(location_id).error();
      auto body = document_body(type, *sale, customer, items, *location_id);
      if (!body) return std::move(body).error();
      auto created = client_.create_document(type, std::move(body).value(), call.deadline);
      if (!created) return std::move(created).error();
      log::info("business central sales document created",
                {{"connector", id()},
                 {"document", std::string(type.set)},
                 {"external_document_number", sale->external_document_number},
                 {"number", string_member(*created, "number").value_or("")}});
      // Read again: another instance may have created one meanwhile.
      found = existing(*sale, call, type, lookups);
      if (!found) return std::move(found).error();
      if (found->posted) {
        delete_drafts(type, found->drafts, *sale, call);
        return document_answer(found->posted->first, *found->posted->second);
      }
      if (found->drafts.empty())
        return make_error(Errc::unavailable, "business central: the created document is not listed yet");
    }
    delete_drafts(type, std::vector<SalesDocument>(found->drafts.begin() + 1, found->drafts.end()), *sale, call);
    auto document = align_draft(type, found->drafts.front(), *sale, customer, call);
    if (!document) return std::move(document).error();
    if (auto st = client_.post_document(type, document->id, call.deadline); !st) {
      // A post whose answer was lost, then repeated, is refused (already
      // posted): read the document to tell that from a real refusal.
      if (st.error().retryable() || st.error().code == Errc::not_found) return std::move(st).error();
      auto again = existing(*sale, call, type, lookups);
      if (again && again->posted) return document_answer(again->posted->first, *again->posted->second);
      return std::move(st).error();
    }
    auto after = existing(*sale, call, type, lookups);
    if (!after) return std::move(after).error();
    if (!after->posted) return make_error(Errc::unavailable, "business central: the posted document is not listed yet");
    return document_answer(after->posted->first, *after->posted->second);
  }

  // PATCH (If-Match) the draft's header fields that differ from the sale.
  Result<SalesDocument> align_draft(const DocumentType& type, SalesDocument draft, const SaleRequest& sale,
                                    const std::string& customer, const connector::OutboundCall& call) {
    json patch = json::object();
    if (draft.customer_number.value_or("") != customer) patch["customerNumber"] = customer;
    if (sale.posting_date && draft.posting_date.value_or("") != *sale.posting_date)
      patch["postingDate"] = *sale.posting_date;
    if (auto currency = currency_code(sale); currency && draft.currency_code != *currency)
      patch["currencyCode"] = *currency;
    if (patch.empty()) return draft;
    auto updated = client_.patch_document(type, draft.id, draft.etag.value_or("*"), patch.dump(), call.deadline);
    if (!updated) return std::move(updated).error();
    return decode_document(*updated);
  }

  // The externalDocumentNumber of the document of `type` numbered `number`
  // (cached; nullopt when BC has none or it has no externalDocumentNumber).
  Result<std::optional<std::string>> document_edn(const DocumentType& type, const std::string& number) {
    const std::string key = std::string(type.set) + "/" + number;
    {
      std::lock_guard lock(mutex_);
      if (auto it = document_edns_.find(key); it != document_edns_.end()) return it->second;
    }
    auto raw = client_.find_documents_by_number(type, number);
    if (!raw) return std::move(raw).error();
    std::optional<std::string> edn;
    for (const auto& r : *raw)
      if (auto e = string_member(r, "externalDocumentNumber"); e && !e->empty()) edn = e;
    std::lock_guard lock(mutex_);
    if (document_edns_.size() >= kDocumentCacheSize) document_edns_.clear();
    document_edns_[key] = edn;
    return edn;
  }

  // ---- Subscriptions ------------------------------------------------------

  // Ensures and renews the configured subscriptions when due (poller thread).
  void maintain_subscriptions() {
    const auto& subs = settings_.subscriptions;
    if (subs.entity_sets.empty()) return;
    const auto now = std::chrono::steady_clock::now();
    if (now < next_subscription_check_) return;
    auto st = ensure_subscriptions();
    if (st) {
      subscription_failures_ = 0;
      next_subscription_check_ = now + subs.check_interval;
      return;
    }
    // 1 s doubling, at most the check interval.
    const auto delay = std::min<std::chrono::milliseconds>(
        subs.check_interval, std::chrono::milliseconds(1000) * (1LL << std::min(subscription_failures_, 16)));
    ++subscription_failures_;
    next_subscription_check_ = now + delay;
    log::warn("business central subscriptions not in place; retrying",
              {{"connector", id()}, {"error", st.error().describe()}, {"retry_in_ms", std::to_string(delay.count())}});
  }

  Status ensure_subscriptions() {
    const auto& subs = settings_.subscriptions;
    auto existing = client_.subscriptions();
    if (!existing) return std::move(existing).error();
    std::vector<std::string> resources;
    for (const auto& set : subs.entity_sets) resources.push_back(subscription_resource(settings_.api, set));
    const std::string client_state = settings_.client_states.empty() ? "" : settings_.client_states.front();
    const auto now = model::Timestamp::from_system(std::chrono::system_clock::now());
    for (const auto& action :
         plan_subscriptions(*existing, resources, subs.notification_url, client_state, now, subs.renew_before)) {
      Subscription wanted;
      wanted.notification_url = subs.notification_url;
      wanted.resource = action.resource;
      if (!client_state.empty()) wanted.client_state = client_state;
      auto done = action.kind == SubscriptionAction::Kind::create
                      ? client_.create_subscription(wanted)
                      : client_.renew_subscription(*action.existing, wanted);
      if (!done) return std::move(done).error();
      log::info(action.kind == SubscriptionAction::Kind::create ? "business central subscription created"
                                                                : "business central subscription renewed",
                {{"connector", id()},
                 {"resource", action.resource},
                 {"expires", done->expiration ? done->expiration->to_utc_string() : std::string()}});
    }
    return Ok{};
  }

  Settings settings_;
  connector::ExternalIds& ids_;
  BusinessCentralClient client_;
  std::mutex mutex_;
  std::array<std::mutex, 64> sale_locks_;                            // post_sale, striped by externalDocumentNumber
  std::map<std::string, std::string> location_ids_;                  // BC location code -> id
  std::map<std::string, std::optional<std::string>> document_edns_;  // "<set>/<number>" -> externalDocumentNumber
  // Poller thread only.
  std::chrono::steady_clock::time_point next_subscription_check_{};
  int subscription_failures_ = 0;
};

const connector::Registrar registrar{connector::ConnectorType{
    "business-central",
    "Microsoft Dynamics 365 Business Central companies (API v2.0): item ledger polling as the ERP's on-hand, "
    "webhook subscriptions, post_sale and post_return (sales invoices and credit memos by "
    "externalDocumentNumber).",
    {
        config::with_default("api_base_url", Type::string, std::string(kDefaultApiBaseUrl),
                             "API base URL (without /v2.0/...); a simulator's URL in tests."),
        config::optional("tenant", Type::string,
                         "Microsoft Entra tenant (domain or id) for the direct-tenant endpoint "
                         "/v2.0/{tenant}/{environment}/api/v2.0; absent: the common endpoint."),
        config::with_default("environment", Type::string, "production", "The Business Central environment name."),
        config::required("company_id", Type::string, "The company's id (GUID), as GET .../companies lists it."),
        config::optional("access_token", Type::secret,
                         "Bearer token of the API user (Authorization: Bearer). Required: OAuth client-credentials "
                         "token acquisition from Microsoft Entra ID is not built."),
        config::optional("customer_number", Type::string,
                         "Customer number the channel and POS sales are booked to (post_sale input may override)."),
        config::choice("document_kind", {"invoice", "order"}, "invoice",
                       "What post_sale creates and posts: a sales invoice (Microsoft.NAV.post) or a sales order "
                       "(Microsoft.NAV.shipAndInvoice)."),
        config::optional("default_location", Type::string,
                         "BC location code of item ledger entries without locationCode (the standard v2.0 page has "
                         "none); without it such entries are quarantined."),
        config::optional("local_currency", Type::string,
                         "The company's local currency (ISO 4217): post_sale omits currencyCode for it."),
        config::bounded(config::with_default("poll_interval", Type::duration, "1m",
                                             "How often item ledger entries are polled (by entry number); 0s = no "
                                             "polling and no subscription management."),
                        0, 86400000),
        config::bounded(config::with_default("ledger_page_size", Type::integer, "1000",
                                             "Entries per page (Prefer: odata.maxpagesize); a poll reads at most 50 "
                                             "pages and continues at the next interval."),
                        1, 20000),
        config::optional("client_state", Type::secret,
                         "Shared secret of the webhook subscriptions (clientState); notifications without it are "
                         "refused (401). Required with subscriptions."),
        config::optional("previous_client_state", Type::secret, "The clientState before a rotation, still accepted."),
        config::with_default("subscriptions", Type::string_list, "[]",
                             "Entity sets to keep webhook subscriptions for (items, customers, salesInvoices, "
                             "salesOrders, ...); [] = none. Created and renewed on the poller thread."),
        config::optional("notification_url", Type::string,
                         "The URL BC notifies: webhooks.public_base_url + /v1/webhooks/{id}. Required with "
                         "subscriptions."),
        config::bounded(config::with_default("subscription_renew_before", Type::duration, "24h",
                                             "Renew a subscription (PATCH) when it expires within this (BC: 3 days "
                                             "after creation or renewal)."),
                        60000, 259200000),
        config::bounded(config::with_default("subscription_check_interval", Type::duration, "1h",
                                             "How often the subscriptions are listed and created or renewed."),
                        1000, 86400000),
        config::bounded(config::with_default("request_timeout", Type::duration, "30s",
                                             "How long one exchange with BC may take. A create or post whose "
                                             "answer does not come in time is looked up again by the workflow's "
                                             "retry (never sent twice blindly)."),
                        1000, 120000),
        config::bounded(config::with_default("rate_limit_per_second", Type::integer, "19",
                                             "Calls a second to the company (token bucket refill): under BC's 6000 "
                                             "per user in 5 minutes. A 429 or 503 pauses it 1 s, doubled per one in "
                                             "a row up to 60 s."),
                        1, 1000),
        config::bounded(config::with_default("rate_limit_burst", Type::integer, "100",
                                             "Calls the company may take at once (token bucket size)."),
                        1, 6000),
    },
    [](const std::string& id, const config::Section& s,
       connector::Services& services) -> Result<std::unique_ptr<connector::Connector>> {
      if (!s.present("access_token"))
        return make_error(Errc::invalid_argument,
                          "access_token is not set: Business Central needs a bearer token (access_token: "
                          "${BC_ACCESS_TOKEN}); OAuth client-credentials token acquisition from Entra ID is not "
                          "built, so obtain the token outside Trueup");
      Settings settings;
      settings.api.target_name = "business-central:" + id;
      settings.api.base_url = s.string("api_base_url");
      while (!settings.api.base_url.empty() && settings.api.base_url.back() == '/') settings.api.base_url.pop_back();
      if (s.present("tenant")) settings.api.tenant = s.string("tenant");
      settings.api.environment = s.string("environment");
      settings.api.company_id = s.string("company_id");
      settings.api.access_token = s.string("access_token");
      settings.api.ledger_page_size = s.integer("ledger_page_size");
      settings.api.timeout = s.duration("request_timeout");
      settings.api.budget = connector::BudgetSettings::token_bucket(
          static_cast<double>(s.integer("rate_limit_per_second")), static_cast<double>(s.integer("rate_limit_burst")));
      settings.poll_interval = s.duration("poll_interval");
      if (s.present("customer_number")) settings.customer_number = s.string("customer_number");
      settings.sale_type = s.string("document_kind") == "order" ? &kSalesOrders : &kSalesInvoices;
      if (s.present("default_location")) settings.default_location = s.string("default_location");
      if (s.present("local_currency")) {
        if (!Currency::from_code(s.string("local_currency")))
          return make_error(Errc::invalid_argument,
                            "local_currency is not an ISO 4217 code: " + s.string("local_currency"));
        settings.local_currency = s.string("local_currency");
      }
      if (s.present("client_state")) settings.client_states.push_back(s.string("client_state"));
      if (s.present("previous_client_state")) settings.client_states.push_back(s.string("previous_client_state"));
      settings.subscriptions.entity_sets = s.string_list("subscriptions");
      if (s.present("notification_url")) settings.subscriptions.notification_url = s.string("notification_url");
      settings.subscriptions.renew_before = s.duration("subscription_renew_before");
      settings.subscriptions.check_interval = s.duration("subscription_check_interval");
      if (!settings.subscriptions.entity_sets.empty()) {
        if (settings.subscriptions.notification_url.empty() || settings.client_states.empty())
          return make_error(Errc::invalid_argument,
                            "subscriptions are set: notification_url (webhooks.public_base_url + /v1/webhooks/" + id +
                                ") and client_state are needed");
        if (settings.poll_interval.count() == 0)
          return make_error(Errc::invalid_argument,
                            "subscriptions are set: they are kept on the poller thread, so poll_interval must not "
                            "be 0s");
      }
      return std::unique_ptr<connector::Connector>(
          std::make_unique<BusinessCentralConnector>(id, std::move(settings), services));
    }}};

}  // namespace
}  // namespace trueup::connectors::business_central
