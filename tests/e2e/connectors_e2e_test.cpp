// Connector ingress through the real binary on PostgreSQL and Kafka: a
// Shopify webhook (official example payloads) is checked by its signature on
// the raw body, recorded once in the inbox, mapped through the crosswalk,
// parked with an exception while its ids are unknown, replayed when the
// mappings arrive (exception resolved), and quarantined when malformed.
#include <gtest/gtest.h>

#include <signal.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "support/daemon.hpp"
#include "support/http_client.hpp"
#include "support/process.hpp"
#include "support/test_env.hpp"

namespace trueup::testing {
namespace {

using nlohmann::json;

constexpr const char* kSecret = "shpss_e2e_current_secret_0001";
constexpr const char* kOldSecret = "shpss_e2e_previous_secret_0002";

// base64(HMAC-SHA256(secret, body)), computed by openssl, not by Trueup.
std::string hmac_base64(const std::string& secret, const std::string& body) {
  const std::string file = make_temp_dir("trueup-hmac-") + "/body";
  write_file(file, body);
  auto r = run_process({"sh", "-c", "openssl dgst -sha256 -hmac \"$SECRET\" -binary \"$BODY\" | base64 -w0"},
                       {{"SECRET", secret}, {"BODY", file}}, std::chrono::seconds(10));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return r.out;
}

// The first inventory level of the official Shopify example answers.
json fixture_inventory_level() {
  std::ifstream in(fixtures_dir() + "/shopify/rest-2026-07-inventory_level-examples.json");
  auto doc = json::parse(in);
  return doc["examples"][0]["response_body"]["inventory_levels"][0];
}

// An instance id of this run's own (the database may hold earlier runs).
std::string instance_id(const std::string& prefix) {
  std::string id = unique_name(prefix);
  for (auto& ch : id)
    if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9'))) ch = '-';
  return id;
}

// The Shopify simulator: the real binary, the example seed.
std::unique_ptr<Process> start_shopify_sim(std::uint16_t port) {
  return start_simulator("shopify", port, {"--seed", source_dir() + "/config/examples/shopify-sim-seed.json"},
                         {{"SHOPIFY_ACCESS_TOKEN", "shpat_e2e_token"}});
}

// The daemon's YAML for one Shopify instance `id` calling the simulator.
std::string shopify_daemon_yaml(const std::string& id, std::uint16_t sim_port, const std::string& extra) {
  return "instance_id: " + id +
         "\nhttp:\n  port: ${PORT}\n  access_log: false\n"
         "api:\n  allow_anonymous: true\nworkflow:\n  poll_interval: 200ms\n"
         "store:\n  postgres:\n    url: ${E2E_PG}\n"
         "bus:\n  kafka:\n    bootstrap_servers: ${E2E_KAFKA}\n"
         "connectors:\n  shopify:\n    - id: " +
         id + "\n      channel: " + id +
         "\n      webhook_secret: ${SHOP_SECRET}\n"
         "      api_base_url: http://127.0.0.1:" +
         std::to_string(sim_port) + "\n      access_token: ${SHOP_TOKEN}\n" + extra;
}

TEST(ConnectorsE2E, ShopifyWebhooksAreVerifiedRecordedOnceParkedMappedAndReplayed) {
  const std::string pg = require_pg_url(), kafka = require_kafka();
  ASSERT_FALSE(pg.empty() || kafka.empty());
  const std::string ids_safe = instance_id("shop");
  Daemon d;
  start_daemon(d,
               "instance_id: connectors-e2e\nhttp:\n  port: ${PORT}\n  access_log: false\n"
               "api:\n  allow_anonymous: true\n"
               "workflow:\n  poll_interval: 200ms\n"
               "store:\n  postgres:\n    url: ${E2E_PG}\n"
               "bus:\n  kafka:\n    bootstrap_servers: ${E2E_KAFKA}\n"
               "connectors:\n  shopify:\n    - id: " +
                   ids_safe +
                   "\n      channel: shop-eu\n      webhook_secret: ${SHOP_SECRET}\n"
                   "      previous_webhook_secret: ${SHOP_OLD_SECRET}\n",
               {{"E2E_PG", pg}, {"E2E_KAFKA", kafka}, {"SHOP_SECRET", kSecret}, {"SHOP_OLD_SECRET", kOldSecret}});
  ASSERT_FALSE(HasFatalFailure());
  HttpClient client("127.0.0.1", d.port);
  const std::string path = "/v1/webhooks/" + ids_safe;
  const std::string run = unique_name("wh");

  // The official example with ids of this run's own (the crosswalk may hold
  // earlier runs' mappings), beyond 2^53 so that a double would lose them.
  json level = fixture_inventory_level();
  const auto salt =
      static_cast<std::uint64_t>(std::chrono::system_clock::now().time_since_epoch().count() % 1000000007);
  const std::string item = std::to_string(9007199254740993ULL + 2 * salt);
  const std::string location = std::to_string(9007199254740993ULL + 2 * salt + 1);
  level["inventory_item_id"] = json::parse(item);
  level["location_id"] = json::parse(location);
  // A level unique to this run (its updated_at makes the movement id).
  level["updated_at"] = "2026-11-26T10:00:0" + std::to_string(run.size() % 10) + "Z";
  const std::string body = level.dump();
  auto deliver = [&](const std::string& webhook_id, const std::string& signature, const std::string& b) {
    return client.request("POST", path, b,
                          {{"Content-Type", "application/json"},
                           {"X-Shopify-Topic", "inventory_levels/update"},
                           {"X-Shopify-Hmac-Sha256", signature},
                           {"X-Shopify-Shop-Domain", "test-shop.myshopify.io"},
                           {"X-Shopify-Webhook-Id", webhook_id}});
  };

  // Forged and unsigned deliveries: 401, nothing recorded.
  auto forged = deliver(run + "-forged", hmac_base64("not-the-secret", body), body);
  ASSERT_TRUE(forged);
  EXPECT_EQ(forged->status, 401) << forged->body;
  EXPECT_EQ(forged->header("content-type"), "application/problem+json");
  auto tampered = deliver(run + "-tampered", hmac_base64(kSecret, body), body + " ");
  ASSERT_TRUE(tampered);
  EXPECT_EQ(tampered->status, 401);
  auto unknown = client.request("POST", "/v1/webhooks/no-such-connector", body);
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 404);

  // Authentic: recorded once; the same delivery again is acknowledged, not redone.
  auto first = deliver(run + "-1", hmac_base64(kSecret, body), body);
  ASSERT_TRUE(first);
  ASSERT_EQ(first->status, 200) << first->body;
  EXPECT_EQ(json::parse(first->body)["received"], 1);
  auto again = deliver(run + "-1", hmac_base64(kSecret, body), body);
  ASSERT_TRUE(again);
  ASSERT_EQ(again->status, 200);
  EXPECT_EQ(json::parse(again->body)["duplicates"], 1);
  // Signed with the previous secret (rotation): accepted.
  auto rotated = deliver(run + "-2", hmac_base64(kOldSecret, body), body);
  ASSERT_TRUE(rotated);
  EXPECT_EQ(rotated->status, 200) << rotated->body;
  EXPECT_EQ(psql(pg, "SELECT count(*) FROM trueup_inbox WHERE source = '" + ids_safe + "' AND dedupe_key LIKE '" + run +
                         "-%'"),
            "2");

  // Unknown ids: parked, one exception per message naming them.
  const std::string ref1 = ids_safe + ":" + run + "-1";
  EXPECT_TRUE(eventually(pg,
                         "SELECT kind FROM trueup_exception WHERE state = 'open' AND ref_type = 'message' AND "
                         "ref_id = '" +
                             ref1 + "'",
                         "unmapped_sku", std::chrono::seconds(60)));
  auto listed = client.get("/v1/exceptions?kind=unmapped_sku&state=open&limit=1000");
  ASSERT_TRUE(listed);
  EXPECT_NE(listed->body.find("inventory_item " + item), std::string::npos) << listed->body;

  // Mappings arrive (location first, then the item): the parked messages
  // replay, the count lands in the ledger, the exception is resolved.
  const std::string sku = "SKU-" + run;
  auto put_location =
      client.request("PUT", "/v1/crosswalk/shopify/location/" + location, R"({"canonical_id":"WEB-1"})");
  ASSERT_TRUE(put_location);
  EXPECT_EQ(put_location->status, 200) << put_location->body;
  auto put_item =
      client.request("PUT", "/v1/crosswalk/shopify/inventory_item/" + item, json{{"canonical_id", sku}}.dump());
  ASSERT_TRUE(put_item);
  EXPECT_EQ(put_item->status, 200) << put_item->body;
  EXPECT_TRUE(eventually(pg, "SELECT on_hand_e5 FROM stock_position WHERE sku = '" + sku + "' AND location = 'WEB-1'",
                         std::to_string(level["available"].get<long long>() * 100000), std::chrono::seconds(60)));
  EXPECT_EQ(psql(pg, "SELECT count(*) FROM inventory_ledger WHERE sku = '" + sku + "' AND kind = 'count'"), "1")
      << "the two deliveries carry the same level: one movement";
  EXPECT_TRUE(eventually(pg,
                         "SELECT state || '/' || resolved_by FROM trueup_exception WHERE ref_type = 'message' AND "
                         "ref_id = '" +
                             ref1 + "'",
                         "resolved/crosswalk", std::chrono::seconds(60)));

  // Authentic but malformed: kept raw in quarantine, malformed_payload opened.
  const std::string bad = R"({"inventory_item_id":)" + item + R"(,"location_id":)" + location +
                          R"(,"available":"plenty","updated_at":"yesterday"})";
  auto malformed = deliver(run + "-bad", hmac_base64(kSecret, bad), bad);
  ASSERT_TRUE(malformed);
  EXPECT_EQ(malformed->status, 200);
  EXPECT_TRUE(eventually(pg,
                         "SELECT count(*) FROM trueup_exception WHERE kind = 'malformed_payload' AND state = 'open' "
                         "AND ref_id = '" +
                             ids_safe + ":" + run + "-bad'",
                         "1", std::chrono::seconds(60)));
  EXPECT_EQ(psql(pg, "SELECT count(*) FROM trueup_quarantine WHERE source = '" + ids_safe + "'"), "1");

  auto metrics = client.get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_NE(metrics->body.find("trueup_inbox_duplicates_total{source=\"" + ids_safe + "\"} 1"), std::string::npos);
  // Per connector: 2 forged deliveries rejected, 3 accepted (two, then the
  // malformed one), 1 duplicate.
  for (const auto& [outcome, n] :
       std::vector<std::pair<std::string, int>>{{"rejected", 2}, {"accepted", 3}, {"duplicate", 1}})
    EXPECT_NE(metrics->body.find("trueup_connector_webhook_deliveries_total{connector=\"" + ids_safe + "\",outcome=\"" +
                                 outcome + "\"} " + std::to_string(n)),
              std::string::npos)
        << outcome << "\n"
        << metrics->body.substr(0, 200);
  stop_daemon(d);
}

TEST(ConnectorsE2E, SquareInventoryCountWebhookSignedOverUrlAndBody) {
  const std::string pg = require_pg_url(), kafka = require_kafka();
  ASSERT_FALSE(pg.empty() || kafka.empty());
  const std::string id = instance_id("pos");
  const std::string url = "https://trueup.example.com/v1/webhooks/" + id;
  const std::string key = "sq-signature-key-e2e-0003";
  Daemon d;
  start_daemon(d,
               "instance_id: square-e2e\nhttp:\n  port: ${PORT}\n  access_log: false\n"
               "api:\n  allow_anonymous: true\nworkflow:\n  poll_interval: 200ms\n"
               "store:\n  postgres:\n    url: ${E2E_PG}\n"
               "bus:\n  kafka:\n    bootstrap_servers: ${E2E_KAFKA}\n"
               "webhooks:\n  public_base_url: https://trueup.example.com\n"
               "connectors:\n  square:\n    - id: " +
                   id + "\n      channel: pos\n      signature_key: ${SQ_KEY}\n",
               {{"E2E_PG", pg}, {"E2E_KAFKA", kafka}, {"SQ_KEY", key}});
  ASSERT_FALSE(HasFatalFailure());
  HttpClient client("127.0.0.1", d.port);
  const std::string run = unique_name("sq");
  const std::string variation = "VAR" + run, location = "LOC" + run, sku = "SKU-" + run;
  // The shape Square sends (webhook reference: inventory.count.updated).
  const std::string body = json{{"merchant_id", "MLE0CDVA7PWJJ"},
                                {"type", "inventory.count.updated"},
                                {"event_id", "evt-" + run},
                                {"created_at", "2026-11-26T10:00:01.000Z"},
                                {"data",
                                 {{"type", "inventory_counts"},
                                  {"id", "count-" + run},
                                  {"object",
                                   {{"inventory_counts",
                                     {{{"catalog_object_id", variation},
                                       {"catalog_object_type", "ITEM_VARIATION"},
                                       {"state", "IN_STOCK"},
                                       {"location_id", location},
                                       {"quantity", "7"},
                                       {"calculated_at", "2026-11-26T10:00:00.5Z"}}}}}}}}}
                               .dump();
  const auto deliver = [&](const std::string& signature) {
    return client.request("POST", "/v1/webhooks/" + id, body,
                          {{"Content-Type", "application/json"}, {"x-square-hmacsha256-signature", signature}});
  };
  // Signed over the body alone (not the URL): refused.
  auto body_only = deliver(hmac_base64(key, body));
  ASSERT_TRUE(body_only);
  EXPECT_EQ(body_only->status, 401);
  ASSERT_EQ(
      client.request("PUT", "/v1/crosswalk/square/location/" + location, R"({"canonical_id":"STORE-01"})")->status,
      200);
  ASSERT_EQ(
      client.request("PUT", "/v1/crosswalk/square/item_variation/" + variation, json{{"canonical_id", sku}}.dump())
          ->status,
      200);
  auto ok = deliver(hmac_base64(key, url + body));
  ASSERT_TRUE(ok);
  ASSERT_EQ(ok->status, 200) << ok->body;
  EXPECT_EQ(json::parse(ok->body)["received"], 1);
  EXPECT_TRUE(eventually(pg,
                         "SELECT on_hand_e5 FROM stock_position WHERE sku = '" + sku + "' AND location = 'STORE-01'",
                         "700000", std::chrono::seconds(60)));
  stop_daemon(d);
}

TEST(ConnectorsE2E, ShopifyPollingThroughTheSimulatorPagesDedupesAndSurvivesFaults) {
  const std::string pg = require_pg_url(), kafka = require_kafka();
  ASSERT_FALSE(pg.empty() || kafka.empty());
  const std::uint16_t sim_port = free_port();
  auto sim_process = start_shopify_sim(sim_port);
  ASSERT_FALSE(HasFatalFailure());
  Process& sim = *sim_process;
  HttpClient shop("127.0.0.1", sim_port);
  // 300 orders: two pages of 250.
  auto created =
      shop.request("POST", "/_sim/orders", R"({"line_items":[{"variant_id":808950810,"quantity":1}],"count":300})");
  ASSERT_TRUE(created);
  ASSERT_EQ(created->status, 201) << created->body;

  const std::string id = instance_id("web"), channel = id;
  Daemon d;
  start_daemon(d, shopify_daemon_yaml(id, sim_port, "      poll_interval: 1s\n"),
               {{"E2E_PG", pg}, {"E2E_KAFKA", kafka}, {"SHOP_SECRET", kSecret}, {"SHOP_TOKEN", "shpat_e2e_token"}});
  ASSERT_FALSE(HasFatalFailure());
  HttpClient client("127.0.0.1", d.port);
  ASSERT_EQ(
      client.request("PUT", "/v1/crosswalk/shopify/variant/808950810", R"({"canonical_id":"IPOD2008PINK"})")->status,
      200);

  const std::string count = "SELECT count(*) FROM channel_order WHERE channel = '" + channel + "'";
  EXPECT_TRUE(eventually(pg, count, "300", std::chrono::seconds(180)));

  // The shop answers every call with 503 for a while: polls retry with
  // backoff and give up until the next interval; nothing is lost, and the
  // overlap's repeats are not applied twice.
  auto faults = shop.request("PUT", "/_sim/faults", R"({"error_share":1.0})");
  ASSERT_TRUE(faults);
  ASSERT_EQ(faults->status, 200) << faults->body;
  auto more =
      shop.request("POST", "/_sim/orders", R"({"line_items":[{"variant_id":808950810,"quantity":2}],"count":20})");
  ASSERT_TRUE(more);
  ASSERT_EQ(more->status, 201);
  auto injected = [&] {
    auto r = shop.get("/_sim/inspect");
    return r ? json::parse(r->body)["injected_5xx"].get<long long>() : 0LL;
  };
  const auto failing_until = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (injected() < 3 && std::chrono::steady_clock::now() < failing_until)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // polls meet the failures
  EXPECT_GE(injected(), 3);
  EXPECT_EQ(psql(pg, count), "300") << "nothing new while the shop fails";
  ASSERT_EQ(shop.request("PUT", "/_sim/faults", R"({"error_share":0})")->status, 200);
  EXPECT_TRUE(eventually(pg, count, "320", std::chrono::seconds(180)));
  // Each order version was recorded once, however many polls saw it.
  EXPECT_EQ(psql(pg, "SELECT count(*) FROM trueup_inbox WHERE source = '" + id + "'"), "320");
  EXPECT_EQ(psql(pg, "SELECT count(*) FROM trueup_exception WHERE state = 'open' AND ref_id LIKE '" + id + ":%'"), "0");

  auto inspect = shop.get("/_sim/inspect");
  ASSERT_TRUE(inspect);
  auto j = json::parse(inspect->body);
  const long long calls = j["requests"].value("orders.list", 0LL);
  EXPECT_GT(calls, 2);
  EXPECT_GT(j["injected_5xx"].get<long long>(), 0);
  EXPECT_LE(j["throttled_429"].get<long long>() * 100, calls) << "429s above 1% of calls: " << inspect->body;
  stop_daemon(d);
  sim.signal(SIGTERM);
  EXPECT_TRUE(sim.wait(std::chrono::seconds(30)).has_value());
}

// Outbound: set_available through POST /v1/connectors/{id}/operations/...,
// one connector_outbound workflow per request, against a shop that fails a
// fifth of its calls and whose leaky bucket (40, 2/s) is smaller than the
// burst: every level ends at its value, 429s stay at most 1% of calls, a
// repeated Idempotency-Key is the same workflow, and an unmapped SKU fails
// (nothing to undo: compensated) with an exception that says what to map.
TEST(ConnectorsE2E, ShopifySetAvailableThroughOutboundWorkflowsUnderFaultsAndTheBucket) {
  const std::string pg = require_pg_url(), kafka = require_kafka();
  ASSERT_FALSE(pg.empty() || kafka.empty());
  const std::uint16_t sim_port = free_port();
  auto sim = start_shopify_sim(sim_port);
  ASSERT_FALSE(HasFatalFailure());
  HttpClient shop("127.0.0.1", sim_port);
  const std::string id = instance_id("out");
  Daemon d;
  start_daemon(d, shopify_daemon_yaml(id, sim_port, ""),
               {{"E2E_PG", pg}, {"E2E_KAFKA", kafka}, {"SHOP_SECRET", kSecret}, {"SHOP_TOKEN", "shpat_e2e_token"}});
  ASSERT_FALSE(HasFatalFailure());
  HttpClient client("127.0.0.1", d.port);

  EXPECT_EQ(listed_operations(d.port, id),
            (std::vector<std::string>{"set_available/set_to_value", "set_available_batch/target_key"}));

  // Canonical SKUs and locations of this run, mapped to the seed's ids (one
  // inventory item id beyond 2^53).
  const std::string run = id;
  const std::vector<std::pair<std::string, std::string>> items{
      {"808950810", run + "-PINK"}, {"49148385", run + "-RED"}, {"9223372036854775805", run + "-BIG"}};
  const std::vector<std::pair<std::string, std::string>> locations{{"655441491", run + "-WH"},
                                                                   {"487838322", run + "-NYC"}};
  for (const auto& [external, canonical] : items)
    ASSERT_EQ(client
                  .request("PUT", "/v1/crosswalk/shopify/inventory_item/" + external,
                           json{{"canonical_id", canonical}}.dump())
                  ->status,
              200);
  for (const auto& [external, canonical] : locations)
    ASSERT_EQ(
        client.request("PUT", "/v1/crosswalk/shopify/location/" + external, json{{"canonical_id", canonical}}.dump())
            ->status,
        200);
  ASSERT_EQ(shop.request("PUT", "/_sim/faults", R"({"error_share":0.2,"seed":7})")->status, 200);
  ASSERT_EQ(shop.request("POST", "/_sim/reset", "")->status, 200);

  // 10 rounds over the 6 levels, each with its own Idempotency-Key: 60
  // workflows, at most 4 running at once against a 40-call bucket.
  auto value = [](std::size_t item, std::size_t location) { return static_cast<int>(7 + 3 * item + location); };
  const std::string path = "/v1/connectors/" + id + "/operations/set_available";
  for (int round = 0; round < 10; ++round)
    for (std::size_t i = 0; i < items.size(); ++i)
      for (std::size_t l = 0; l < locations.size(); ++l) {
        const json body{{"sku", items[i].second}, {"location", locations[l].second}, {"available", value(i, l)}};
        auto r = client.request("POST", path, body.dump(),
                                {{"Idempotency-Key", run + "-" + std::to_string(round) + "-" + std::to_string(i) + "-" +
                                                         std::to_string(l)}});
        ASSERT_TRUE(r);
        ASSERT_EQ(r->status, 202) << r->body;
        EXPECT_TRUE(json::parse(r->body)["created"].get<bool>());
      }
  // The same key again: the stored answer, no new workflow.
  auto again = client.request(
      "POST", path,
      json{{"sku", items[0].second}, {"location", locations[0].second}, {"available", value(0, 0)}}.dump(),
      {{"Idempotency-Key", run + "-0-0-0"}});
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 202);
  EXPECT_EQ(again->header("idempotent-replayed"), "true");
  // An unknown operation and an unmapped SKU.
  EXPECT_EQ(client.request("POST", "/v1/connectors/" + id + "/operations/teleport", "{}")->status, 404);
  auto unmapped = client.request(
      "POST", path, json{{"sku", run + "-NOPE"}, {"location", locations[0].second}, {"available", 1}}.dump());
  ASSERT_TRUE(unmapped);
  ASSERT_EQ(unmapped->status, 202) << unmapped->body;
  const std::string unmapped_workflow = json::parse(unmapped->body)["workflow_id"];

  const std::string mine =
      "FROM trueup_workflow WHERE type = 'connector_outbound' AND correlation_key = '" + id + ":set_available'";
  EXPECT_TRUE(eventually(pg, "SELECT count(*) " + mine + " AND state = 'completed'", "60", std::chrono::seconds(240)));
  EXPECT_TRUE(eventually(pg, "SELECT state " + mine + " AND id = '" + unmapped_workflow + "'", "compensated",
                         std::chrono::seconds(60)));
  EXPECT_EQ(psql(pg, "SELECT count(*) " + mine), "61");
  const std::string reason = psql(pg,
                                  "SELECT reason FROM trueup_exception WHERE kind = 'workflow_failed' AND "
                                  "ref_id = '" +
                                      unmapped_workflow + "' AND state = 'open'");
  EXPECT_NE(reason.find("no shopify inventory_item is mapped to " + run + "-NOPE"), std::string::npos) << reason;

  auto inspect = shop.get("/_sim/inspect");
  ASSERT_TRUE(inspect);
  auto j = json::parse(inspect->body);
  const long long calls = j["requests"].value("inventory_levels/set", 0LL);
  EXPECT_GE(calls, 60);
  EXPECT_GT(j["injected_5xx"].get<long long>(), 0) << "the faults were on";
  EXPECT_LE(j["throttled_429"].get<long long>() * 100, calls) << "429s above 1% of calls: " << inspect->body;

  // Every level holds its value, read back from the shop.
  ASSERT_EQ(shop.request("PUT", "/_sim/faults", R"({"error_share":0})")->status, 200);
  for (std::size_t i = 0; i < items.size(); ++i) {
    // The test's own reads share the shop's bucket: a 429 is waited out.
    std::optional<HttpReply> levels;
    for (int tries = 0; tries < 50; ++tries) {
      levels = shop.request("GET", "/admin/api/2026-07/inventory_levels.json?inventory_item_ids=" + items[i].first, "",
                            {{"X-Shopify-Access-Token", "shpat_e2e_token"}});
      if (!levels || levels->status != 429) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(500));  // Retry-After: the leak of one call
    }
    ASSERT_TRUE(levels);
    ASSERT_EQ(levels->status, 200) << levels->body;
    // Ids are compared as text: the big one does not fit a double.
    const std::string text = levels->body;
    for (std::size_t l = 0; l < locations.size(); ++l) {
      const std::string needle = "\"location_id\":" + locations[l].first;
      const auto at = text.find(needle);
      ASSERT_NE(at, std::string::npos) << text;
      const auto object_start = text.rfind('{', at), object_end = text.find('}', at);
      const std::string object = text.substr(object_start, object_end - object_start + 1);
      EXPECT_NE(object.find("\"available\":" + std::to_string(value(i, l))), std::string::npos) << object;
      EXPECT_NE(object.find("\"inventory_item_id\":" + items[i].first), std::string::npos) << object;
    }
  }
  auto metrics = client.get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_NE(metrics->body.find("operation=\"inventory_levels.set\""), std::string::npos);
  stop_daemon(d);
  sim->signal(SIGTERM);
  EXPECT_TRUE(sim->wait(std::chrono::seconds(30)).has_value());
}

}  // namespace
}  // namespace trueup::testing
