// The Square connector through the real binary against `trueup sim square`
// (PostgreSQL; the embedded bus): a POS sale made in the simulator sends a
// signed order event, the connector fetches the order, learns the unknown
// catalog variations and records sale movements; a sale whose webhooks are
// all lost is found by polling; the outbound adjust and set_count started
// through POST /v1/connectors/{id}/operations/{operation} reach the
// simulator exactly once while it answers 5xx.
//
// Every id of the simulated account (location, variations, SKUs, orders) is
// this run's own: the database keeps earlier runs' crosswalk and ledger.
#include <gtest/gtest.h>

#include <cctype>
#include <ctime>
#include <nlohmann/json.hpp>
#include <thread>

#include "support/daemon.hpp"
#include "support/http_client.hpp"
#include "support/process.hpp"
#include "support/test_env.hpp"

namespace trueup::testing {
namespace {

using nlohmann::json;

constexpr const char* kToken = "EAAAsquare_e2e_token";
constexpr const char* kSignatureKey = "square-e2e-signature-key";

// An instance id of this run's own: [a-z0-9-].
std::string instance_id(const std::string& prefix) {
  std::string id = unique_name(prefix);
  for (auto& ch : id)
    if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9'))) ch = '-';
  return id;
}

// Square-style ids of this run: upper-case letters and digits.
std::string square_id(const std::string& prefix, const std::string& run) {
  std::string id = prefix;
  for (char ch : run)
    if ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9')) id.push_back(static_cast<char>(std::toupper(ch)));
  return id;
}

struct Account {
  std::string id;        // the connector instance (and channel)
  std::string location;  // Square location id
  std::string store;     // its canonical location code
  std::string var_a, var_b, sku_a, sku_b;
  std::string webhook_url;
};

Account account_of(const std::string& id) {
  Account a;
  a.id = id;
  a.location = square_id("L", id);
  a.store = id + "-store";
  a.var_a = square_id("VA", id);
  a.var_b = square_id("VB", id);
  a.sku_a = id + "-tee";
  a.sku_b = id + "-beans";
  return a;
}

std::string seed_file(const Account& a) {
  const json seed = {
      {"merchant", {{"id", square_id("M", a.id)}, {"currency", "USD"}}},
      {"locations", json::array({{{"id", a.location}, {"name", "Store " + a.id}}})},
      {"items",
       json::array({{{"id", square_id("IT", a.id)},
                     {"name", "Tee"},
                     {"variations", json::array({{{"id", a.var_a},
                                                  {"name", "One size"},
                                                  {"sku", a.sku_a},
                                                  {"price_money", {{"amount", 2500}, {"currency", "USD"}}}}})}},
                    {{"id", square_id("IB", a.id)},
                     {"name", "Beans"},
                     {"variations", json::array({{{"id", a.var_b},
                                                  {"name", "Per kg"},
                                                  {"sku", a.sku_b},
                                                  {"price_money", {{"amount", 3200}, {"currency", "USD"}}}}})}}})},
      {"inventory_counts",
       json::array({{{"catalog_object_id", a.var_a}, {"location_id", a.location}, {"quantity", "10"}},
                    {{"catalog_object_id", a.var_b}, {"location_id", a.location}, {"quantity", "12.5"}}})}};
  const std::string path = make_temp_dir("trueup-square-seed-") + "/seed.json";
  write_file(path, seed.dump());
  return path;
}

std::unique_ptr<Process> start_square_sim(std::uint16_t port, const Account& a) {
  return start_simulator("square", port,
                         {"--seed", seed_file(a), "--webhook-url", a.webhook_url, "--notification-url", a.webhook_url},
                         {{"SQUARE_ACCESS_TOKEN", kToken}, {"SQUARE_WEBHOOK_SIGNATURE_KEY", kSignatureKey}});
}

void start_square_daemon(Daemon& d, const Account& a, std::uint16_t sim_port, const std::string& extra) {
  start_daemon(d,
               "instance_id: " + a.id +
                   "\nhttp:\n  port: ${PORT}\n  access_log: false\n"
                   "api:\n  allow_anonymous: true\nworkflow:\n  poll_interval: 200ms\n"
                   "store:\n  postgres:\n    url: ${E2E_PG}\n"
                   "connectors:\n  square:\n    - id: " +
                   a.id + "\n      channel: " + a.id +
                   "\n      signature_key: ${SQ_KEY}\n      access_token: ${SQ_TOKEN}\n"
                   "      api_base_url: http://127.0.0.1:" +
                   std::to_string(sim_port) + "\n      notification_url: " + a.webhook_url + "\n" + extra,
               {{"E2E_PG", require_pg_url()}, {"SQ_KEY", kSignatureKey}, {"SQ_TOKEN", kToken}});
}

json post_json(HttpClient& client, const std::string& path, const json& body, int expected,
               const std::map<std::string, std::string>& headers = {}) {
  auto r = client.request("POST", path, body.dump(), headers);
  EXPECT_TRUE(r);
  if (!r) return json();
  EXPECT_EQ(r->status, expected) << path << ": " << r->body;
  return json::parse(r->body, nullptr, false);
}

void map_location(HttpClient& client, const Account& a) {
  auto put =
      client.request("PUT", "/v1/crosswalk/square/location/" + a.location, json{{"canonical_id", a.store}}.dump());
  ASSERT_TRUE(put);
  ASSERT_EQ(put->status, 200) << put->body;
}

std::string ledger_row(const std::string& movement_id) {
  return "SELECT kind || ' ' || quantity_e5 FROM inventory_ledger WHERE movement_id = '" + movement_id + "'";
}

// The simulator's IN_STOCK count of a variation at the account's location.
std::string sim_count(HttpClient& sim, const Account& a, const std::string& variation) {
  auto r = sim.request(
      "POST", "/v2/inventory/counts/batch-retrieve",
      json{{"catalog_object_ids", {variation}}, {"location_ids", {a.location}}, {"states", {"IN_STOCK"}}}.dump(),
      {{"Authorization", std::string("Bearer ") + kToken}, {"Content-Type", "application/json"}});
  if (!r || r->status != 200) return "?";
  auto j = json::parse(r->body);
  return j.contains("counts") ? j["counts"][0]["quantity"].get<std::string>() : "none";
}

// One simulated account and a daemon connected to it, both this test's own.
class SquareE2E : public ::testing::Test {
 protected:
  // Starts the simulator (applying `faults`, when given, before anything
  // happens), then the daemon, and maps the account's location.
  void start(const std::string& prefix, const std::string& faults, const std::string& extra_yaml) {
    pg = require_pg_url();
    ASSERT_FALSE(pg.empty());
    a = account_of(instance_id(prefix));
    d.port = free_port();
    a.webhook_url = "http://127.0.0.1:" + std::to_string(d.port) + "/v1/webhooks/" + a.id;
    const std::uint16_t sim_port = free_port();
    sim_process = start_square_sim(sim_port, a);
    ASSERT_FALSE(HasFatalFailure());
    sim = std::make_unique<HttpClient>("127.0.0.1", sim_port);
    if (!faults.empty()) {
      ASSERT_EQ(sim->request("PUT", "/_sim/faults", faults)->status, 200);
    }
    start_square_daemon(d, a, sim_port, extra_yaml);
    ASSERT_FALSE(HasFatalFailure());
    client = std::make_unique<HttpClient>("127.0.0.1", d.port);
    map_location(*client, a);
  }
  void TearDown() override {
    if (d.process) stop_daemon(d);
  }

  std::string pg;
  Account a;
  Daemon d;
  std::unique_ptr<Process> sim_process;
  std::unique_ptr<HttpClient> sim, client;
};

TEST_F(SquareE2E, PosSaleWebhookFetchedMappedAndOutboundOperationsExactlyOnceUnder5xx) {
  // The location is mapped by hand; the variations are learned from the catalog.
  start("sq", "", "");
  ASSERT_FALSE(HasFatalFailure());

  auto listed = client->get("/v1/connectors");
  ASSERT_TRUE(listed);
  bool found = false;
  const json connectors = json::parse(listed->body);
  for (const auto& c : connectors["items"])
    if (c["id"] == a.id) {
      found = true;
      ASSERT_EQ(c["operations"].size(), 2u) << c.dump();
      EXPECT_EQ(c["operations"][0]["name"], "set_count");
      EXPECT_EQ(c["operations"][1]["name"], "adjust");
      EXPECT_EQ(c["operations"][0]["idempotency"], "target_key");
    }
  EXPECT_TRUE(found) << listed->body;

  // A POS sale: order.created (OPEN), order.updated (COMPLETED) and
  // inventory.count.updated, signed over the notification URL and body.
  const json sale = post_json(
      *sim, "/_sim/sales",
      {{"location_id", a.location},
       {"line_items", json::array({{{"sku", a.sku_a}, {"quantity", "2"}}, {{"sku", a.sku_b}, {"quantity", "1.5"}}})}},
      201);
  ASSERT_TRUE(sale.contains("orders")) << sale.dump();
  const json& order = sale["orders"][0];
  const std::string order_id = order["id"];
  const std::string prefix = "square:order:" + order_id + ":";
  EXPECT_TRUE(eventually(pg, ledger_row(prefix + order["line_items"][0]["uid"].get<std::string>()), "sale -200000",
                         std::chrono::seconds(60)));
  EXPECT_TRUE(eventually(pg, ledger_row(prefix + order["line_items"][1]["uid"].get<std::string>()), "sale -150000",
                         std::chrono::seconds(30)));
  EXPECT_EQ(psql(pg,
                 "SELECT canonical_id || ' ' || updated_by FROM crosswalk WHERE system = 'square' AND entity = "
                 "'item_variation' AND external_id = '" +
                     a.var_a + "'"),
            a.sku_a + " connector");
  EXPECT_TRUE(eventually(pg, "SELECT status FROM channel_order WHERE id = '" + a.id + ":" + order_id + "'", "closed",
                         std::chrono::seconds(30)));
  EXPECT_EQ(
      psql(pg, "SELECT count(*) FROM stock_position WHERE sku = '" + a.sku_a + "' AND location = '" + a.store + "'"),
      "1");
  // Stock the webhook path moved once: the sale lines are two ledger rows.
  EXPECT_EQ(psql(pg, "SELECT count(*) FROM inventory_ledger WHERE movement_id LIKE '" + prefix + "%'"), "2");

  // Outbound: adjust (+5, a receipt) and then set_count (42), each started
  // while every API call of the simulator answers 503.
  ASSERT_EQ(sim->request("PUT", "/_sim/faults", R"({"error_share":1.0,"seed":5})")->status, 200);
  const auto minute_ago = std::chrono::system_clock::now() - std::chrono::minutes(1);
  const std::time_t t = std::chrono::system_clock::to_time_t(minute_ago);
  char occurred[32];
  std::strftime(occurred, sizeof occurred, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  const json receipt = {{"movement_id", a.id + "-receipt-1"},
                        {"kind", "receipt"},
                        {"sku", a.sku_a},
                        {"location", a.store},
                        {"quantity_delta", "5"},
                        {"occurred_at", occurred},
                        {"source_system", "trueup"},
                        {"source_reference", "po-1"}};
  const auto run_operation = [&](const std::string& operation, const json& input) -> std::string {
    const json started = post_json(*client, "/v1/connectors/" + a.id + "/operations/" + operation, input, 202,
                                   {{"Idempotency-Key", a.id + "-" + operation}});
    const std::string workflow = started.value("workflow_id", std::string());
    // Some attempts hit the 503s, then the simulator recovers.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    long long injected = 0;
    while (std::chrono::steady_clock::now() < deadline && injected < 2) {
      injected = json::parse(sim->get("/_sim/inspect")->body)["injected_5xx"].get<long long>();
      std::this_thread::sleep_for(std::chrono::milliseconds(100));  // waiting for the workflow's attempts
    }
    EXPECT_GE(injected, 2) << operation << ": the faults were not met";
    EXPECT_EQ(sim->request("PUT", "/_sim/faults", R"({"error_share":0})")->status, 200);
    EXPECT_TRUE(eventually(pg, "SELECT state FROM trueup_workflow WHERE id = '" + workflow + "'", "completed",
                           std::chrono::seconds(180)))
        << operation;
    return workflow;
  };
  // Exactly once: one applied batch-create per workflow key (the
  // simulator's write log), however many attempts carried the key.
  const auto applied_once = [&](const std::string& workflow) {
    const json inspect = json::parse(sim->get("/_sim/inspect")->body);
    int applied = 0;
    for (const auto& w : inspect["write_log"])
      if (w["operation"] == "inventory.batch_change" && w["body"]["idempotency_key"] == workflow + ":perform")
        ++applied;
    EXPECT_EQ(applied, 1) << inspect.dump();
    EXPECT_GE(inspect["keys"]["idempotency_key"].value(workflow + ":perform", 0), 1) << inspect.dump();
    EXPECT_GT(inspect["injected_5xx"].get<long long>(), 0);
  };
  const std::string adjusted = run_operation("adjust", receipt);
  EXPECT_EQ(sim_count(*sim, a, a.var_a), "13");  // 10 - 2 sold + 5
  applied_once(adjusted);
  ASSERT_EQ(sim->request("POST", "/_sim/reset", "")->status, 200);
  ASSERT_EQ(sim->request("PUT", "/_sim/faults", R"({"error_share":1.0,"seed":6})")->status, 200);
  const std::string counted = run_operation("set_count", {{"sku", a.sku_a}, {"location", a.store}, {"quantity", "42"}});
  EXPECT_EQ(sim_count(*sim, a, a.var_a), "42");
  applied_once(counted);

  // A repeated Idempotency-Key is the same workflow: nothing is sent again.
  auto again = client->request("POST", "/v1/connectors/" + a.id + "/operations/set_count",
                               json{{"sku", a.sku_a}, {"location", a.store}, {"quantity", "42"}}.dump(),
                               {{"Idempotency-Key", a.id + "-set_count"}});
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 202);
  EXPECT_EQ(json::parse(again->body)["workflow_id"], counted);

  // An unmapped SKU fails the workflow with what to map.
  const json unmapped = post_json(*client, "/v1/connectors/" + a.id + "/operations/set_count",
                                  {{"sku", a.id + "-nope"}, {"location", a.store}, {"quantity", 1}}, 202);
  const std::string unmapped_workflow = unmapped.value("workflow_id", std::string());
  EXPECT_TRUE(eventually(pg, "SELECT state FROM trueup_workflow WHERE id = '" + unmapped_workflow + "'", "compensated",
                         std::chrono::seconds(60)));
  const std::string reason =
      psql(pg, "SELECT reason FROM trueup_exception WHERE kind = 'workflow_failed' AND ref_id = '" + unmapped_workflow +
                   "'");
  EXPECT_NE(reason.find("no square item_variation is mapped to " + a.id + "-nope"), std::string::npos) << reason;
}

TEST_F(SquareE2E, ASaleWhoseWebhooksAreLostIsFoundByPolling) {
  start("sqp", R"({"webhooks":{"drop_share":1.0}})", "      poll_interval: 1s\n      poll_first_lookback: 1h\n");
  ASSERT_FALSE(HasFatalFailure());

  const json sale = post_json(
      *sim, "/_sim/sales",
      {{"location_id", a.location}, {"line_items", json::array({{{"sku", a.sku_a}, {"quantity", "3"}}})}}, 201);
  ASSERT_TRUE(sale.contains("orders")) << sale.dump();
  const std::string order_id = sale["orders"][0]["id"];
  const std::string uid = sale["orders"][0]["line_items"][0]["uid"];
  EXPECT_TRUE(
      eventually(pg, ledger_row("square:order:" + order_id + ":" + uid), "sale -300000", std::chrono::seconds(90)));
  // It came by polling: the order's message is keyed by id and version.
  EXPECT_EQ(psql(pg, "SELECT count(*) FROM trueup_inbox WHERE source = '" + a.id +
                         "' AND dedupe_key LIKE 'order:" + order_id + "@v%'"),
            "1");
  // A return of one unit: Square makes a return order (no order events; its
  // refund events are dropped too), found by polling, +1 as a return movement.
  const json refund =
      post_json(*sim, "/_sim/refunds",
                {{"order_id", order_id},
                 {"return_line_items", json::array({{{"source_line_item_uid", uid}, {"quantity", "1"}}})},
                 {"restock", true}},
                201);
  ASSERT_TRUE(refund.contains("return_order")) << refund.dump();
  const json& returned = refund["return_order"];
  const std::string return_movement = "square:order:" + returned["id"].get<std::string>() +
                                      ":return:" + returned["returns"][0]["uid"].get<std::string>() + ":" +
                                      returned["returns"][0]["return_line_items"][0]["uid"].get<std::string>();
  EXPECT_TRUE(eventually(pg, ledger_row(return_movement), "return 100000", std::chrono::seconds(60)));
  // The counts were polled too (the seed's and the sale's; not one webhook arrived).
  EXPECT_TRUE(eventually(pg,
                         "SELECT count(*) > 0 FROM trueup_inbox WHERE source = '" + a.id +
                             "' AND dedupe_key LIKE 'count:" + a.var_a + ":%'",
                         "t", std::chrono::seconds(30)));
  const json inspect = json::parse(sim->get("/_sim/inspect")->body);
  EXPECT_GE(inspect["webhooks"]["dropped"].get<long long>(), 2) << inspect["webhooks"].dump();
  EXPECT_EQ(inspect["webhooks"]["delivered"].get<long long>(), 0);
  EXPECT_GE(inspect["requests"].value("orders.search", 0LL), 1);
}

}  // namespace
}  // namespace trueup::testing
