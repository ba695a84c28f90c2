// The business-central connector through the real binary on PostgreSQL
// against `trueup sim business-central` (a process of its own): the item
// ledger polled into stock_position, the webhook subscription's
// validationToken handshake against the daemon's own /v1/webhooks/{id}, and
// post_sale started twice for one sale (two Idempotency-Keys) while the
// simulator fails a share of its requests: exactly one invoice, posted once,
// and its ledger entry moves the stock; a return through post_return (one
// credit memo); BC's notifications recorded, a wrong clientState refused.
//
// The flow with `trueup sim square` as the POS and BC as the ERP (erp:):
// Square receipts booked once each (per receipt) and a POS return booked as
// one credit memo; per store batch, the receipts of each store booked as one
// document; in both, the ERP's ledger entries replace every provisional
// movement and stock_position ends at the ERP's on-hand.

#include <gtest/gtest.h>
#include <signal.h>

#include <cctype>
#include <chrono>
#include <cstdio>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>
#include <tuple>
#include <vector>

#include "support/daemon.hpp"
#include "support/http_client.hpp"
#include "support/process.hpp"
#include "support/test_env.hpp"

namespace trueup::testing {
namespace {

using nlohmann::json;
constexpr const char* kToken = "bc_e2e_token";
constexpr const char* kClientState = "bc-e2e-client-state-0001";

// A company id of this run's own: the simulator derives every record id from
// it, and movement ids (business-central:ile:<entry id>) are deduplicated
// across runs in the database.
std::string company_id(const std::string& run) {
  char hex[13];
  std::snprintf(hex, sizeof hex, "%012llx",
                static_cast<unsigned long long>(std::hash<std::string>{}(run)&0xFFFFFFFFFFFFULL));
  return std::string("b18aed47-c385-49d2-b954-") + hex;
}

std::string instance_id(const std::string& prefix) {
  std::string id = unique_name(prefix);
  for (auto& ch : id)
    if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9'))) ch = '-';
  return id.substr(0, 60);
}

// The simulator with a seed of this run's own item numbers and location
// codes (the crosswalk keeps earlier runs' mappings; a poll before this run's
// mappings exist must park, not land on an earlier run's SKU), ledger entries
// with locationCode, and notifications after 200 ms.
std::unique_ptr<Process> start_bc_sim(std::uint16_t port, const std::string& company, const std::string& suffix) {
  const std::string dir = make_temp_dir("trueup-bc-sim-");
  write_file(dir + "/sim.json", R"({"ledger_location_code": true, "notification_delay_ms": 200})");
  const json seed{
      {"company", {{"id", company}, {"name", "CRONUS"}, {"currency", "USD"}, {"default_location_code", "M" + suffix}}},
      {"locations", json::array({{{"code", "M" + suffix}}, {{"code", "E" + suffix}}})},
      {"customers", json::array({{{"number", "POS"}}})},
      {"items", json::array({{{"number", "L" + suffix},
                              {"unitPrice", 54.9},
                              {"taxPercent", 5},
                              {"inventory", {{"M" + suffix, 30}, {"E" + suffix, 6}}}},
                             {{"number", "D" + suffix}, {"unitPrice", 1000}, {"inventory", {{"E" + suffix, 2}}}}})}};
  write_file(dir + "/seed.json", seed.dump());
  auto sim = std::make_unique<Process>(
      std::vector<std::string>{trueup_binary(), "sim", "business-central", "--port", std::to_string(port), "--seed",
                               dir + "/seed.json", "--config", dir + "/sim.json"},
      std::map<std::string, std::string>{{"BC_ACCESS_TOKEN", kToken}}, dir);
  HttpClient bc("127.0.0.1", port);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline && sim->running()) {
    auto r = bc.get("/_sim/inspect");
    if (r && r->status == 200) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(sim->running()) << sim->stderr_text();
  return sim;
}

TEST(BusinessCentralE2E, LedgerPolledHandshakeDoneAndPostSaleBooksOneInvoiceUnderFaults) {
  const std::string pg = require_pg_url();
  ASSERT_FALSE(pg.empty());
  const std::string id = instance_id("bc");
  // BC item numbers hold 20 characters, location codes 10.
  const std::string suffix = id.substr(id.size() > 9 ? id.size() - 9 : 0);
  const std::uint16_t sim_port = free_port();
  const std::string company = company_id(id);
  auto sim = start_bc_sim(sim_port, company, suffix);
  ASSERT_FALSE(HasFatalFailure());
  HttpClient bc("127.0.0.1", sim_port);

  Daemon d;
  d.port = free_port();
  start_daemon(
      d,
      "instance_id: " + id +
          "\nhttp:\n  port: ${PORT}\n  access_log: false\n"
          "api:\n  allow_anonymous: true\nworkflow:\n  poll_interval: 200ms\n"
          "store:\n  postgres:\n    url: ${E2E_PG}\n"
          "connectors:\n  business-central:\n    - id: " +
          id + "\n      api_base_url: http://127.0.0.1:" + std::to_string(sim_port) + "\n      company_id: " + company +
          "\n      access_token: ${BC_TOKEN}\n      client_state: ${BC_CLIENT_STATE}\n"
          "      customer_number: POS\n      local_currency: USD\n      poll_interval: 1s\n      request_timeout: 2s\n"
          "      subscriptions: [salesInvoices]\n      subscription_check_interval: 1s\n"
          "      notification_url: http://127.0.0.1:" +
          std::to_string(d.port) + "/v1/webhooks/" + id + "\n",
      {{"E2E_PG", pg}, {"BC_TOKEN", kToken}, {"BC_CLIENT_STATE", kClientState}});
  ASSERT_FALSE(HasFatalFailure());
  HttpClient client("127.0.0.1", d.port);

  EXPECT_EQ(listed_operations(d.port, id),
            (std::vector<std::string>{"post_sale/natural_key", "post_return/natural_key"}));

  // Canonical SKUs and locations of this run (the database keeps earlier runs').
  const std::string lamp = id + "-LAMP", desk = id + "-DESK", main = id + "-MAIN", east = id + "-EAST";
  for (const auto& [entity, external, canonical] :
       std::vector<std::tuple<std::string, std::string, std::string>>{{"item", "L" + suffix, lamp},
                                                                      {"item", "D" + suffix, desk},
                                                                      {"location", "M" + suffix, main},
                                                                      {"location", "E" + suffix, east}}) {
    auto put = client.request("PUT", "/v1/crosswalk/business-central/" + entity + "/" + external,
                              json{{"canonical_id", canonical}}.dump());
    ASSERT_TRUE(put);
    ASSERT_EQ(put->status, 200) << put->body;
  }
  // The seed's opening stock, polled (messages parked until the
  // mappings above exist, then replayed).
  const auto on_hand = [&](const std::string& sku, const std::string& location) {
    return "SELECT on_hand_e5 FROM stock_position WHERE sku = '" + sku + "' AND location = '" + location + "'";
  };
  EXPECT_TRUE(eventually(pg, on_hand(lamp, main), "3000000", std::chrono::seconds(120)));
  EXPECT_TRUE(eventually(pg, on_hand(lamp, east), "600000", std::chrono::seconds(60)));
  EXPECT_TRUE(eventually(pg, on_hand(desk, east), "200000", std::chrono::seconds(60)));

  // The subscription exists: BC's handshake reached the daemon and was answered.
  const auto inspect = [&] {
    auto r = bc.get("/_sim/inspect");
    return r && r->status == 200 ? json::parse(r->body) : json::object();
  };
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (inspect()["keys"]["subscription_handshake"].value("ok", 0) < 1 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_GE(inspect()["keys"]["subscription_handshake"].value("ok", 0), 1) << inspect().dump();

  // One sale, requested twice with two Idempotency-Keys while BC answers 20%
  // of its requests 5xx and holds 15% done but unanswered past the
  // connector's request_timeout.
  ASSERT_EQ(
      bc.request("PUT", "/_sim/faults", R"({"error_share":0.2,"timeout_share":0.15,"timeout_hold_ms":2500,"seed":5})")
          ->status,
      200);
  const std::string edn = "R-" + id.substr(id.size() - 12);
  const json sale{
      {"external_document_number", edn},
      {"location", main},
      {"posting_date", "2026-11-26"},
      {"currency", "USD"},
      {"lines",
       json::array({{{"sku", lamp}, {"quantity", "3"}, {"unit_price", {{"amount", "54.9"}, {"currency", "USD"}}}}})}};
  const std::string path = "/v1/connectors/" + id + "/operations/post_sale";
  std::vector<std::string> workflows;
  for (const char* key : {"-a", "-b"}) {
    auto r = client.request("POST", path, sale.dump(), {{"Idempotency-Key", id + key}});
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 202) << r->body;
    workflows.push_back(json::parse(r->body)["workflow_id"]);
  }
  ASSERT_NE(workflows[0], workflows[1]);
  for (const auto& w : workflows)
    // Bounded by the retry policy: a streak of faults means backoffs of up
    // to 100 s between attempts.
    EXPECT_TRUE(eventually(pg, "SELECT state FROM trueup_workflow WHERE id = '" + w + "'", "completed",
                           std::chrono::seconds(480)))
        << psql(pg, "SELECT reason FROM trueup_exception WHERE ref_id = '" + w + "'");
  ASSERT_EQ(bc.request("PUT", "/_sim/faults", R"({"error_share":0,"timeout_share":0})")->status, 200);

  const json seen = inspect();
  EXPECT_GT(seen.value("injected_5xx", 0), 0) << "the faults were on";
  EXPECT_GT(seen.value("timeouts", 0), 0) << seen.dump();
  EXPECT_EQ(seen["keys"]["posted_external_document_number"].value(edn, 0), 1) << seen.dump();
  EXPECT_EQ(seen["keys"]["external_document_number"].value(edn, 0), 1) << seen.dump();
  auto docs = bc.get("/_sim/documents");
  ASSERT_TRUE(docs);
  int mine = 0;
  const json documents = json::parse(docs->body);
  for (const auto& doc : documents["documents"])
    if (doc["externalDocumentNumber"] == edn) {
      ++mine;
      EXPECT_EQ(doc["posts"], 1);
      EXPECT_EQ(doc["status"], "Open");
    }
  EXPECT_EQ(mine, 1);
  // Its ledger entry (-3 at MAIN) is polled into the position.
  EXPECT_TRUE(eventually(pg, on_hand(lamp, main), "2700000", std::chrono::seconds(120)));

  // One lamp comes back: a credit memo, posted once, however often asked.
  json refund = sale;
  refund["external_document_number"] = edn + "-R";
  refund["lines"] = json::array({{{"sku", lamp}, {"quantity", "1"}}});
  for (const char* key : {"-ra", "-rb"}) {
    auto r = client.request("POST", "/v1/connectors/" + id + "/operations/post_return", refund.dump(),
                            {{"Idempotency-Key", id + key}});
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 202) << r->body;
    EXPECT_TRUE(eventually(
        pg,
        "SELECT state FROM trueup_workflow WHERE id = '" + json::parse(r->body)["workflow_id"].get<std::string>() + "'",
        "completed", std::chrono::seconds(120)));
  }
  EXPECT_EQ(inspect()["keys"]["posted_external_document_number"].value(edn + "-R", 0), 1) << inspect().dump();

  // The invoice's changes were notified to the daemon (clientState checked)
  // and recorded; a notification with another clientState is refused.
  EXPECT_TRUE(eventually(
      pg, "SELECT count(*) > 0 FROM trueup_inbox WHERE source = '" + id + "' AND dedupe_key LIKE 'notification:%'", "t",
      std::chrono::seconds(60)));
  const json forged{{"value",
                     {{{"subscriptionId", "0123456789abcdef0123456789abcdef"},
                       {"clientState", "not-our-client-state"},
                       {"resource", "api/v2.0/companies(" + company + ")/salesInvoices"},
                       {"changeType", "collection"},
                       {"lastModifiedDateTime", "2026-11-27T00:00:00Z"}}}}};
  auto refused = client.request("POST", "/v1/webhooks/" + id, forged.dump(), {{"Content-Type", "application/json"}});
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 401) << refused->body;
  EXPECT_TRUE(eventually(pg, on_hand(lamp, main), "2800000", std::chrono::seconds(120)));

  stop_daemon(d);
  sim->signal(SIGTERM);
  EXPECT_TRUE(sim->wait(std::chrono::seconds(30)).has_value());
}

// ---- Square POS sales and returns booked in Business Central ---------------

constexpr const char* kSquareToken = "EAAAsquare_bc_e2e_token";
constexpr const char* kSquareKey = "square-bc-e2e-signature-key";

// Square-style ids of this run: upper-case letters and digits.
std::string square_id(const std::string& prefix, const std::string& run) {
  std::string id = prefix;
  for (char ch : run)
    if ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9')) id.push_back(static_cast<char>(std::toupper(ch)));
  return id;
}

// A retail estate of this run's own: two stores selling a tee and a cap on
// Square, the same stores and items in BC (whose opening stock is the
// on-hand), the daemon linking them with `erp:` set to `erp_yaml`.
class PosToErpE2E : public ::testing::Test {
 protected:
  void start(const std::string& prefix, const std::string& erp_yaml) {
    pg = require_pg_url();
    ASSERT_FALSE(pg.empty());
    id = instance_id(prefix).substr(0, 40);
    const std::string suffix = id.substr(id.size() > 9 ? id.size() - 9 : 0);
    bc_id = id + "-bc";
    sq_id = id + "-sq";
    store1 = id + "-s1";
    store2 = id + "-s2";
    tee = id + "-tee";
    cap = id + "-cap";
    loc1 = square_id("LA", id);
    loc2 = square_id("LB", id);
    d.port = free_port();
    const std::string webhook = "http://127.0.0.1:" + std::to_string(d.port) + "/v1/webhooks/" + sq_id;

    // BC: items T<suffix> (tee) and C<suffix> (cap), locations A<suffix> and B<suffix>.
    const std::uint16_t bc_port = free_port();
    const std::string bc_dir = make_temp_dir("trueup-bc-pos-");
    write_file(bc_dir + "/sim.json", R"({"ledger_location_code": true})");
    const json bc_seed{
        {"company", {{"id", company_id(id)}, {"name", "CRONUS"}, {"currency", "USD"}}},
        {"locations", json::array({{{"code", "A" + suffix}}, {{"code", "B" + suffix}}})},
        {"customers", json::array({{{"number", "POS"}}})},
        {"items",
         json::array(
             {{{"number", "T" + suffix}, {"unitPrice", 25}, {"inventory", {{"A" + suffix, 20}, {"B" + suffix, 15}}}},
              {{"number", "C" + suffix}, {"unitPrice", 9}, {"inventory", {{"A" + suffix, 10}}}}})}};
    write_file(bc_dir + "/seed.json", bc_seed.dump());
    bc_process = start_simulator("business-central", bc_port,
                                 {"--seed", bc_dir + "/seed.json", "--config", bc_dir + "/sim.json"},
                                 {{"BC_ACCESS_TOKEN", kToken}});
    ASSERT_FALSE(HasFatalFailure());
    bc = std::make_unique<HttpClient>("127.0.0.1", bc_port);

    // Square: the same two stores and items (the variations' SKUs are the canonical ones).
    const std::uint16_t sq_port = free_port();
    const auto variation = [&](const std::string& item, const std::string& var, const std::string& sku, int cents) {
      return json{{"id", square_id(item, id)},
                  {"name", item},
                  {"variations", json::array({{{"id", square_id(var, id)},
                                               {"name", "One"},
                                               {"sku", sku},
                                               {"price_money", {{"amount", cents}, {"currency", "USD"}}}}})}};
    };
    // The shelves as BC has them (Square's counts are only observed).
    const auto count = [&](const std::string& var, const std::string& location, const std::string& quantity) {
      return json{{"catalog_object_id", square_id(var, id)}, {"location_id", location}, {"quantity", quantity}};
    };
    const json sq_seed{
        {"merchant", {{"id", square_id("M", id)}, {"currency", "USD"}}},
        {"locations", json::array({{{"id", loc1}, {"name", "One"}}, {{"id", loc2}, {"name", "Two"}}})},
        {"items", json::array({variation("IT", "VT", tee, 2500), variation("IC", "VC", cap, 900)})},
        {"inventory_counts", json::array({count("VT", loc1, "20"), count("VC", loc1, "10"), count("VT", loc2, "15")})}};
    const std::string sq_seed_path = make_temp_dir("trueup-square-pos-") + "/seed.json";
    write_file(sq_seed_path, sq_seed.dump());
    sq_process = start_simulator("square", sq_port,
                                 {"--seed", sq_seed_path, "--webhook-url", webhook, "--notification-url", webhook},
                                 {{"SQUARE_ACCESS_TOKEN", kSquareToken}, {"SQUARE_WEBHOOK_SIGNATURE_KEY", kSquareKey}});
    ASSERT_FALSE(HasFatalFailure());
    sq = std::make_unique<HttpClient>("127.0.0.1", sq_port);

    start_daemon(d,
                 "instance_id: " + id +
                     "\nhttp:\n  port: ${PORT}\n  access_log: false\n"
                     "api:\n  allow_anonymous: true\nworkflow:\n  poll_interval: 200ms\n"
                     "store:\n  postgres:\n    url: ${E2E_PG}\n"
                     "erp:\n  connector: " +
                     bc_id + "\n  post_channels: [" + sq_id + "]\n" + erp_yaml +
                     "connectors:\n"
                     "  square:\n    - id: " +
                     sq_id + "\n      channel: " + sq_id +
                     "\n      signature_key: ${SQ_KEY}\n      access_token: ${SQ_TOKEN}\n"
                     "      api_base_url: http://127.0.0.1:" +
                     std::to_string(sq_port) + "\n      notification_url: " + webhook +
                     "\n      poll_interval: 1s\n      poll_first_lookback: 1h\n"
                     "  business-central:\n    - id: " +
                     bc_id + "\n      api_base_url: http://127.0.0.1:" + std::to_string(bc_port) +
                     "\n      company_id: " + company_id(id) +
                     "\n      access_token: ${BC_TOKEN}\n      customer_number: POS\n      local_currency: USD\n"
                     "      poll_interval: 1s\n",
                 {{"E2E_PG", pg}, {"BC_TOKEN", kToken}, {"SQ_KEY", kSquareKey}, {"SQ_TOKEN", kSquareToken}});
    ASSERT_FALSE(HasFatalFailure());
    client = std::make_unique<HttpClient>("127.0.0.1", d.port);
    for (const auto& [system, entity, external, canonical] :
         std::vector<std::tuple<std::string, std::string, std::string, std::string>>{
             {"business-central", "item", "T" + suffix, tee},
             {"business-central", "item", "C" + suffix, cap},
             {"business-central", "location", "A" + suffix, store1},
             {"business-central", "location", "B" + suffix, store2},
             {"square", "location", loc1, store1},
             {"square", "location", loc2, store2}}) {
      auto put = client->request("PUT", "/v1/crosswalk/" + system + "/" + entity + "/" + external,
                                 json{{"canonical_id", canonical}}.dump());
      ASSERT_TRUE(put);
      ASSERT_EQ(put->status, 200) << put->body;
    }
    // BC's opening stock is the on-hand.
    ASSERT_TRUE(eventually(pg, on_hand(tee, store1), "20", std::chrono::seconds(120)));
    ASSERT_TRUE(eventually(pg, on_hand(tee, store2), "15", std::chrono::seconds(60)));
    ASSERT_TRUE(eventually(pg, on_hand(cap, store1), "10", std::chrono::seconds(60)));
  }

  void TearDown() override {
    if (d.process) stop_daemon(d);
    for (auto* p : {bc_process.get(), sq_process.get()})
      if (p != nullptr) {
        p->signal(SIGTERM);
        EXPECT_TRUE(p->wait(std::chrono::seconds(30)).has_value());
      }
  }

  // "<on_hand>" in whole units (the position's effective figure).
  std::string on_hand(const std::string& sku, const std::string& location) const {
    return "SELECT on_hand_e5 / 100000 FROM stock_position WHERE sku = '" + sku + "' AND location = '" + location + "'";
  }

  // A Square sale (signed webhooks); its order.
  json sell(const std::string& location, const json& lines) {
    auto r = sq->request("POST", "/_sim/sales", json{{"location_id", location}, {"line_items", lines}}.dump());
    EXPECT_TRUE(r && r->status == 201) << (r ? r->body : "no answer");
    if (!r || r->status != 201) return json::object();
    return json::parse(r->body)["orders"][0];
  }

  json bc_inspect() {
    auto r = bc->get("/_sim/inspect");
    return r && r->status == 200 ? json::parse(r->body) : json::object();
  }
  json bc_documents() {
    auto r = bc->get("/_sim/documents");
    return r && r->status == 200 ? json::parse(r->body)["documents"] : json::array();
  }
  // How often BC posted the document numbered `edn` (or, with the other key, created one).
  int posted(const std::string& edn, const char* key = "posted_external_document_number") {
    const json seen = bc_inspect();
    if (!seen.contains("keys") || !seen["keys"].contains(key) || !seen["keys"][key].is_object()) return 0;
    return seen["keys"][key].value(edn, 0);
  }
  bool eventually_posted(const std::string& edn) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(180);
    while (posted(edn) < 1 && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(200));  // waiting for the booking workflows
    return posted(edn) >= 1;
  }

  // Every position of this run at its expected on-hand, confirmed by the ERP
  // (no provisional figure, no provisional ledger row left).
  void expect_stock(const std::map<std::pair<std::string, std::string>, int>& expected) {
    for (const auto& [at, units] : expected)
      EXPECT_TRUE(eventually(pg, on_hand(at.first, at.second), std::to_string(units), std::chrono::seconds(120)))
          << at.first << "@" << at.second << ": " << psql(pg, on_hand(at.first, at.second));
    const std::string mine = "sku IN ('" + tee + "', '" + cap + "')";
    EXPECT_TRUE(eventually(pg, "SELECT count(*) FROM inventory_ledger WHERE " + mine + " AND status = 'provisional'",
                           "0", std::chrono::seconds(120)))
        << psql(pg, "SELECT movement_id, kind, quantity_e5 FROM inventory_ledger WHERE " + mine +
                        " AND status = 'provisional'");
    EXPECT_EQ(psql(pg, "SELECT count(*) FROM stock_position WHERE " + mine + " AND provisional_e5 <> 0"), "0");
    EXPECT_EQ(psql(pg, "SELECT count(*) FROM trueup_exception WHERE state = 'open' AND (reason LIKE '%" + id +
                           "%' OR details LIKE '%" + id + "%')"),
              "0")
        << psql(pg, "SELECT kind, reason FROM trueup_exception WHERE state = 'open' AND (reason LIKE '%" + id +
                        "%' OR details LIKE '%" + id + "%')");
  }

  std::string pg, id, bc_id, sq_id, store1, store2, tee, cap, loc1, loc2;
  Daemon d;
  std::unique_ptr<Process> bc_process, sq_process;
  std::unique_ptr<HttpClient> bc, sq, client;
};

TEST_F(PosToErpE2E, EachReceiptIsOneInvoiceAndAPosReturnOneCreditMemoAndTheErpFiguresReplaceTheProvisionalOnes) {
  start("pos-erp", "  return_window: 2s\n");
  ASSERT_FALSE(HasFatalFailure());
  const json one = sell(loc1, json::array({{{"sku", tee}, {"quantity", "2"}}, {{"sku", cap}, {"quantity", "1"}}}));
  const json two = sell(loc1, json::array({{{"sku", tee}, {"quantity", "1"}}}));
  const json three = sell(loc2, json::array({{{"sku", tee}, {"quantity", "3"}}}));
  ASSERT_FALSE(HasFailure());
  for (const json* o : {&one, &two, &three}) EXPECT_TRUE(eventually_posted((*o)["id"])) << (*o)["id"];

  // The first receipt comes back whole: Square makes a return order (found by
  // polling), booked as one credit memo numbered like it.
  json lines = json::array();
  for (const auto& l : one["line_items"])
    lines.push_back({{"source_line_item_uid", l["uid"]}, {"quantity", l["quantity"]}});
  auto refunded = sq->request("POST", "/_sim/refunds",
                              json{{"order_id", one["id"]}, {"return_line_items", lines}, {"restock", true}}.dump());
  ASSERT_TRUE(refunded);
  ASSERT_EQ(refunded->status, 201) << refunded->body;
  const std::string return_order = json::parse(refunded->body)["return_order"]["id"];
  EXPECT_TRUE(eventually_posted(return_order));

  // 20 - 2 - 1 + 2 tees and 10 - 1 + 1 caps at store 1; 15 - 3 at store 2.
  expect_stock({{{tee, store1}, 19}, {{cap, store1}, 10}, {{tee, store2}, 12}});

  // Exactly once: one create and one post per receipt and for the return.
  for (const std::string& edn :
       {one["id"].get<std::string>(), two["id"].get<std::string>(), three["id"].get<std::string>(), return_order}) {
    EXPECT_EQ(posted(edn), 1) << edn << bc_inspect().dump();
    EXPECT_EQ(posted(edn, "external_document_number"), 1) << edn;
  }
  int invoices = 0, memos = 0;
  for (const auto& doc : bc_documents()) {
    EXPECT_EQ(doc["posts"], 1) << doc.dump();
    if (doc["kind"] == "salesInvoices") ++invoices;
    if (doc["kind"] == "salesCreditMemos") {
      ++memos;
      EXPECT_EQ(doc["externalDocumentNumber"], return_order);
      EXPECT_EQ(doc["lines"], 2);
    }
  }
  EXPECT_EQ(invoices, 3);
  EXPECT_EQ(memos, 1);
  // The ERP's own figures agree.
  auto inventory = bc->get("/_sim/inventory");
  ASSERT_TRUE(inventory);
  // (A named document: a range-for over a member of a temporary would dangle.)
  const json figures = json::parse(inventory->body);
  for (const auto& item : figures["items"])
    if (item["itemNumber"].get<std::string>().front() == 'T') {
      EXPECT_EQ(item["total"], 31) << item.dump();
    }
}

TEST_F(PosToErpE2E, PerStoreBatchBooksTheReceiptsOfEachStoreAsOneDocumentOnce) {
  start("pos-batch", "  posting: per_store_batch\n  batch_interval: 20s\n");
  ASSERT_FALSE(HasFatalFailure());
  std::vector<json> sales;
  sales.push_back(sell(loc1, json::array({{{"sku", tee}, {"quantity", "1"}}})));
  sales.push_back(sell(loc1, json::array({{{"sku", tee}, {"quantity", "2"}}, {{"sku", cap}, {"quantity", "1"}}})));
  sales.push_back(sell(loc2, json::array({{{"sku", tee}, {"quantity", "1"}}})));
  sales.push_back(sell(loc1, json::array({{{"sku", tee}, {"quantity", "1"}}})));
  sales.push_back(sell(loc2, json::array({{{"sku", tee}, {"quantity", "1"}}})));
  ASSERT_FALSE(HasFailure());

  // Every receipt joined its store's batch; each batch is booked once.
  for (const auto& o : sales)
    EXPECT_TRUE(eventually(pg,
                           "SELECT count(*) FROM erp_booked_order WHERE order_id = '" + sq_id + ":" +
                               o["id"].get<std::string>() + "' AND document_id LIKE 'erp-batch:%'",
                           "1", std::chrono::seconds(60)))
        << o["id"];
  std::map<std::string, std::string> batch_of;  // location -> external document number
  for (const auto& store : {store1, store2}) {
    batch_of[store] = psql(pg, "SELECT external_document_number FROM erp_document WHERE location = '" + store +
                                   "' AND kind = 'sale_batch'");
    EXPECT_EQ(psql(pg, "SELECT count(*) FROM erp_document WHERE location = '" + store + "'"), "1");
    EXPECT_TRUE(eventually_posted(batch_of[store])) << store << " " << batch_of[store];
  }
  expect_stock({{{tee, store1}, 16}, {{cap, store1}, 9}, {{tee, store2}, 13}});

  for (const auto& [store, edn] : batch_of) {
    EXPECT_EQ(posted(edn), 1) << edn << bc_inspect().dump();
    EXPECT_EQ(posted(edn, "external_document_number"), 1) << edn;
  }
  // Two documents in all, none per receipt; store 1's sums its tees on one line.
  const json documents = bc_documents();
  ASSERT_EQ(documents.size(), 2u) << documents.dump();
  for (const auto& doc : documents) {
    EXPECT_EQ(doc["posts"], 1);
    EXPECT_EQ(doc["lines"], doc["externalDocumentNumber"] == batch_of[store1] ? 2 : 1) << doc.dump();
  }
}

}  // namespace
}  // namespace trueup::testing
