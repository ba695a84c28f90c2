// The registered "business-central" connector type, created from YAML like
// the daemon does, against the Business Central simulator in-process on port
// 0: request paths and the subscription plan (pure), the validationToken
// handshake and the clientState check, ledger polling by entry number with
// the cursor, and post_sale creating and posting exactly one invoice per
// externalDocumentNumber (repeated, against an existing draft, with unmapped
// ids, under 5xx faults).

#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "business_central_client.hpp"
#include "business_central_payloads.hpp"
#include "common/exact_json.hpp"
#include "common/tests/memory_ids.hpp"
#include "simulator.hpp"
#include "support/loopback_server.hpp"
#include "trueup/config/schema.hpp"
#include "trueup/connector/connector.hpp"
#include "trueup/http/outbound.hpp"
#include "trueup/http/server.hpp"
#include "trueup/metrics/registry.hpp"

namespace trueup::connectors::business_central {
namespace {

using nlohmann::json;
constexpr const char* kToken = "bc-test-token";
constexpr const char* kClientState = "client-state-0123456789";
constexpr const char* kCompany = "b18aed47-c385-49d2-b954-dbdf8ad71780";

model::Timestamp at(const std::string& text) { return *model::Timestamp::parse(text); }

ApiSettings api() {
  ApiSettings a;
  a.company_id = kCompany;
  return a;
}

TEST(BusinessCentralRequests, PathsAreTheCommonEndpointWithEncodedODataQueries) {
  ApiSettings a = api();
  EXPECT_EQ(company_path(a), std::string("/v2.0/production/api/v2.0/companies(") + kCompany + ")");
  a.tenant = "cronus.com";
  a.environment = "sandbox";
  EXPECT_EQ(api_path(a), "/v2.0/cronus.com/sandbox/api/v2.0");
  EXPECT_EQ(ledger_entries_path(api(), 42), company_path(api()) +
                                                "/itemLedgerEntries?$filter=entryNumber%20gt%2042"
                                                "&$orderby=entryNumber%20asc");
  // Quotes doubled (OData), then percent-encoded.
  EXPECT_EQ(document_lookup_path(api(), kSalesInvoices, "O'Brien #1"),
            company_path(api()) + "/salesInvoices?$filter=externalDocumentNumber%20eq%20%27O%27%27Brien%20%231%27");
  EXPECT_EQ(document_lookup_path(api(), kSalesOrders, "A"),
            company_path(api()) + "/salesOrders?$filter=externalDocumentNumber%20eq%20%27A%27");
  EXPECT_EQ(subscription_resource(api(), "items"), std::string("/api/v2.0/companies(") + kCompany + ")/items");
}

TEST(BusinessCentralRequests, ExternalDocumentNumberOver35CharactersIsADeterministicDigest) {
  const std::string short35(35, 'x');
  EXPECT_EQ(external_document_number_for(short35), short35);
  const std::string longer = "square-pos:KkAkhdMsgzn59SM8A89WgKwekxLZY";
  const std::string mapped = external_document_number_for(longer);
  EXPECT_EQ(mapped.size(), 35u);
  EXPECT_EQ(mapped.substr(0, 19), "square-pos:KkAkhdM~");
  EXPECT_EQ(mapped, external_document_number_for(longer));
  EXPECT_NE(mapped, external_document_number_for(longer + "2"));
  // A cut never splits a UTF-8 sequence: "é" is two bytes at 17..18.
  const std::string accented = std::string(17, 'a') + "\xC3\xA9" + std::string(30, 'b');
  EXPECT_EQ(external_document_number_for(accented).substr(0, 18), std::string(17, 'a') + "~");
}

TEST(BusinessCentralRequests, SubscriptionPlanCreatesMissingAndRenewsExpiringOrStale) {
  const std::string url = "https://trueup.example.com/v1/webhooks/bc";
  const auto now = at("2026-11-27T00:00:00Z");
  const std::string items = subscription_resource(api(), "items");
  const std::string invoices = subscription_resource(api(), "salesInvoices");
  const std::string customers = subscription_resource(api(), "customers");
  Subscription fresh{"a1", url, items.substr(1), std::string(kClientState), at("2026-11-29T12:00:00Z"), "W/\"1\""};
  Subscription expiring{"b2", url, invoices, std::string(kClientState), at("2026-11-27T20:00:00Z"), "W/\"2\""};
  Subscription other_url{
      "c3", "https://elsewhere/hook", customers, std::string(kClientState), at("2026-11-29T12:00:00Z"), "W/\"3\""};
  auto plan = plan_subscriptions({fresh, expiring, other_url}, {items, invoices, customers}, url, kClientState, now,
                                 std::chrono::hours(24));
  ASSERT_EQ(plan.size(), 2u);
  EXPECT_EQ(plan[0].kind, SubscriptionAction::Kind::renew);
  EXPECT_EQ(plan[0].resource, invoices);
  EXPECT_EQ(plan[0].existing->subscription_id, "b2");
  EXPECT_EQ(plan[1].kind, SubscriptionAction::Kind::create);
  EXPECT_EQ(plan[1].resource, customers);
  // A rotated clientState renews even a fresh subscription.
  auto rotated = plan_subscriptions({fresh}, {items}, url, "new-state", now, std::chrono::hours(24));
  ASSERT_EQ(rotated.size(), 1u);
  EXPECT_EQ(rotated[0].kind, SubscriptionAction::Kind::renew);
}

json seed() {
  return *parse_exact(std::string(R"({
    "company": {"id": ")") +
                      kCompany + R"(", "name": "CRONUS", "currency": "USD", "default_location_code": "MAIN"},
    "locations": [{"code": "MAIN"}, {"code": "EAST"}],
    "customers": [{"number": "10000"}, {"number": "POS"}],
    "items": [
      {"number": "1896-S", "unitPrice": 1000.8, "unitCost": 780.7, "taxPercent": 5, "inventory": {"MAIN": 4}},
      {"number": "1928-S", "unitPrice": 54.9, "taxPercent": 5, "inventory": {"MAIN": 30}}
    ]
  })");
}

// Hands POST /v1/webhooks/bc to the connector like the system API does
// (reply_body for the handshake), so the simulator's handshake reaches it.
class WebhookEndpoint {
 public:
  explicit WebhookEndpoint(connector::Connector*& connector) {
    router_.add_sync("POST", "/v1/webhooks/bc", [&connector, this](const http::Request& r) {
      connector::WebhookRequest request{r.body, connector::header_lookup(r.headers), "http://127.0.0.1" + r.target};
      auto receipt = connector->receive_webhook(request);
      std::lock_guard lock(mu_);
      if (!receipt) return http::Response::text(receipt.error().code == Errc::unauthenticated ? 401 : 400, "");
      if (receipt->reply_body) {
        ++handshakes;
        return http::Response::text(200, *receipt->reply_body, receipt->reply_content_type);
      }
      notifications += receipt->messages.size();
      return http::Response::json(200, "{}");
    });
    server_.start(router_);
  }
  std::string url() const { return server_.url("/v1/webhooks/bc"); }

  std::mutex mu_;
  int handshakes = 0;
  std::size_t notifications = 0;

 private:
  http::Router router_;
  trueup::testing::LoopbackServer server_;  // last: drains before what the handlers use goes
};

class BusinessCentralConnectorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ::setenv("BC_TEST_TOKEN", kToken, 1);
    ::setenv("BC_TEST_CLIENT_STATE", kClientState, 1);
    BusinessCentralSimulatorSettings settings;
    settings.access_token = kToken;
    settings.notification_delay = std::chrono::milliseconds(10);
    settings.page_size = 3;  // several pages per poll
    auto created = BusinessCentralSimulator::create(std::move(settings), seed());
    ASSERT_TRUE(created.ok()) << created.error().describe();
    sim = std::move(created).value();
    ASSERT_TRUE(sim->start().ok());
    ids.add("item", "1896-S", "SKU-DESK");
    ids.add("item", "1928-S", "SKU-LAMP");
    ids.add("location", "MAIN", "STORE-01");
    connector = make("");
    ASSERT_NE(connector, nullptr);
  }
  void TearDown() override {
    if (sim) sim->stop();
  }

  std::unique_ptr<connector::Connector> make(const std::string& extra_yaml) {
    const connector::ConnectorType* type = connector::find_type("business-central");
    EXPECT_NE(type, nullptr);
    if (type == nullptr) return nullptr;
    std::vector<config::Key> keys{config::required("id", config::Type::string, "instance id")};
    keys.insert(keys.end(), type->settings.begin(), type->settings.end());
    auto schema = std::make_shared<const config::Schema>(
        std::vector<config::Key>{config::section_list("business-central", "instances", keys)});
    const std::string yaml = "business-central:\n  - id: bc\n    api_base_url: " + sim->base_url() +
                             "\n    company_id: " + kCompany +
                             "\n    access_token: ${BC_TEST_TOKEN}\n    client_state: ${BC_TEST_CLIENT_STATE}\n"
                             "    customer_number: POS\n    default_location: MAIN\n    local_currency: USD\n" +
                             extra_yaml;
    auto loaded = config::load_text(schema, yaml, "bc-test.yaml");
    for (const auto& d : loaded.diagnostics) ADD_FAILURE() << d.format();
    if (!loaded.config) return nullptr;
    configs.push_back(std::make_unique<config::Config>(std::move(*loaded.config)));
    auto made = type->create("bc", configs.back()->root().sections("business-central")[0], services);
    if (!made) {
      last_error = made.error().message;
      return nullptr;
    }
    return std::move(made).value();
  }

  http::OutboundReply sim_call(const std::string& method, const std::string& path, const std::string& body = "") {
    http::OutboundRequest r;
    r.method = method;
    r.url = path.starts_with("/_sim") ? sim->base_url() + path : sim->company_url() + path;
    r.body = body;
    r.headers.add("Authorization", std::string("Bearer ") + kToken);
    if (!body.empty()) r.headers.add("Content-Type", "application/json");
    auto reply = http.send(r);
    EXPECT_TRUE(reply.ok());
    return reply ? *reply : http::OutboundReply{};
  }
  // A draft invoice of 3 x 1928-S created directly in BC; the HTTP status.
  int create_draft(const std::string& edn, const std::string& customer) {
    SalesDocumentDraft draft;
    draft.kind = SalesDocumentKind::invoice;
    draft.external_document_number = edn;
    draft.customer_number = customer;
    draft.lines.push_back({"1928-S", "3", std::nullopt, std::nullopt, std::nullopt});
    return sim_call("POST", "/salesInvoices", *build_sales_document(draft)).status;
  }
  json documents() { return json::parse(sim_call("GET", "/_sim/documents").body)["documents"]; }
  json inspect() { return json::parse(sim_call("GET", "/_sim/inspect").body); }

  connector::OutboundCall sale(const std::string& edn, const std::string& key, json lines = nullptr) {
    if (lines.is_null())
      lines = json::array(
          {{{"sku", "SKU-LAMP"}, {"quantity", "3"}, {"unit_price", {{"amount", "54.9"}, {"currency", "USD"}}}}});
    return connector::OutboundCall{"post_sale",
                                   {{"external_document_number", edn},
                                    {"order_id", "pos:" + edn},
                                    {"location", "STORE-01"},
                                    {"posting_date", "2026-11-26"},
                                    {"currency", "USD"},
                                    {"lines", lines}},
                                   key,
                                   std::chrono::steady_clock::now() + std::chrono::seconds(60)};
  }

  std::unique_ptr<BusinessCentralSimulator> sim;
  testing::MemoryIds ids{"business-central"};
  metrics::Registry registry;
  connector::ConnectorMetrics metrics{registry, "bc"};
  http::OutboundClient http{http::OutboundSettings{}};
  connector::BudgetRegistry budgets;
  connector::Services services{registry, metrics, http, budgets, ids};
  std::vector<std::unique_ptr<config::Config>> configs;
  std::unique_ptr<connector::Connector> connector;
  std::string last_error;
};

TEST_F(BusinessCentralConnectorTest, WithoutAccessTokenTheFactorySaysTokenAcquisitionIsNotBuilt) {
  ::unsetenv("BC_TEST_TOKEN");
  const connector::ConnectorType* type = connector::find_type("business-central");
  ASSERT_NE(type, nullptr);
  std::vector<config::Key> keys{config::required("id", config::Type::string, "instance id")};
  keys.insert(keys.end(), type->settings.begin(), type->settings.end());
  auto schema = std::make_shared<const config::Schema>(
      std::vector<config::Key>{config::section_list("business-central", "instances", keys)});
  auto loaded = config::load_text(
      schema, std::string("business-central:\n  - id: bc\n    company_id: ") + kCompany + "\n", "bc.yaml");
  ASSERT_TRUE(loaded.config.has_value());
  auto made = type->create("bc", loaded.config->root().sections("business-central")[0], services);
  ASSERT_FALSE(made.ok());
  EXPECT_NE(made.error().message.find("access_token"), std::string::npos);
  EXPECT_NE(made.error().message.find("not built"), std::string::npos);
  // Subscriptions need the notification URL.
  ::setenv("BC_TEST_TOKEN", kToken, 1);
  EXPECT_EQ(make("    subscriptions: [items]\n"), nullptr);
  EXPECT_NE(last_error.find("notification_url"), std::string::npos);
}

TEST_F(BusinessCentralConnectorTest, HandshakeEchoesTheTokenAndNotificationsNeedOurClientState) {
  connector::WebhookRequest handshake{"", [](std::string_view) { return std::optional<std::string_view>(); },
                                      "https://trueup.example.com/v1/webhooks/bc?validationToken=abc%2B1%3D"};
  auto answered = connector->receive_webhook(handshake);
  ASSERT_TRUE(answered.ok());
  EXPECT_TRUE(answered->messages.empty());
  ASSERT_TRUE(answered->reply_body.has_value());
  EXPECT_EQ(*answered->reply_body, "abc+1=");
  EXPECT_EQ(answered->reply_content_type.rfind("text/plain", 0), 0u);

  auto body = [](const std::string& state) {
    return json{{"value",
                 {{{"subscriptionId", "sub1"},
                   {"clientState", state},
                   {"expirationDateTime", "2026-11-30T00:00:00Z"},
                   {"resource", std::string("api/v2.0/companies(") + kCompany +
                                    ")/salesInvoices(5d115c9c-44e3-ea11-bb43-000d3a2feca1)"},
                   {"changeType", "updated"},
                   {"lastModifiedDateTime", "2026-11-27T01:02:03.4Z"}}}}}
        .dump();
  };
  const auto none = [](std::string_view) { return std::optional<std::string_view>(); };
  const std::string good = body(kClientState);
  auto received = connector->receive_webhook({good, none, "https://trueup.example.com/v1/webhooks/bc"});
  ASSERT_TRUE(received.ok()) << received.error().describe();
  ASSERT_EQ(received->messages.size(), 1u);
  EXPECT_EQ(received->messages[0].topic, "updated");
  EXPECT_EQ(received->messages[0].dedupe_key.rfind("notification:sub1:", 0), 0u);
  EXPECT_EQ(received->messages[0].payload.find(kClientState), std::string::npos);  // the secret is not kept
  auto again = connector->receive_webhook({good, none, "https://trueup.example.com/v1/webhooks/bc"});
  EXPECT_EQ(again->messages[0].dedupe_key, received->messages[0].dedupe_key);
  // Recorded, not applied: stock comes from the ledger poll.
  auto mapped = connector->map(received->messages[0], ids);
  ASSERT_FALSE(mapped.ok());
  EXPECT_EQ(mapped.error().kind, MappingErrorKind::unsupported);

  const std::string wrong = body("client-state-0123456788");
  auto refused = connector->receive_webhook({wrong, none, "https://trueup.example.com/v1/webhooks/bc"});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, Errc::unauthenticated);
  auto garbage = connector->receive_webhook({"not json", none, "https://trueup.example.com/v1/webhooks/bc"});
  ASSERT_FALSE(garbage.ok());
  EXPECT_EQ(garbage.error().code, Errc::unauthenticated);

  // During a rotation the previous clientState is accepted too.
  ::setenv("BC_TEST_OLD_STATE", "client-state-0123456788", 1);
  auto rotated = make("    previous_client_state: ${BC_TEST_OLD_STATE}\n");
  ASSERT_NE(rotated, nullptr);
  EXPECT_TRUE(rotated->receive_webhook({wrong, none, "https://trueup.example.com/v1/webhooks/bc"}).ok());
}

TEST_F(BusinessCentralConnectorTest, PollReadsEveryPageAfterTheCursorAsSignedMovements) {
  ASSERT_EQ(sim_call("POST", "/_sim/item_ledger_entries", R"({"itemNumber":"1928-S","quantity":-2})").status, 201);
  auto first = connector->poll("");
  ASSERT_TRUE(first.ok()) << first.error().describe();
  // Opening stock of two items and the adjustment, over pages of 3.
  ASSERT_EQ(first->messages.size(), 3u);
  EXPECT_EQ(first->messages[0].dedupe_key, "ile:1");
  EXPECT_EQ(first->messages[2].dedupe_key, "ile:3");
  EXPECT_EQ(first->cursor, "3");
  auto mapped = connector->map(*connector->complete(first->messages[2]), ids);
  ASSERT_TRUE(mapped.ok()) << mapped.error().message;
  ASSERT_EQ(mapped->movements.size(), 1u);
  EXPECT_EQ(mapped->movements[0].sku, "SKU-LAMP");
  EXPECT_EQ(mapped->movements[0].location, "STORE-01");
  EXPECT_EQ(mapped->movements[0].quantity_delta->to_string(), "-2");
  EXPECT_EQ(mapped->movements[0].source_system, "business-central");

  for (int i = 0; i < 5; ++i)
    ASSERT_EQ(sim_call("POST", "/_sim/item_ledger_entries", R"({"itemNumber":"1896-S","quantity":1})").status, 201);
  auto second = connector->poll(first->cursor);
  ASSERT_TRUE(second.ok());
  ASSERT_EQ(second->messages.size(), 5u);  // two pages, nothing from before the cursor
  EXPECT_EQ(second->messages.front().dedupe_key, "ile:4");
  EXPECT_EQ(second->cursor, "8");
  auto third = connector->poll(second->cursor);
  ASSERT_TRUE(third.ok());
  EXPECT_TRUE(third->messages.empty());
  EXPECT_EQ(third->cursor, "8");
  EXPECT_FALSE(connector->poll("eight").ok());
}

TEST_F(BusinessCentralConnectorTest, PostSaleCreatesAndPostsOnceAndItsLedgerEntriesNameTheOrder) {
  auto answer = connector->perform(sale("R-1001", "wf-1:perform"));
  ASSERT_TRUE(answer.ok()) << answer.error().describe();
  EXPECT_EQ((*answer)["status"], "Open");
  EXPECT_EQ((*answer)["external_document_number"], "R-1001");
  const std::string number = (*answer)["number"];
  EXPECT_EQ(number.rfind("PS-", 0), 0u) << number;
  // The same sale again, under another key (a second request): nothing new.
  auto repeated = connector->perform(sale("R-1001", "wf-2:perform"));
  ASSERT_TRUE(repeated.ok()) << repeated.error().describe();
  EXPECT_EQ((*repeated)["id"], (*answer)["id"]);
  const json docs = documents();
  ASSERT_EQ(docs.size(), 1u);
  EXPECT_EQ(docs[0]["posts"], 1);
  EXPECT_EQ(docs[0]["totalAmountIncludingTax"].dump(), "172.94");
  EXPECT_EQ(inspect()["keys"]["posted_external_document_number"]["R-1001"], 1) << inspect().dump();

  // The posted sale's ledger entry maps with the order it came from.
  auto polled = connector->poll("2");
  ASSERT_TRUE(polled.ok());
  ASSERT_EQ(polled->messages.size(), 1u);
  auto completed = connector->complete(polled->messages[0]);
  ASSERT_TRUE(completed.ok()) << completed.error().describe();
  auto mapped = connector->map(*completed, ids);
  ASSERT_TRUE(mapped.ok()) << mapped.error().message;
  EXPECT_EQ(mapped->movements[0].kind, model::MovementKind::sale);
  EXPECT_EQ(mapped->movements[0].quantity_delta->to_string(), "-3");
  EXPECT_EQ(mapped->movements[0].order_id, "pos:R-1001");
}

TEST_F(BusinessCentralConnectorTest, PostReturnBooksOneCreditMemoAndItsEntryIsAReturnOfTheOrder) {
  ASSERT_TRUE(connector->perform(sale("R-2001", "wf-s")).ok());
  connector::OutboundCall refund =
      sale("R-2001-RET", "wf-r:perform", json::array({{{"sku", "SKU-LAMP"}, {"quantity", "1"}}}));
  refund.operation = "post_return";
  refund.input["order_id"] = "pos:R-2001";
  auto answer = connector->perform(refund);
  ASSERT_TRUE(answer.ok()) << answer.error().describe();
  EXPECT_EQ((*answer)["document"], "salesCreditMemos");
  EXPECT_EQ((*answer)["status"], "Open");
  refund.idempotency_key = "wf-r2:perform";  // the same return requested again
  auto again = connector->perform(refund);
  ASSERT_TRUE(again.ok()) << again.error().describe();
  EXPECT_EQ((*again)["id"], (*answer)["id"]);
  EXPECT_EQ(inspect()["keys"]["posted_external_document_number"]["R-2001-RET"], 1) << inspect().dump();

  // Entries 1-2 are the opening stock, 3 the sale, 4 the return.
  auto polled = connector->poll("3");
  ASSERT_TRUE(polled.ok()) << polled.error().describe();
  ASSERT_EQ(polled->messages.size(), 1u);
  auto completed = connector->complete(polled->messages[0]);
  ASSERT_TRUE(completed.ok()) << completed.error().describe();
  auto mapped = connector->map(*completed, ids);
  ASSERT_TRUE(mapped.ok()) << mapped.error().message;
  EXPECT_EQ(mapped->movements[0].kind, model::MovementKind::return_);
  EXPECT_EQ(mapped->movements[0].quantity_delta->to_string(), "1");
  EXPECT_EQ(mapped->movements[0].order_id, "pos:R-2001");
}

TEST_F(BusinessCentralConnectorTest, WithOrdersPostSaleShipsAndInvoicesOnceAndFindsTheInvoiceAfter) {
  auto orders = make("    document_kind: order\n");
  ASSERT_NE(orders, nullptr) << last_error;
  auto answer = orders->perform(sale("W-3001", "wf-o1"));
  ASSERT_TRUE(answer.ok()) << answer.error().describe();
  // The shipped and invoiced order became a posted invoice with its externalDocumentNumber.
  EXPECT_EQ((*answer)["document"], "salesInvoices");
  EXPECT_EQ((*answer)["status"], "Open");
  auto again = orders->perform(sale("W-3001", "wf-o2"));
  ASSERT_TRUE(again.ok()) << again.error().describe();
  EXPECT_EQ((*again)["id"], (*answer)["id"]);
  EXPECT_EQ(inspect()["keys"]["external_document_number"]["W-3001"], 1) << inspect().dump();
  EXPECT_EQ(inspect()["keys"]["posted_external_document_number"]["W-3001"], 1) << inspect().dump();
}

TEST_F(BusinessCentralConnectorTest, PostSaleAlignsAnExistingDraftThenPostsIt) {
  // A draft left by an earlier attempt (another customer, no posting date).
  ASSERT_EQ(create_draft("O'Brien-7", "10000"), 201);
  auto answer = connector->perform(sale("O'Brien-7", "wf-3:perform"));
  ASSERT_TRUE(answer.ok()) << answer.error().describe();
  const json docs = documents();
  ASSERT_EQ(docs.size(), 1u);
  EXPECT_EQ(docs[0]["posts"], 1);
  EXPECT_EQ(inspect()["keys"]["external_document_number"]["O'Brien-7"], 1);
  auto invoice = decode_sales_documents(
      sim_call("GET", "/salesInvoices(" + (*answer)["id"].get<std::string>() + ")").body, SalesDocumentKind::invoice);
  ASSERT_TRUE(invoice.ok());
  EXPECT_EQ(invoice->value[0].customer_number, "POS");
  EXPECT_EQ(invoice->value[0].posting_date, "2026-11-26");
}

TEST_F(BusinessCentralConnectorTest, TwoDraftsOfOneSaleLeaveTheOldestPostedAndTheNewerDeleted) {
  // What two instances racing on one sale leave behind: two drafts.
  ASSERT_EQ(create_draft("R-RACE", "POS"), 201);
  ASSERT_EQ(create_draft("R-RACE", "POS"), 201);
  auto answer = connector->perform(sale("R-RACE", "k"));
  ASSERT_TRUE(answer.ok()) << answer.error().describe();
  EXPECT_EQ((*answer)["status"], "Open");
  const json docs = documents();
  ASSERT_EQ(docs.size(), 1u) << docs.dump();
  EXPECT_EQ(docs[0]["posts"], 1);
  EXPECT_EQ(inspect()["keys"]["posted_external_document_number"]["R-RACE"], 1);
}

TEST_F(BusinessCentralConnectorTest, TwoInstancesPostingOneSaleAtOnceBookItOnce) {
  auto other = make("");
  ASSERT_NE(other, nullptr);
  for (int round = 0; round < 5; ++round) {
    const std::string edn = "R-TWICE-" + std::to_string(round);
    Result<json> a = make_error(Errc::internal, ""), b = make_error(Errc::internal, "");
    std::thread first([&] { a = connector->perform(sale(edn, "wf-a")); });
    std::thread second([&] { b = other->perform(sale(edn, "wf-b")); });
    first.join();
    second.join();
    ASSERT_TRUE(a.ok()) << a.error().describe();
    ASSERT_TRUE(b.ok()) << b.error().describe();
    EXPECT_EQ((*a)["id"], (*b)["id"]);
    EXPECT_EQ(inspect()["keys"]["posted_external_document_number"][edn], 1) << inspect().dump();
  }
  int posted = 0;
  for (const auto& d : documents()) posted += d["posts"].get<int>();
  EXPECT_EQ(posted, 5);
}

TEST_F(BusinessCentralConnectorTest, PostSaleNamesEveryMissingMappingAndRefusesBadInput) {
  auto unmapped = connector->perform(sale(
      "R-2", "k", json::array({{{"sku", "SKU-NONE"}, {"quantity", "1"}}, {{"sku", "SKU-LAMP"}, {"quantity", "1"}}})));
  ASSERT_FALSE(unmapped.ok());
  EXPECT_EQ(unmapped.error().code, Errc::not_found);
  EXPECT_NE(unmapped.error().message.find("SKU-NONE"), std::string::npos);
  EXPECT_TRUE(documents().empty());  // nothing written

  auto bad = connector->perform(sale("R-3", "k", json::array({{{"sku", "SKU-LAMP"}, {"quantity", "1.5e3"}}})));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, Errc::invalid_argument);
  EXPECT_NE(bad.error().message.find("lines/0/quantity"), std::string::npos);
}

TEST_F(BusinessCentralConnectorTest, PostSaleUnderFaultsEndsWithOneInvoicePostedOnce) {
  // 5xx without doing anything, and writes done but answered after the
  // connector stopped waiting (its request_timeout is 1 s).
  connector = make("    request_timeout: 1s\n");
  ASSERT_NE(connector, nullptr) << last_error;
  ASSERT_EQ(
      sim_call("PUT", "/_sim/faults", R"({"error_share":0.2,"timeout_share":0.2,"timeout_hold_ms":1500,"seed":11})")
          .status,
      200);
  // Six sales, each called like the workflow retries it: the same call
  // until it succeeds.
  constexpr int kSales = 6;
  for (int i = 0; i < kSales; ++i) {
    const std::string edn = "R-FAULT-" + std::to_string(i);
    Result<json> answer = make_error(Errc::unavailable, "not tried");
    for (int attempts = 0; attempts < 40; ++attempts) {
      answer = connector->perform(sale(edn, "wf-9" + std::to_string(i) + ":perform"));
      if (answer || !answer.error().retryable()) break;
    }
    ASSERT_TRUE(answer.ok()) << edn << ": " << answer.error().describe();
  }
  const json seen = inspect();
  EXPECT_GT(seen.value("injected_5xx", 0), 0) << "the faults were on";
  EXPECT_GT(seen.value("timeouts", 0), 0) << seen.dump();
  ASSERT_EQ(sim_call("PUT", "/_sim/faults", R"({"error_share":0,"timeout_share":0})").status, 200);
  const json docs = documents();
  ASSERT_EQ(docs.size(), static_cast<std::size_t>(kSales)) << docs.dump();
  for (const auto& d : docs) EXPECT_EQ(d["posts"], 1) << d.dump();
  for (int i = 0; i < kSales; ++i)
    EXPECT_EQ(seen["keys"]["posted_external_document_number"]["R-FAULT-" + std::to_string(i)], 1);
}

TEST_F(BusinessCentralConnectorTest, SubscriptionsAreCreatedThroughTheHandshakeAndRenewedBeforeExpiry) {
  connector::Connector* current = nullptr;
  WebhookEndpoint endpoint(current);
  auto subscribed = make("    subscriptions: [items, salesInvoices]\n    notification_url: " + endpoint.url() +
                         "\n    poll_interval: 1s\n    subscription_check_interval: 1s\n");
  ASSERT_NE(subscribed, nullptr) << last_error;
  current = subscribed.get();
  ASSERT_TRUE(subscribed->poll("").ok());
  {
    std::lock_guard lock(endpoint.mu_);
    EXPECT_EQ(endpoint.handshakes, 2);
  }
  http::OutboundRequest list;
  list.url = sim->api_url() + "/subscriptions";
  list.headers.add("Authorization", std::string("Bearer ") + kToken);
  auto subs = decode_subscriptions(http.send(list)->body);
  ASSERT_TRUE(subs.ok());
  ASSERT_EQ(subs->value.size(), 2u);
  EXPECT_EQ(subs->value[0].client_state, kClientState);
  EXPECT_EQ(inspect()["keys"]["subscription_handshake"]["ok"], 2);

  // Within renew_before of their expiry (here: at once) both are renewed:
  // PATCH with If-Match, a handshake each. A new instance checks at its
  // first poll.
  auto renewing = make("    subscriptions: [items, salesInvoices]\n    notification_url: " + endpoint.url() +
                       "\n    poll_interval: 1s\n    subscription_renew_before: 72h\n");
  ASSERT_NE(renewing, nullptr) << last_error;
  current = renewing.get();
  ASSERT_TRUE(renewing->poll("").ok());
  EXPECT_EQ(inspect()["keys"]["subscription_handshake"]["ok"], 4);
  auto renewed = decode_subscriptions(http.send(list)->body);
  ASSERT_EQ(renewed->value.size(), 2u);  // renewed, not created again

  // A change to a subscribed set is notified, and accepted with our clientState.
  ASSERT_TRUE(connector->perform(sale("R-NOTE", "k")).ok());
  sim->flush_notifications();
  ASSERT_TRUE(sim->wait_notifications_idle(std::chrono::seconds(10)));
  std::lock_guard lock(endpoint.mu_);
  EXPECT_GE(endpoint.notifications, 1u);
}

}  // namespace
}  // namespace trueup::connectors::business_central
