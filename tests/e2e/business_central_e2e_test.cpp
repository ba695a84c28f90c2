// The business-central connector through the real binary on PostgreSQL
// against `trueup sim business-central` (a process of its own): the item
// ledger polled into stock_position, the webhook subscription's
// validationToken handshake against the daemon's own /v1/webhooks/{id}, and
// post_sale started twice for one sale (two Idempotency-Keys) while the
// simulator fails a share of its requests: exactly one invoice, posted once,
// and its ledger entry moves the stock; a return through post_return (one
// credit memo); BC's notifications recorded, a wrong clientState refused.

#include <gtest/gtest.h>
#include <signal.h>

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

  auto listed = client.get("/v1/connectors");
  ASSERT_TRUE(listed);
  ASSERT_EQ(listed->status, 200) << listed->body;
  bool found = false;
  const json connectors = json::parse(listed->body);
  for (const auto& c : connectors["items"])
    if (c["id"] == id) {
      found = true;
      ASSERT_EQ(c["operations"].size(), 2u) << c.dump();
      EXPECT_EQ(c["operations"][0]["name"], "post_sale");
      EXPECT_EQ(c["operations"][1]["name"], "post_return");
      for (const auto& op : c["operations"]) EXPECT_EQ(op["idempotency"], "natural_key");
    }
  EXPECT_TRUE(found) << listed->body;

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
    EXPECT_TRUE(eventually(pg, "SELECT state FROM trueup_workflow WHERE id = '" + w + "'", "completed",
                           std::chrono::seconds(240)))
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

}  // namespace
}  // namespace trueup::testing
