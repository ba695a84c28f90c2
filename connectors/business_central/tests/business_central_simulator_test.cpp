// The Business Central simulator in-process on port 0, driven through the
// shared outbound client and read back with the connector's own decoders
// (business_central_payloads.hpp): bearer auth, OData paging and $filter,
// sales invoices created, looked up by externalDocumentNumber, PATCHed with
// If-Match and posted into item ledger entries, webhook subscriptions with the
// validationToken handshake and batched notifications, the rate limits and
// run-time faults. The bucket runs on a frozen clock.
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "business_central_payloads.hpp"
#include "common/exact_json.hpp"
#include "simulator.hpp"
#include "support/webhook_receiver.hpp"
#include "trueup/http/outbound.hpp"
#include "trueup/http/query.hpp"
#include "trueup/http/server.hpp"
#include "trueup/metrics/registry.hpp"

namespace trueup::connectors::business_central {
namespace {

using nlohmann::json;
constexpr const char* kToken = "bc-sim-token";
constexpr auto kBound = std::chrono::seconds(20);

// Parsed exactly, as the CLI reads seeds (numbers keep their text).
json seed() {
  return *connectors::parse_exact(R"({
    "company": {"id": "b18aed47-c385-49d2-b954-dbdf8ad71780", "name": "CRONUS", "default_location_code": "MAIN"},
    "locations": [{"code": "MAIN", "displayName": "Main Warehouse"}, {"code": "EAST"}],
    "customers": [{"number": "10000", "displayName": "Adatum"}, {"number": "WEB"}],
    "items": [
      {"number": "1896-S", "displayName": "ATHENS Desk", "unitPrice": 1000.8, "unitCost": 780.7, "taxPercent": 5,
       "inventory": {"MAIN": 4, "EAST": 2}},
      {"number": "1928-S", "displayName": "AMSTERDAM Lamp", "unitPrice": 54.9, "taxPercent": 5, "inventory": {"MAIN": 30}},
      {"number": "70000", "displayName": "Side Panel", "unitPrice": 12.5}
    ]
  })");
}

std::string url_encode(std::string_view text) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || c == '$' || c == '=') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

// An endpoint for notifications that answers the validationToken handshake
// (echoing the token, or not) and records every notification.
std::unique_ptr<trueup::testing::WebhookReceiver> notification_receiver(bool echo = true) {
  auto receiver = std::make_unique<trueup::testing::WebhookReceiver>();
  receiver->answer_validation_tokens(echo);
  return receiver;
}

// The bodies received so far.
std::vector<std::string> bodies(trueup::testing::WebhookReceiver& receiver, std::size_t wait_for = 0) {
  std::vector<std::string> out;
  for (const auto& r : receiver.wait_for(wait_for)) out.push_back(r.body);
  return out;
}

class BusinessCentralSimulatorTest : public ::testing::Test {
 protected:
  void start(BusinessCentralSimulatorSettings settings = {}, json s = seed()) {
    settings.access_token = kToken;
    if (settings.notification_delay == std::chrono::milliseconds(30000))
      settings.notification_delay = std::chrono::milliseconds(20);
    settings.webhooks.retry_delay = std::chrono::milliseconds(10);
    settings.wall_clock = [this] {
      return std::chrono::system_clock::time_point(std::chrono::seconds(1'795'000'000 + wall_offset_s_.load()));
    };
    settings.clock = [this] { return std::chrono::steady_clock::time_point(std::chrono::nanoseconds(now_ns_.load())); };
    auto created = BusinessCentralSimulator::create(std::move(settings), s);
    ASSERT_TRUE(created.ok()) << created.error().describe();
    sim_ = std::move(created).value();
    ASSERT_TRUE(sim_->start().ok());
  }
  void TearDown() override {
    if (sim_) sim_->stop();
  }

  http::OutboundReply call(const std::string& method, const std::string& path, const std::string& body = "",
                           std::vector<std::pair<std::string, std::string>> headers = {}, bool with_token = true) {
    http::OutboundRequest r;
    r.method = method;
    r.url = path.starts_with("http")    ? path
            : path.starts_with("/_sim") ? sim_->base_url() + path
                                        : sim_->company_url() + path;
    r.body = body;
    if (with_token) r.headers.add("Authorization", std::string("Bearer ") + kToken);
    if (!body.empty()) r.headers.add("Content-Type", "application/json");
    for (auto& [k, v] : headers) r.headers.add(k, v);
    auto reply = client_.send(r);
    EXPECT_TRUE(reply.ok()) << method << " " << path << ": " << (reply ? "" : reply.error().describe());
    return reply ? *reply : http::OutboundReply{};
  }
  json inspect() { return json::parse(call("GET", "/_sim/inspect").body); }

  // Creates a draft invoice with the given lines (deep insert); returns it decoded.
  SalesDocument create_invoice(const std::string& edn, std::vector<SalesDocumentDraftLine> lines) {
    SalesDocumentDraft draft;
    draft.kind = SalesDocumentKind::invoice;
    draft.external_document_number = edn;
    draft.customer_number = "10000";
    draft.lines = std::move(lines);
    auto body = build_sales_document(draft);
    EXPECT_TRUE(body.ok());
    auto created = call("POST", "/salesInvoices", *body);
    EXPECT_EQ(created.status, 201) << created.body;
    auto docs = decode_sales_documents(created.body, SalesDocumentKind::invoice);
    EXPECT_TRUE(docs.ok()) << (docs ? "" : docs.error().message);
    return docs ? docs->value.at(0) : SalesDocument{};
  }

  std::vector<ItemLedgerEntry> ledger_after(std::int64_t entry_number) {
    auto page =
        call("GET", "/itemLedgerEntries?" + url_encode("$filter=entryNumber gt " + std::to_string(entry_number)) +
                        "&$orderby=entryNumber");
    EXPECT_EQ(page.status, 200) << page.body;
    auto entries = decode_item_ledger_entries(page.body);
    EXPECT_TRUE(entries.ok()) << (entries ? "" : entries.error().message);
    return entries ? entries->value : std::vector<ItemLedgerEntry>{};
  }

  std::atomic<std::int64_t> now_ns_{1'000'000'000'000};
  std::atomic<std::int64_t> wall_offset_s_{0};
  std::unique_ptr<BusinessCentralSimulator> sim_;
  http::OutboundClient client_{http::OutboundSettings{}};
};

TEST_F(BusinessCentralSimulatorTest, BearerTokenEnvironmentAndCompanyAreChecked) {
  start();
  auto refused = call("GET", "/items", "", {}, false);
  EXPECT_EQ(refused.status, 401);
  EXPECT_EQ(json::parse(refused.body)["error"]["code"], "Authentication_InvalidCredentials");
  auto wrong = call("GET", "/items", "", {{"Authorization", "Bearer nope"}}, false);
  EXPECT_EQ(wrong.status, 401);
  auto env = call("GET", sim_->base_url() + "/v2.0/sandbox/api/v2.0/companies");
  EXPECT_EQ(env.status, 404);
  auto companies = call("GET", sim_->api_url() + "/companies");
  ASSERT_EQ(companies.status, 200);
  EXPECT_EQ(json::parse(companies.body)["value"][0]["id"], "b18aed47-c385-49d2-b954-dbdf8ad71780");
  // The form with the tenant before the environment.
  auto tenant = call(
      "GET", sim_->base_url() + "/v2.0/contoso.com/production/api/v2.0/companies(" + sim_->company_id() + ")/items");
  EXPECT_EQ(tenant.status, 200);
  auto other = call("GET", sim_->api_url() + "/companies(00000000-0000-0000-0000-000000000001)/items");
  EXPECT_EQ(other.status, 404);
  EXPECT_EQ(inspect()["unauthorized"], 2);
}

TEST_F(BusinessCentralSimulatorTest, ItemsLocationsCustomersDecodeAndFilter) {
  start();
  auto items = call("GET", "/items");
  ASSERT_EQ(items.status, 200) << items.body;
  auto decoded = decode_items(items.body);
  ASSERT_TRUE(decoded.ok()) << decoded.error().message;
  ASSERT_EQ(decoded->value.size(), 3u);
  EXPECT_EQ(decoded->value[0].number, "1896-S");
  EXPECT_EQ(*decoded->value[0].unit_price, "1000.8");
  EXPECT_EQ(*decoded->value[0].inventory, "6");  // 4 at MAIN + 2 at EAST
  EXPECT_TRUE(decoded->value[0].etag->starts_with("W/\""));
  EXPECT_FALSE(decoded->next_link);

  auto one = call("GET", "/items?" + url_encode("$filter=number eq '1928-S'"));
  ASSERT_EQ(one.status, 200);
  auto filtered = decode_items(one.body);
  ASSERT_TRUE(filtered.ok());
  ASSERT_EQ(filtered->value.size(), 1u);
  EXPECT_EQ(*filtered->value[0].unit_price, "54.9");
  auto by_id = call("GET", "/items(" + filtered->value[0].id + ")");
  ASSERT_EQ(by_id.status, 200);
  EXPECT_EQ(decode_items(by_id.body)->value.at(0).number, "1928-S");
  EXPECT_EQ(call("GET", "/items(00000000-0000-0000-0000-000000000009)").status, 404);
  auto count = [&](const std::string& filter) {
    auto page = call("GET", "/items?" + url_encode("$filter=" + filter));
    EXPECT_EQ(page.status, 200) << filter << ": " << page.body;
    return json::parse(page.body)["value"].size();
  };
  EXPECT_EQ(count("(number eq '1896-S' or number eq '70000') and not (blocked eq true)"), 2u);
  EXPECT_EQ(count("unitPrice gt 50 and unitPrice le 1000.8"), 2u);
  EXPECT_EQ(count("lastModifiedDateTime gt 2000-01-01T00:00:00Z"), 3u);
  EXPECT_EQ(count("lastModifiedDateTime lt 2000-01-01T00:00:00Z"), 0u);
  EXPECT_EQ(count("contains(displayName,'desk')"), 1u);
  EXPECT_EQ(count("type eq 'Inventory'"), 3u);
  EXPECT_EQ(call("GET", "/items?" + url_encode("$filter=number eq 'unterminated")).status, 400);
  auto unknown = call("GET", "/items?" + url_encode("$filter=sku eq 'x'"));
  EXPECT_EQ(unknown.status, 400);
  EXPECT_NE(unknown.body.find("Could not find a property named 'sku'"), std::string::npos);

  auto locations = decode_locations(call("GET", "/locations?" + url_encode("$filter=code eq 'EAST'")).body);
  ASSERT_TRUE(locations.ok());
  ASSERT_EQ(locations->value.size(), 1u);
  EXPECT_EQ(locations->value[0].code, "EAST");
  auto customers = json::parse(call("GET", "/customers?" + url_encode("$filter=number eq 'WEB'")).body);
  ASSERT_EQ(customers["value"].size(), 1u);
  EXPECT_EQ(customers["value"][0]["number"], "WEB");

  // Opening stock: positive adjustments, XML-escaped enums.
  auto entries = ledger_after(0);
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(entries[0].entry_type, "Positive Adjmt.");
  EXPECT_EQ(entries[0].document_number, "START");
  EXPECT_FALSE(entries[0].location_code);  // the standard page has no location
  EXPECT_NE(call("GET", "/itemLedgerEntries").body.find("Positive_x0020_Adjmt_x002E_"), std::string::npos);
}

TEST_F(BusinessCentralSimulatorTest, ServerDrivenPagingWithNextLink) {
  start();
  for (int i = 0; i < 7; ++i)
    ASSERT_EQ(call("POST", "/_sim/item_ledger_entries",
                   R"({"itemNumber": "70000", "locationCode": "MAIN", "quantity": )" + std::to_string(i + 1) + "}")
                  .status,
              201);
  std::string next =
      sim_->company_url() + "/itemLedgerEntries?" + url_encode("$filter=entryNumber gt 2") + "&$orderby=entryNumber";
  std::vector<std::int64_t> seen;
  int pages = 0;
  while (!next.empty() && pages < 10) {
    auto page = call("GET", next, "", {{"Prefer", "odata.maxpagesize=3"}});
    ASSERT_EQ(page.status, 200) << page.body;
    EXPECT_EQ(page.headers.get("Preference-Applied"), "odata.maxpagesize=3");
    ++pages;
    auto entries = decode_item_ledger_entries(page.body);
    ASSERT_TRUE(entries.ok()) << entries.error().message;
    EXPECT_LE(entries->value.size(), 3u);
    for (const auto& e : entries->value) seen.push_back(e.entry_number);
    next = entries->next_link.value_or("");
    if (!next.empty()) {
      EXPECT_NE(next.find("$skiptoken="), std::string::npos);
    }
  }
  // 3 opening entries + 7: entries 3..10 in order, in 3 pages.
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(seen, (std::vector<std::int64_t>{3, 4, 5, 6, 7, 8, 9, 10}));
  // $top limits without a nextLink; $orderby desc.
  auto top = json::parse(call("GET", "/itemLedgerEntries?$top=2&$orderby=entryNumber%20desc").body);
  ASSERT_EQ(top["value"].size(), 2u);
  EXPECT_EQ(top["value"][0]["entryNumber"], 10);
  EXPECT_FALSE(top.contains("@odata.nextLink"));
}

TEST_F(BusinessCentralSimulatorTest, InvoiceCreatedLookedUpPostedOnceIntoLedgerEntries) {
  BusinessCentralSimulatorSettings settings;
  settings.ledger_location_code = true;
  start(settings);
  const std::string edn = "SHOP-O'1001";  // a quote: doubled in the filter
  auto invoice = create_invoice(edn, {{"1928-S", "3", std::nullopt, std::nullopt, std::nullopt},
                                      {"70000", "2.5", std::string("12.5"), std::nullopt, std::nullopt}});
  ASSERT_FALSE(invoice.id.empty());
  EXPECT_EQ(invoice.status, "Draft");
  EXPECT_EQ(invoice.external_document_number, edn);
  ASSERT_EQ(invoice.lines.size(), 2u);
  EXPECT_EQ(*invoice.lines[0].amount_excluding_tax, "164.7");  // 3 x 54.9
  EXPECT_EQ(*invoice.lines[0].total_tax_amount, "8.24");       // 5 %, rounded
  EXPECT_EQ(*invoice.lines[0].amount_including_tax, "172.94");
  EXPECT_EQ(*invoice.lines[1].amount_excluding_tax, "31.25");  // 2.5 x 12.5
  EXPECT_EQ(*invoice.total_amount_including_tax, "204.19");

  // The natural-key lookup the connector makes before creating.
  auto found =
      call("GET", "/salesInvoices?" + url_encode(external_document_number_filter(edn)) + "&$expand=salesInvoiceLines");
  ASSERT_EQ(found.status, 200) << found.body;
  auto docs = decode_sales_documents(found.body, SalesDocumentKind::invoice);
  ASSERT_TRUE(docs.ok()) << docs.error().message;
  ASSERT_EQ(docs->value.size(), 1u);
  EXPECT_EQ(docs->value[0].id, invoice.id);
  EXPECT_EQ(docs->value[0].lines.size(), 2u);
  auto none = call("GET", "/salesInvoices?" + url_encode(external_document_number_filter("SHOP-O'1002")));
  EXPECT_EQ(json::parse(none.body)["value"].size(), 0u);

  const std::int64_t before = ledger_after(0).back().entry_number;
  auto posted = call("POST", "/salesInvoices(" + invoice.id + ")/Microsoft.NAV.post");
  ASSERT_EQ(posted.status, 204) << posted.body;
  auto entries = ledger_after(before);
  ASSERT_EQ(entries.size(), 2u);
  auto after =
      decode_sales_documents(call("GET", "/salesInvoices(" + invoice.id + ")").body, SalesDocumentKind::invoice);
  ASSERT_TRUE(after.ok());
  const auto& doc = after->value.at(0);
  EXPECT_EQ(doc.status, "Open");
  EXPECT_NE(doc.number, invoice.number);  // the posted invoice's number
  EXPECT_NE(doc.etag, invoice.etag);
  for (const auto& e : entries) {
    EXPECT_EQ(e.entry_type, "Sale");
    EXPECT_EQ(e.document_type, "Sales Invoice");
    EXPECT_EQ(e.document_number, doc.number);
    EXPECT_EQ(e.location_code, "MAIN");  // the company's default location
  }
  EXPECT_EQ(entries[0].entry_number, before + 1);
  EXPECT_EQ(entries[1].entry_number, before + 2);
  EXPECT_EQ(entries[0].quantity, "-3");
  EXPECT_EQ(entries[1].quantity, "-2.5");
  auto lamp = decode_items(call("GET", "/items?" + url_encode("$filter=number eq '1928-S'")).body);
  EXPECT_EQ(*lamp->value.at(0).inventory, "27");

  // Posting twice is refused and writes nothing.
  auto again = call("POST", "/salesInvoices(" + invoice.id + ")/Microsoft.NAV.post");
  EXPECT_EQ(again.status, 400);
  EXPECT_EQ(json::parse(again.body)["error"]["code"], "Application_DialogException");
  EXPECT_TRUE(ledger_after(before + 2).empty());
  auto seen = inspect();
  EXPECT_EQ(seen["keys"]["external_document_number"][edn], 1);
  EXPECT_EQ(seen["keys"]["posted_external_document_number"][edn], 1);
  auto documents = json::parse(call("GET", "/_sim/documents").body)["documents"];
  ASSERT_EQ(documents.size(), 1u);
  EXPECT_EQ(documents[0]["posts"], 1);

  // Bad input answers BC's errors.
  SalesDocumentDraft draft;
  draft.kind = SalesDocumentKind::invoice;
  draft.external_document_number = "X";
  draft.customer_number = "10000";
  draft.lines = {{"NOPE", "1", std::nullopt, std::nullopt, std::nullopt}};
  auto unknown_item = call("POST", "/salesInvoices", *build_sales_document(draft));
  EXPECT_EQ(unknown_item.status, 404);
  EXPECT_EQ(json::parse(unknown_item.body)["error"]["code"], "Internal_RecordNotFound");
  EXPECT_EQ(
      call("POST", "/salesInvoices", R"({"externalDocumentNumber": "1234567890123456789012345678901234567"})").status,
      400);
}

TEST_F(BusinessCentralSimulatorTest, OrderShipAndInvoiceBecomesAPostedInvoice) {
  start();
  SalesDocumentDraft draft;
  draft.kind = SalesDocumentKind::order;
  draft.external_document_number = "ORDER-1";
  draft.customer_number = "WEB";
  draft.document_date = "2026-11-20";
  draft.lines = {{"1896-S", "1", std::nullopt, std::nullopt, std::nullopt}};
  auto created = call("POST", "/salesOrders", *build_sales_document(draft));
  ASSERT_EQ(created.status, 201) << created.body;
  auto order = decode_sales_documents(created.body, SalesDocumentKind::order);
  ASSERT_TRUE(order.ok()) << order.error().message;
  EXPECT_EQ(order->value[0].document_date, "2026-11-20");
  EXPECT_EQ(*order->value[0].total_amount_including_tax, "1050.84");  // 1000.8 + 5 %
  const std::string id = order->value[0].id;
  EXPECT_EQ(call("POST", "/salesOrders(" + id + ")/Microsoft.NAV.post").status, 400);  // not an order action
  ASSERT_EQ(call("POST", "/salesOrders(" + id + ")/Microsoft.NAV.shipAndInvoice").status, 204);
  EXPECT_EQ(call("GET", "/salesOrders(" + id + ")").status, 404);  // invoiced orders are deleted
  EXPECT_EQ(call("POST", "/salesOrders(" + id + ")/Microsoft.NAV.shipAndInvoice").status, 404);
  auto invoices =
      decode_sales_documents(call("GET", "/salesInvoices?" + url_encode(external_document_number_filter("ORDER-1")) +
                                             "&$expand=salesInvoiceLines")
                                 .body,
                             SalesDocumentKind::invoice);
  ASSERT_TRUE(invoices.ok()) << invoices.error().message;
  ASSERT_EQ(invoices->value.size(), 1u);
  EXPECT_EQ(invoices->value[0].status, "Open");
  EXPECT_EQ(invoices->value[0].number, "PS-INV103001");
  EXPECT_EQ(invoices->value[0].lines.size(), 1u);
  auto entries = ledger_after(3);
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].document_type, "Sales Shipment");
  EXPECT_EQ(entries[0].document_number, "PS-SHPT102001");
  EXPECT_EQ(entries[0].quantity, "-1");
  EXPECT_EQ(inspect()["keys"]["posted_external_document_number"]["ORDER-1"], 1);
}

TEST_F(BusinessCentralSimulatorTest, PostedCreditMemoReturnsStock) {
  start();
  auto created = call("POST", "/salesCreditMemos",
                      R"({"externalDocumentNumber": "RET-1", "customerNumber": "10000", "salesCreditMemoLines": [
                            {"lineType": "Item", "lineObjectNumber": "1928-S", "quantity": 2}]})");
  ASSERT_EQ(created.status, 201) << created.body;
  const json memo = json::parse(created.body);
  EXPECT_EQ(memo["status"], "Draft");
  EXPECT_EQ(memo["number"], "S-CR1001");
  ASSERT_EQ(memo["salesCreditMemoLines"].size(), 1u);
  const std::string id = memo["id"].get<std::string>();
  ASSERT_EQ(call("POST", "/salesCreditMemos(" + id + ")/Microsoft.NAV.post").status, 204);
  auto entries = ledger_after(3);
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].entry_type, "Sale");
  EXPECT_EQ(entries[0].document_type, "Sales Credit Memo");
  EXPECT_EQ(entries[0].document_number, "PS-CR104001");
  EXPECT_EQ(entries[0].quantity, "2");
  EXPECT_EQ(*entries[0].sales_amount_actual, "-109.8");
  auto found =
      json::parse(call("GET", "/salesCreditMemos?" + url_encode(external_document_number_filter("RET-1"))).body);
  ASSERT_EQ(found["value"].size(), 1u);
  EXPECT_EQ(found["value"][0]["status"], "Open");
  EXPECT_EQ(call("POST", "/salesCreditMemos(" + id + ")/Microsoft.NAV.post").status, 400);
}

TEST_F(BusinessCentralSimulatorTest, PatchNeedsTheCurrentEtag) {
  start();
  auto invoice = create_invoice("PATCH-1", {{"70000", "1", std::nullopt, std::nullopt, std::nullopt}});
  const std::string path = "/salesInvoices(" + invoice.id + ")";
  auto missing = call("PATCH", path, R"({"externalDocumentNumber": "PATCH-2"})");
  EXPECT_EQ(missing.status, 400);
  EXPECT_EQ(json::parse(missing.body)["error"]["code"], "BadRequest_InvalidToken");
  auto ok = call("PATCH", path, R"({"externalDocumentNumber": "PATCH-2"})", {{"If-Match", *invoice.etag}});
  ASSERT_EQ(ok.status, 200) << ok.body;
  auto patched = decode_sales_documents(ok.body, SalesDocumentKind::invoice);
  ASSERT_TRUE(patched.ok());
  EXPECT_EQ(patched->value[0].external_document_number, "PATCH-2");
  EXPECT_NE(patched->value[0].etag, invoice.etag);
  auto stale = call("PATCH", path, R"({"externalDocumentNumber": "PATCH-3"})", {{"If-Match", *invoice.etag}});
  EXPECT_EQ(stale.status, 412);
  EXPECT_EQ(json::parse(stale.body)["error"]["code"], "Request_EntityChanged");
  EXPECT_EQ(call("PATCH", path, R"({"status": "Open"})", {{"If-Match", "*"}}).status, 400);  // read-only
  // A line POSTed separately changes the header's etag and totals.
  auto line =
      call("POST", path + "/salesInvoiceLines", R"({"lineType": "Item", "lineObjectNumber": "70000", "quantity": 2})");
  ASSERT_EQ(line.status, 201) << line.body;
  auto lines = decode_sales_document_lines(call("GET", path + "/salesInvoiceLines").body);
  ASSERT_TRUE(lines.ok());
  EXPECT_EQ(lines->value.size(), 2u);
  EXPECT_EQ(lines->value[1].sequence, 20000);
  auto doc = decode_sales_documents(call("GET", path).body, SalesDocumentKind::invoice);
  EXPECT_EQ(*doc->value[0].total_amount_including_tax, "37.5");
}

TEST_F(BusinessCentralSimulatorTest, SubscriptionHandshakeNotificationsRenewalAndExpiry) {
  auto receiver_ptr = notification_receiver();
  auto silent_ptr = notification_receiver(/*echo=*/false);
  auto& receiver = *receiver_ptr;
  auto& silent = *silent_ptr;
  BusinessCentralSimulatorSettings settings;
  settings.notification_delay = std::chrono::hours(1);  // flushed by hand
  start(settings);
  const std::string resource = "/api/v2.0/companies(" + sim_->company_id() + ")/salesInvoices";
  Subscription sub;
  sub.notification_url = silent.url();
  sub.resource = resource;
  sub.client_state = "s3cret";
  auto refused = call("POST", sim_->api_url() + "/subscriptions", build_subscription(sub).dump());
  EXPECT_EQ(refused.status, 400) << refused.body;
  EXPECT_EQ(silent.handshakes(), 1);

  sub.notification_url = receiver.url();
  auto created = call("POST", sim_->api_url() + "/subscriptions", build_subscription(sub).dump());
  ASSERT_EQ(created.status, 201) << created.body;
  EXPECT_EQ(receiver.handshakes(), 1);
  auto subs = decode_subscriptions(created.body);
  ASSERT_TRUE(subs.ok()) << subs.error().message;
  const Subscription made = subs->value.at(0);
  ASSERT_TRUE(made.subscription_id && made.expiration && made.etag);
  EXPECT_EQ(made.expiration->utc(), std::chrono::sys_seconds(std::chrono::seconds(1'795'000'000 + 3 * 24 * 3600)));
  auto listed = decode_subscriptions(call("GET", sim_->api_url() + "/subscriptions").body);
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(listed->value.size(), 1u);
  // Unsupported resources are refused.
  Subscription ledger = sub;
  ledger.resource = "/api/v2.0/companies(" + sim_->company_id() + ")/itemLedgerEntries";
  EXPECT_EQ(call("POST", sim_->api_url() + "/subscriptions", build_subscription(ledger).dump()).status, 400);

  // A created and then patched invoice within the delay: one notification.
  auto invoice = create_invoice("HOOK-1", {{"70000", "1", std::nullopt, std::nullopt, std::nullopt}});
  ASSERT_EQ(call("PATCH", "/salesInvoices(" + invoice.id + ")", R"({"externalDocumentNumber": "HOOK-2"})",
                 {{"If-Match", *invoice.etag}})
                .status,
            200);
  sim_->flush_notifications();
  ASSERT_TRUE(sim_->wait_notifications_idle(kBound));
  auto got = bodies(receiver);
  ASSERT_EQ(got.size(), 1u);
  auto notes = decode_notifications(got[0]);
  ASSERT_TRUE(notes.ok()) << notes.error().message;
  ASSERT_EQ(notes->size(), 1u);
  EXPECT_EQ(notes->at(0).subscription_id, *made.subscription_id);
  EXPECT_EQ(notes->at(0).change_type, "created");
  EXPECT_TRUE(check_client_state(notes->at(0), {"s3cret"}).ok());
  auto ref = parse_resource(notes->at(0).resource);
  ASSERT_TRUE(ref.ok());
  EXPECT_EQ(ref->entity_set, "salesInvoices");
  EXPECT_EQ(ref->entity_id, invoice.id);

  // Renewal: PATCH with If-Match, a new handshake, three more days.
  wall_offset_s_ = 2 * 24 * 3600;
  auto stale = call("PATCH", sim_->api_url() + "/subscriptions('" + *made.subscription_id + "')", "{}",
                    {{"If-Match", "W/\"old\""}});
  EXPECT_EQ(stale.status, 412);
  auto renewed = call("PATCH", sim_->api_url() + "/subscriptions('" + *made.subscription_id + "')",
                      R"({"clientState": "s3cret"})", {{"If-Match", *made.etag}});
  ASSERT_EQ(renewed.status, 200) << renewed.body;
  EXPECT_EQ(receiver.handshakes(), 2);
  auto renewal = decode_subscriptions(renewed.body);
  EXPECT_EQ(renewal->value.at(0).expiration->utc(),
            std::chrono::sys_seconds(std::chrono::seconds(1'795'000'000 + 5 * 24 * 3600)));

  // Expired: changes are no longer notified.
  wall_offset_s_ = 6 * 24 * 3600;
  create_invoice("HOOK-3", {{"70000", "1", std::nullopt, std::nullopt, std::nullopt}});
  sim_->flush_notifications();
  ASSERT_TRUE(sim_->wait_notifications_idle(kBound));
  EXPECT_EQ(bodies(receiver).size(), 1u);
  auto deleted = call("DELETE", sim_->api_url() + "/subscriptions('" + *made.subscription_id + "')", "",
                      {{"If-Match", *renewal->value.at(0).etag}});
  EXPECT_EQ(deleted.status, 204);
  EXPECT_EQ(json::parse(call("GET", sim_->api_url() + "/subscriptions").body)["value"].size(), 0u);
}

TEST_F(BusinessCentralSimulatorTest, NotificationsGoOutAfterTheDelayWithoutSignature) {
  auto receiver_ptr = notification_receiver();
  auto& receiver = *receiver_ptr;
  start();  // 20 ms delay
  Subscription sub;
  sub.notification_url = receiver.url();
  sub.resource = "/api/v2.0/companies(" + sim_->company_id() + ")/items";
  sub.client_state = "items-secret";
  ASSERT_EQ(call("POST", sim_->api_url() + "/subscriptions", build_subscription(sub).dump()).status, 201);
  auto item = decode_items(call("GET", "/items?" + url_encode("$filter=number eq '70000'")).body)->value.at(0);
  auto patched = call("PATCH", "/items(" + item.id + ")", R"({"unitPrice": 13.75})", {{"If-Match", *item.etag}});
  ASSERT_EQ(patched.status, 200) << patched.body;
  EXPECT_EQ(*decode_items(patched.body)->value.at(0).unit_price, "13.75");
  auto got = bodies(receiver, 1);
  ASSERT_EQ(got.size(), 1u);
  auto notes = decode_notifications(got[0]);
  ASSERT_TRUE(notes.ok());
  EXPECT_EQ(notes->at(0).change_type, "updated");
  EXPECT_EQ(parse_resource(notes->at(0).resource)->entity_id, item.id);
  EXPECT_TRUE(check_client_state(notes->at(0), {"items-secret"}).ok());
  EXPECT_FALSE(check_client_state(notes->at(0), {"other"}).ok());
}

TEST_F(BusinessCentralSimulatorTest, ManyChangesBecomeOneCollectionNotification) {
  auto receiver_ptr = notification_receiver();
  auto& receiver = *receiver_ptr;
  BusinessCentralSimulatorSettings settings;
  settings.collection_threshold = 2;
  settings.notification_delay = std::chrono::hours(1);  // flushed by hand
  start(settings);
  Subscription sub;
  sub.notification_url = receiver.url();
  sub.resource = "/api/v2.0/companies(" + sim_->company_id() + ")/salesInvoices";
  ASSERT_EQ(call("POST", sim_->api_url() + "/subscriptions", build_subscription(sub).dump()).status, 201);
  for (int i = 0; i < 3; ++i)
    create_invoice("MANY-" + std::to_string(i), {{"70000", "1", std::nullopt, std::nullopt, std::nullopt}});
  EXPECT_EQ(call("POST", "/_sim/notifications/flush").status, 200);
  auto got = bodies(receiver, 1);
  ASSERT_EQ(got.size(), 1u);
  auto notes = decode_notifications(got[0]);
  ASSERT_TRUE(notes.ok()) << notes.error().message;
  ASSERT_EQ(notes->size(), 1u);
  EXPECT_EQ(notes->at(0).change_type, "collection");
  EXPECT_NE(notes->at(0).resource.find("salesInvoices?$filter=lastModifiedDateTime"), std::string::npos);
  auto ref = parse_resource(notes->at(0).resource);
  ASSERT_TRUE(ref.ok());
  EXPECT_FALSE(ref->entity_id);
}

TEST_F(BusinessCentralSimulatorTest, RateLimitAnswers429WhenTheBucketIsEmpty) {
  BusinessCentralSimulatorSettings settings;
  settings.bucket_capacity = 5;
  settings.bucket_refill_per_second = 1;
  start(settings);
  for (int i = 0; i < 5; ++i) ASSERT_EQ(call("GET", "/locations").status, 200);
  auto throttled = call("GET", "/locations");
  EXPECT_EQ(throttled.status, 429);
  EXPECT_EQ(json::parse(throttled.body)["error"]["code"], "Application_TooManyRequests");
  EXPECT_TRUE(throttled.headers.get("Retry-After").empty());  // BC may send none
  EXPECT_EQ(inspect()["throttled_429"], 1);
  now_ns_ += 1'000'000'000;  // one second refills one request
  EXPECT_EQ(call("GET", "/locations").status, 200);
  EXPECT_EQ(call("GET", "/locations").status, 429);
}

TEST_F(BusinessCentralSimulatorTest, ConcurrencyBeyondTheQueueIs429AndAQueueTimeoutIs503) {
  BusinessCentralSimulatorSettings settings;
  settings.max_concurrent = 1;
  settings.max_queued = 1;
  settings.queue_timeout = std::chrono::milliseconds(100);
  start(settings);
  // Every answer takes 500 ms: the first runs, the second waits and times out, the third is refused.
  ASSERT_EQ(call("PUT", "/_sim/faults", R"({"latency_ms": 500})").status, 200);
  std::mutex mu;
  std::condition_variable cv;
  std::vector<int> statuses;
  for (int i = 0; i < 3; ++i) {
    http::OutboundRequest r;
    r.url = sim_->company_url() + "/locations";
    r.headers.add("Authorization", std::string("Bearer ") + kToken);
    client_.send_async(r, [&](Result<http::OutboundReply> reply) {
      std::lock_guard lock(mu);
      statuses.push_back(reply ? reply->status : 0);
      cv.notify_all();
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // arrival order, not synchronisation
  }
  std::unique_lock lock(mu);
  ASSERT_TRUE(cv.wait_for(lock, kBound, [&] { return statuses.size() == 3; }));
  std::multiset<int> got(statuses.begin(), statuses.end());
  EXPECT_EQ(got, (std::multiset<int>{200, 429, 503}));
}

TEST_F(BusinessCentralSimulatorTest, RunTimeFaultsFailEveryRequestThenRecover) {
  start();
  ASSERT_EQ(call("PUT", "/_sim/faults", R"({"error_share": 1.0, "error_status": 503})").status, 200);
  for (int i = 0; i < 5; ++i) {
    auto r = call("GET", "/items");
    EXPECT_EQ(r.status, 503);
    EXPECT_TRUE(json::parse(r.body)["error"].contains("code"));
  }
  // Nothing is done while failing.
  SalesDocumentDraft draft;
  draft.kind = SalesDocumentKind::invoice;
  draft.external_document_number = "FAIL-1";
  draft.customer_number = "10000";
  EXPECT_EQ(call("POST", "/salesInvoices", *build_sales_document(draft)).status, 503);
  EXPECT_EQ(json::parse(call("GET", "/_sim/documents").body)["documents"].size(), 0u);
  EXPECT_EQ(inspect()["injected_5xx"], 6);
  ASSERT_EQ(call("PUT", "/_sim/faults", R"({"error_share": 0})").status, 200);
  EXPECT_EQ(call("GET", "/items").status, 200);
}

TEST_F(BusinessCentralSimulatorTest, TimedOutCreateHappenedAndIsFoundByItsExternalDocumentNumber) {
  start();
  ASSERT_EQ(call("PUT", "/_sim/faults", R"({"timeout_share": 1, "timeout_hold_ms": 5000})").status, 200);
  SalesDocumentDraft draft;
  draft.kind = SalesDocumentKind::invoice;
  draft.external_document_number = "LOST-1";
  draft.customer_number = "10000";
  draft.lines = {{"70000", "1", std::nullopt, std::nullopt, std::nullopt}};
  http::OutboundRequest r;
  r.method = "POST";
  r.url = sim_->company_url() + "/salesInvoices";
  r.headers.add("Authorization", std::string("Bearer ") + kToken);
  r.headers.add("Content-Type", "application/json");
  r.body = *build_sales_document(draft);
  r.timeout = std::chrono::milliseconds(200);
  auto reply = client_.send(r);
  ASSERT_FALSE(reply.ok());
  EXPECT_EQ(reply.error().code, Errc::timeout);
  ASSERT_EQ(call("PUT", "/_sim/faults", R"({"timeout_share": 0})").status, 200);
  auto found = decode_sales_documents(
      call("GET", "/salesInvoices?" + url_encode(external_document_number_filter("LOST-1"))).body,
      SalesDocumentKind::invoice);
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(found->value.size(), 1u);  // the write happened: look up before creating again
  EXPECT_EQ(inspect()["timeouts"], 1);
}

TEST_F(BusinessCentralSimulatorTest, DuplicatedNotificationsAtRunTime) {
  auto receiver_ptr = notification_receiver();
  auto& receiver = *receiver_ptr;
  start();
  Subscription sub;
  sub.notification_url = receiver.url();
  sub.resource = "/api/v2.0/companies(" + sim_->company_id() + ")/salesInvoices";
  ASSERT_EQ(call("POST", sim_->api_url() + "/subscriptions", build_subscription(sub).dump()).status, 201);
  ASSERT_EQ(call("PUT", "/_sim/faults", R"({"webhooks": {"duplicate_share": 1}})").status, 200);
  create_invoice("DUP-1", {{"70000", "1", std::nullopt, std::nullopt, std::nullopt}});
  auto got = bodies(receiver, 2);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0], got[1]);  // the same notification twice
  ASSERT_TRUE(sim_->wait_notifications_idle(kBound));
  EXPECT_EQ(inspect()["webhooks"]["delivered"], 2);
}

TEST_F(BusinessCentralSimulatorTest, AdminInventoryWritesAdjustmentEntries) {
  start();
  auto set = call("PUT", "/_sim/inventory", R"({"itemNumber": "1896-S", "locationCode": "EAST", "quantity": 10})");
  ASSERT_EQ(set.status, 200) << set.body;
  auto entries = ledger_after(3);
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].entry_type, "Positive Adjmt.");
  EXPECT_EQ(entries[0].quantity, "8");
  ASSERT_EQ(
      call("PUT", "/_sim/inventory", R"({"itemNumber": "1896-S", "locationCode": "EAST", "quantity": 10})").status,
      200);
  EXPECT_TRUE(ledger_after(4).empty());  // already 10: nothing written
  auto down = call("POST", "/_sim/item_ledger_entries",
                   R"({"itemNumber": "1896-S", "locationCode": "MAIN", "quantity": -1.5})");
  ASSERT_EQ(down.status, 201);
  entries = ledger_after(4);
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].entry_type, "Negative Adjmt.");
  EXPECT_EQ(entries[0].quantity, "-1.5");
  auto inventory = connectors::parse_exact(call("GET", "/_sim/inventory").body);
  ASSERT_TRUE(inventory.ok());
  bool found = false;
  for (const auto& item : (*inventory)["items"]) {
    if (item["itemNumber"] != "1896-S") continue;
    found = true;
    EXPECT_EQ(*connectors::number_text(item["locations"]["MAIN"]), "2.5");
    EXPECT_EQ(*connectors::number_text(item["locations"]["EAST"]), "10");
  }
  EXPECT_TRUE(found);
  EXPECT_EQ(call("PUT", "/_sim/inventory", R"({"itemNumber": "NOPE", "quantity": 1})").status, 400);
}

TEST_F(BusinessCentralSimulatorTest, SeedAndConfigErrorsNameThePointer) {
  BusinessCentralSimulatorSettings settings;
  settings.access_token = kToken;
  auto s = seed();
  s["items"][0]["unitPrice"] = "1000.8";
  auto created = BusinessCentralSimulator::create(settings, s);
  ASSERT_FALSE(created.ok());
  EXPECT_NE(created.error().message.find("/items/0/unitPrice"), std::string::npos) << created.error().message;
  s = seed();
  s["items"][1]["inventory"]["NOWHERE"] = 1;
  created = BusinessCentralSimulator::create(settings, s);
  ASSERT_FALSE(created.ok());
  EXPECT_NE(created.error().message.find("/items/1/inventory/NOWHERE"), std::string::npos);
  auto config = apply_simulator_config(settings, json{{"page_size", 0}});
  ASSERT_FALSE(config.ok());
  EXPECT_NE(config.error().message.find("/page_size"), std::string::npos);
  config = apply_simulator_config(settings, json{{"environment", "sandbox"}, {"faults", {{"error_share", 0.5}}}});
  ASSERT_TRUE(config.ok());
  EXPECT_EQ(config->environment, "sandbox");
  EXPECT_EQ(config->faults.error_share, 0.5);
}

}  // namespace
}  // namespace trueup::connectors::business_central
