// The durable core through the real binary, on PostgreSQL and Kafka: intake
// with API keys and Idempotency-Key, duplicates across two instances, the
// workflows' effects in the database, the events on Kafka, and the crosswalk.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <functional>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <thread>

#include "support/daemon.hpp"
#include "support/http_client.hpp"
#include "support/process.hpp"
#include "support/test_env.hpp"

namespace trueup::testing {
namespace {

using nlohmann::json;

constexpr const char* kOperateKey = "e2e-operate-key-0001";
constexpr const char* kReadKey = "e2e-read-key-0002";

using Instance = Daemon;

std::string sha256_of(const std::string& key) {
  auto r = run_process({trueup_binary(), "api-key", "hash"}, {}, std::chrono::seconds(10), key + "\n");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return r.out.substr(0, 64);
}

void start_instance(Instance& inst, const std::string& name, const std::string& pg, const std::string& kafka) {
  inst.port = 0;  // a restart gets a new port, as a replaced instance would
  start_daemon(inst,
               "instance_id: " + name +
                   "\nhttp:\n  port: ${PORT}\n  access_log: false\n"
                   "api:\n  keys:\n"
                   "    - {name: operator, sha256: " +
                   sha256_of(kOperateKey) +
                   ", scope: operate}\n"
                   "    - {name: dashboard, sha256: " +
                   sha256_of(kReadKey) +
                   ", scope: read}\n"
                   "workflow:\n  poll_interval: 200ms\n  lease: 3s\n"
                   "store:\n  postgres:\n    url: ${E2E_PG}\n    pool_size: 4\n"
                   "bus:\n  kafka:\n    bootstrap_servers: ${E2E_KAFKA}\n",
               {{"E2E_PG", pg}, {"E2E_KAFKA", kafka}});
}

void stop_instance(Instance& inst) { stop_daemon(inst); }

std::string movement(const std::string& id, const std::string& sku, const std::string& delta) {
  return json{{"movement_id", id},
              {"kind", "sale"},
              {"sku", sku},
              {"location", "STORE-01"},
              {"quantity_delta", delta},
              {"occurred_at", "2026-11-26T10:00:00+01:00"},
              {"source_system", "square"},
              {"source_reference", "receipt-" + id}}
      .dump();
}

// Every message on `topic` as {key, headers, value} lines (kcat, to the end).
std::vector<std::string> kafka_lines(const std::string& kafka, const std::string& topic) {
  auto r = run_process({"kcat", "-b", kafka, "-C", "-t", topic, "-o", "beginning", "-e", "-q", "-f", "%k\t%h\t%s\n"},
                       {}, std::chrono::seconds(120));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> out;
  std::istringstream in(r.out);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

std::string header(const std::string& line, const std::string& name) {
  auto tab1 = line.find('\t');
  auto tab2 = line.find('\t', tab1 + 1);
  std::string headers = line.substr(tab1 + 1, tab2 - tab1 - 1);
  auto p = headers.find(name + "=");
  if (p == std::string::npos) return "";
  auto end = headers.find(',', p);
  return headers.substr(p + name.size() + 1, end == std::string::npos ? std::string::npos : end - p - name.size() - 1);
}

TEST(DurableCoreE2E, IntakeIsExactlyOnceAcrossTwoInstances) {
  const std::string pg = require_pg_url(), kafka = require_kafka();
  ASSERT_FALSE(pg.empty() || kafka.empty());
  Instance a, b;
  start_instance(a, unique_name("core-a"), pg, kafka);
  ASSERT_FALSE(HasFatalFailure());
  start_instance(b, unique_name("core-b"), pg, kafka);
  ASSERT_FALSE(HasFatalFailure());
  const std::string run = unique_name("mv");
  const std::map<std::string, std::string> operate{{"Authorization", std::string("Bearer ") + kOperateKey}};

  // Authentication and scopes.
  HttpClient client("127.0.0.1", a.port);
  auto anon = client.request("POST", "/v1/inventory/movements", movement(run + "-x", "SKU-X", "-1"));
  ASSERT_TRUE(anon);
  EXPECT_EQ(anon->status, 401);
  EXPECT_EQ(anon->header("content-type"), "application/problem+json");
  auto reader =
      client.request("POST", "/v1/inventory/movements", movement(run + "-x", "SKU-X", "-1"), {{"X-Api-Key", kReadKey}});
  ASSERT_TRUE(reader);
  EXPECT_EQ(reader->status, 403);
  auto invalid = client.request("POST", "/v1/inventory/movements", R"({"movement_id":"x"})", operate);
  ASSERT_TRUE(invalid);
  EXPECT_EQ(invalid->status, 400);

  // Idempotency-Key: replay, reuse with another body, new request.
  std::map<std::string, std::string> keyed = operate;
  keyed["Idempotency-Key"] = run + "-key";
  const std::string first_body = "[" + movement(run + "-k1", "SKU-K", "-1") + "]";
  auto first = client.request("POST", "/v1/inventory/movements", first_body, keyed);
  ASSERT_TRUE(first);
  ASSERT_EQ(first->status, 202) << first->body;
  auto replay = client.request("POST", "/v1/inventory/movements", first_body, keyed);
  ASSERT_TRUE(replay);
  EXPECT_EQ(replay->status, 202);
  EXPECT_EQ(replay->body, first->body);
  EXPECT_EQ(replay->header("idempotent-replayed"), "true");
  auto reused =
      client.request("POST", "/v1/inventory/movements", "[" + movement(run + "-k2", "SKU-K", "-1") + "]", keyed);
  ASSERT_TRUE(reused);
  EXPECT_EQ(reused->status, 422) << reused->body;

  // A duplicate storm: 10,000 distinct movements, each sent 10 times,
  // concurrently, alternating between the two instances.
  constexpr int kMovements = 10000, kCopies = 10, kThreads = 16;
  std::atomic<int> accepted{0}, duplicates{0}, failures{0};
  std::vector<std::thread> senders;
  for (int t = 0; t < kThreads; ++t) {
    senders.emplace_back([&, t] {
      HttpClient ca("127.0.0.1", a.port), cb("127.0.0.1", b.port);
      for (int i = 0; i < kMovements * kCopies; ++i) {
        if (i % kThreads != t) continue;
        // The copies of one movement are neighbours in i, so different
        // threads send them at the same moment, to both instances.
        const int m = i / kCopies;
        HttpClient& c = (i % kCopies) % 2 == 0 ? ca : cb;
        auto r = c.request("POST", "/v1/inventory/movements",
                           movement(run + "-" + std::to_string(m), "SKU-" + std::to_string(m % 10), "-1"), operate);
        if (!r || r->status != 202) {
          ++failures;
          continue;
        }
        auto j = json::parse(r->body);
        accepted += j["accepted"].get<int>();
        duplicates += j["duplicates"].get<int>();
      }
    });
  }
  for (auto& s : senders) s.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(accepted.load(), kMovements);
  EXPECT_EQ(duplicates.load(), kMovements * (kCopies - 1));

  const std::string like = "'" + run + "-%'";
  const int total = kMovements + 1;  // plus the keyed one
  EXPECT_EQ(
      psql(pg, "SELECT count(*) FROM trueup_workflow WHERE type = 'inventory_movement' AND dedupe_key LIKE " + like),
      std::to_string(total));
  EXPECT_TRUE(
      eventually(pg,
                 "SELECT count(*) FROM trueup_workflow WHERE state = 'completed' AND type = 'inventory_movement'"
                 " AND dedupe_key LIKE " +
                     like,
                 std::to_string(total)));
  EXPECT_EQ(psql(pg, "SELECT count(*) FROM inventory_ledger WHERE movement_id LIKE " + like), std::to_string(total));
  // All outbox events published (relay leader on one of the instances).
  EXPECT_TRUE(eventually(pg, "SELECT count(*) FROM trueup_outbox_pending", "0"));

  // On Kafka: exactly one accepted event per movement, distinct ce_ids, keyed by SKU.
  std::set<std::string> ce_ids;
  int accepted_events = 0, stock_events = 0;
  for (const auto& line : kafka_lines(kafka, "retail.inventory.v1")) {
    auto value = json::parse(line.substr(line.rfind('\t') + 1), nullptr, false);
    if (!value.is_object()) continue;
    const std::string type = header(line, "ce_type");
    if (type == "com.trueup.inventory.movement.accepted.v1" &&
        value.value("movement_id", "").rfind(run + "-", 0) == 0) {
      ++accepted_events;
      ce_ids.insert(header(line, "ce_id"));
      EXPECT_EQ(line.substr(0, line.find('\t')), value.value("sku", "")) << line;
    }
    if (type == "com.trueup.stock.changed.v1" && value.value("last_movement_id", "").rfind(run + "-", 0) == 0)
      ++stock_events;
  }
  EXPECT_EQ(accepted_events, total);
  EXPECT_EQ(static_cast<int>(ce_ids.size()), total);
  EXPECT_EQ(stock_events, total);

  // The admin API: which completed, by type.
  auto listed = client.request("GET", "/v1/workflows?state=completed&type=inventory_movement&limit=5", "",
                               {{"X-Api-Key", kReadKey}});
  ASSERT_TRUE(listed);
  EXPECT_EQ(listed->status, 200);
  EXPECT_EQ(json::parse(listed->body)["items"].size(), 5u);
  auto bad_state = client.request("GET", "/v1/workflows?state=sleepy", "", {{"X-Api-Key", kReadKey}});
  ASSERT_TRUE(bad_state);
  EXPECT_EQ(bad_state->status, 400);

  // The core's metrics are exposed and valid.
  auto metrics = client.get("/metrics");
  ASSERT_TRUE(metrics);
  for (const char* name : {"trueup_inbox_duplicates_total{source=\"api.movements\"}", "trueup_outbox_lag_seconds ",
                           "trueup_outbox_pending ", "trueup_relay_leader ", "trueup_workflow_steps_total{"}) {
    EXPECT_NE(metrics->body.find(name), std::string::npos) << name;
  }
  auto promtool = run_process({"promtool", "check", "metrics"}, {}, std::chrono::seconds(30), metrics->body);
  EXPECT_EQ(promtool.exit_code, 0) << promtool.out << promtool.err;

  stop_instance(a);
  stop_instance(b);
}

TEST(DurableCoreE2E, KillNineDuringLoadLosesAndDoublesNothing) {
  const std::string pg = require_pg_url(), kafka = require_kafka();
  ASSERT_FALSE(pg.empty() || kafka.empty());
  Instance a, b;
  const std::string name_a = unique_name("crash-a");
  start_instance(a, name_a, pg, kafka);
  ASSERT_FALSE(HasFatalFailure());
  start_instance(b, unique_name("crash-b"), pg, kafka);
  ASSERT_FALSE(HasFatalFailure());
  const std::string open_before = psql(pg, "SELECT count(*) FROM trueup_exception WHERE state = 'open'");
  const std::string run = unique_name("crash");
  const std::map<std::string, std::string> operate{{"Authorization", std::string("Bearer ") + kOperateKey}};

  // Eight senders that, like real ones, retry on another instance until they
  // get 202. Instance A is killed with SIGKILL ten times while requests are in
  // flight (at random points of each tenth of the load), and restarted each time.
  constexpr int kMovements = 20000, kSenders = 8, kKills = 10;
  std::atomic<int> next{0}, done{0}, retried{0}, lost{0};
  const auto load_started = std::chrono::steady_clock::now();
  std::atomic<std::uint16_t> port_a{a.port};
  const std::uint16_t port_b = b.port;
  std::vector<std::thread> senders;
  for (int t = 0; t < kSenders; ++t) {
    senders.emplace_back([&] {
      std::uint16_t known_a = 0;
      std::unique_ptr<HttpClient> ca;
      HttpClient cb("127.0.0.1", port_b);
      for (int m; (m = next++) < kMovements;) {
        const std::string body = movement(run + "-" + std::to_string(m), "SKU-C" + std::to_string(m % 200), "-1");
        bool ok = false;
        for (int attempt = 0; attempt < 50 && !ok; ++attempt) {
          if (known_a != port_a.load()) {
            known_a = port_a.load();
            ca = std::make_unique<HttpClient>("127.0.0.1", known_a);
          }
          auto r = (attempt % 2 == 0 ? *ca : cb).request("POST", "/v1/inventory/movements", body, operate);
          ok = r && r->status == 202;
          if (!ok) ++retried;
        }
        if (!ok) ++lost;
        ++done;
      }
    });
  }
  std::mt19937 random(std::random_device{}());
  for (int kill = 0; kill < kKills; ++kill) {
    const int slice = kMovements / (kKills + 1);
    const int threshold = slice * kill + std::uniform_int_distribution<int>(slice / 4, slice - 1)(random);
    while (done.load() < threshold) std::this_thread::yield();  // waiting for load progress
    a.process->signal(SIGKILL);
    ASSERT_TRUE(a.process->wait(std::chrono::seconds(30)).has_value());
    start_instance(a, name_a, pg, kafka);
    ASSERT_FALSE(HasFatalFailure());
    port_a = a.port;
  }
  for (auto& s : senders) s.join();
  EXPECT_EQ(lost.load(), 0);
  const auto load_ended = std::chrono::steady_clock::now();

  const std::string like = "'" + run + "-%'";
  const std::string total = std::to_string(kMovements);
  EXPECT_EQ(
      psql(pg, "SELECT count(*) FROM trueup_workflow WHERE type = 'inventory_movement' AND dedupe_key LIKE " + like),
      total);
  // Work claimed by a killed instance is taken over when its lease (3 s) ends.
  EXPECT_TRUE(eventually(
      pg, "SELECT count(*) FROM trueup_workflow WHERE state = 'completed' AND dedupe_key LIKE " + like, total));
  EXPECT_EQ(psql(pg, "SELECT count(*) FROM inventory_ledger WHERE movement_id LIKE " + like), total);
  EXPECT_TRUE(eventually(pg, "SELECT count(*) FROM trueup_outbox_pending", "0"));
  EXPECT_EQ(psql(pg, "SELECT count(*) FROM trueup_exception WHERE state = 'open'"), open_before);

  // Kafka is at-least-once: an event may appear twice after a crash, but
  // always with its one ce_id, so consumers dedupe on it.
  std::map<std::string, std::set<std::string>> ce_ids_by_movement;
  for (const auto& line : kafka_lines(kafka, "retail.inventory.v1")) {
    if (header(line, "ce_type") != "com.trueup.inventory.movement.accepted.v1") continue;
    auto value = json::parse(line.substr(line.rfind('\t') + 1), nullptr, false);
    if (!value.is_object() || value.value("movement_id", "").rfind(run + "-", 0) != 0) continue;
    ce_ids_by_movement[value["movement_id"]].insert(header(line, "ce_id"));
  }
  EXPECT_EQ(ce_ids_by_movement.size(), static_cast<std::size_t>(kMovements));
  for (const auto& [id, ids] : ce_ids_by_movement) EXPECT_EQ(ids.size(), 1u) << id;
  std::cout << "crash test: " << retried.load() << " requests retried on the other instance; "
            << std::chrono::duration_cast<std::chrono::seconds>(load_ended - load_started).count() << " s of load with "
            << kKills << " kills, then "
            << std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - load_ended).count()
            << " s until every effect was checked\n";

  stop_instance(a);
  stop_instance(b);
}

TEST(DurableCoreE2E, DatabaseDownMeans503AndNothingAcknowledgedIsLost) {
  // A PostgreSQL cluster of this test's own, stopped and started under load.
  const std::string pg_dir = make_temp_dir("trueup-core-pg-");
  const std::string scripts = source_dir() + "/scripts/";
  auto up = run_process({scripts + "pg-up", pg_dir}, {}, std::chrono::seconds(120));
  ASSERT_EQ(up.exit_code, 0) << up.err;
  const std::string pg = up.out.substr(0, up.out.find('\n'));
  struct ClusterGuard {
    std::string scripts, dir;
    ~ClusterGuard() { run_process({scripts + "pg-down", dir}); }
  } guard{scripts, pg_dir};

  Instance a;
  start_daemon(a,
               "instance_id: pgdown\nhttp:\n  port: ${PORT}\n  access_log: false\napi:\n  allow_anonymous: true\n"
               "health:\n  check_interval: 200ms\n"
               "workflow:\n  poll_interval: 200ms\n  lease: 3s\n"
               "store:\n  postgres:\n    url: ${E2E_PG}\n    connect_timeout: 1s\n",
               {{"E2E_PG", pg}});
  ASSERT_FALSE(HasFatalFailure());

  // Send movements one after another; remember which were acknowledged.
  const std::string run = unique_name("pgdown");
  std::vector<std::string> acknowledged;
  int unavailable = 0, other = 0, m = 0;
  HttpClient client("127.0.0.1", a.port);
  auto send_until = [&](const std::function<bool()>& done) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    while (!done() && std::chrono::steady_clock::now() < deadline) {
      const std::string id = run + "-" + std::to_string(m++);
      auto r = client.request("POST", "/v1/inventory/movements", movement(id, "SKU-P", "-1"));
      if (r && r->status == 202) {
        acknowledged.push_back(id);
      } else if (r && r->status == 503) {
        ++unavailable;
        EXPECT_EQ(r->header("content-type"), "application/problem+json");
        EXPECT_FALSE(r->header("retry-after").empty());
      } else {
        ++other;
      }
    }
  };
  send_until([&] { return acknowledged.size() >= 200; });
  auto stop = run_process({scripts + "pg-ctl", pg_dir, "stop"}, {}, std::chrono::seconds(90));
  ASSERT_EQ(stop.exit_code, 0) << stop.err;
  send_until([&] { return unavailable >= 20; });
  EXPECT_GE(unavailable, 20);
  auto start = run_process({scripts + "pg-ctl", pg_dir, "start"}, {}, std::chrono::seconds(90));
  ASSERT_EQ(start.exit_code, 0) << start.err;
  const std::size_t before_restart = acknowledged.size();
  send_until([&] { return acknowledged.size() >= before_restart + 200; });
  EXPECT_EQ(other, 0) << "answers that were neither 202 nor 503";
  ASSERT_GE(acknowledged.size(), before_restart + 200) << "intake did not recover after the database came back";

  // Every acknowledged movement is in the store and its workflow completes.
  const std::string like = "'" + run + "-%'";
  const std::string n = std::to_string(acknowledged.size());
  EXPECT_TRUE(eventually(pg, "SELECT count(*) FROM trueup_inbox WHERE dedupe_key LIKE " + like, n));
  EXPECT_TRUE(
      eventually(pg, "SELECT count(*) FROM trueup_workflow WHERE state = 'completed' AND dedupe_key LIKE " + like, n));
  EXPECT_EQ(psql(pg, "SELECT count(*) FROM inventory_ledger WHERE movement_id LIKE " + like), n);
  EXPECT_EQ(
      psql(pg, "SELECT (-sum(quantity_e5) / 100000)::bigint FROM inventory_ledger WHERE movement_id LIKE " + like), n);
  stop_instance(a);
}

TEST(DurableCoreE2E, KafkaDownMeansTheOutboxGrowsAndTheRelayCatchesUp) {
  // A broker of this test's own, stopped and started again under load.
  const std::string pg = require_pg_url();
  ASSERT_FALSE(pg.empty());
  const std::string kafka_dir = make_temp_dir("trueup-core-kafka-");
  const std::string scripts = source_dir() + "/scripts/";
  auto up = run_process({scripts + "kafka-up", kafka_dir}, {}, std::chrono::seconds(180));
  ASSERT_EQ(up.exit_code, 0) << up.err;
  const std::string kafka = up.out.substr(0, up.out.find('\n'));
  struct BrokerGuard {
    std::string scripts, dir;
    ~BrokerGuard() { run_process({scripts + "kafka-down", dir}, {}, std::chrono::seconds(90)); }
  } guard{scripts, kafka_dir};

  Instance a;
  start_instance(a, unique_name("kafkadown"), pg, kafka);
  ASSERT_FALSE(HasFatalFailure());
  const std::string run = unique_name("kdown");
  const std::map<std::string, std::string> operate{{"Authorization", std::string("Bearer ") + kOperateKey}};
  HttpClient client("127.0.0.1", a.port);
  int sent = 0, refused = 0;
  auto send = [&](int n) {
    for (int i = 0; i < n; ++i) {
      auto r =
          client.request("POST", "/v1/inventory/movements",
                         movement(run + "-" + std::to_string(sent), "SKU-K" + std::to_string(sent % 5), "-1"), operate);
      if (r && r->status == 202)
        ++sent;
      else
        ++refused;
    }
  };
  auto pending = [&] {
    return std::stoll(psql(
        pg, "SELECT count(*) FROM trueup_outbox o JOIN trueup_outbox_pending p ON p.seq = o.seq WHERE o.data LIKE '%" +
                run + "-%'"));
  };
  send(300);
  auto stop = run_process({scripts + "kafka-ctl", kafka_dir, "stop"}, {}, std::chrono::seconds(90));
  ASSERT_EQ(stop.exit_code, 0) << stop.err;
  // Intake does not need the broker: it keeps accepting, and the outbox grows.
  send(700);
  EXPECT_EQ(refused, 0);
  EXPECT_GT(pending(), 0) << "the outbox should hold what could not be published";
  auto start = run_process({scripts + "kafka-ctl", kafka_dir, "start"}, {}, std::chrono::seconds(90));
  ASSERT_EQ(start.exit_code, 0) << start.err;
  send(300);
  EXPECT_EQ(refused, 0);

  const std::string like = "'" + run + "-%'";
  const std::string n = std::to_string(sent);
  EXPECT_TRUE(
      eventually(pg, "SELECT count(*) FROM trueup_workflow WHERE state = 'completed' AND dedupe_key LIKE " + like, n));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (pending() > 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // the relay catches up in the background
  EXPECT_EQ(pending(), 0);

  // Every movement's events reached the broker, each under one ce_id.
  std::map<std::string, std::set<std::string>> accepted, changed;
  for (const auto& line : kafka_lines(kafka, "retail.inventory.v1")) {
    auto value = json::parse(line.substr(line.rfind('\t') + 1), nullptr, false);
    if (!value.is_object()) continue;
    const std::string type = header(line, "ce_type");
    const std::string movement_id = value.value("movement_id", value.value("last_movement_id", ""));
    if (movement_id.rfind(run + "-", 0) != 0) continue;  // the database holds other tests' events too
    if (type == "com.trueup.inventory.movement.accepted.v1")
      accepted[movement_id].insert(header(line, "ce_id"));
    else if (type == "com.trueup.stock.changed.v1")
      changed[movement_id].insert(header(line, "ce_id"));
  }
  EXPECT_EQ(accepted.size(), static_cast<std::size_t>(sent));
  EXPECT_EQ(changed.size(), static_cast<std::size_t>(sent));
  for (const auto& [id, ids] : accepted) EXPECT_EQ(ids.size(), 1u) << id;
  for (const auto& [id, ids] : changed) EXPECT_EQ(ids.size(), 1u) << id;
  stop_instance(a);
}

TEST(DurableCoreE2E, CrosswalkOverApiAndCommandLine) {
  const std::string pg = require_pg_url(), kafka = require_kafka();
  ASSERT_FALSE(pg.empty() || kafka.empty());
  Instance a;
  start_instance(a, unique_name("xw"), pg, kafka);
  ASSERT_FALSE(HasFatalFailure());
  const std::string ext = unique_name("var");
  const std::map<std::string, std::string> operate{{"Authorization", std::string("Bearer ") + kOperateKey},
                                                   {"Content-Type", "application/json"}};
  HttpClient client("127.0.0.1", a.port);
  auto missing = client.request("GET", "/v1/crosswalk/shopify/sku/" + ext, "", operate);
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  auto put = client.request("PUT", "/v1/crosswalk/shopify/sku/" + ext, R"({"canonical_id":"SKU-RED-M"})", operate);
  ASSERT_TRUE(put);
  ASSERT_EQ(put->status, 200) << put->body;
  EXPECT_EQ(json::parse(put->body)["updated_by"], "operator");
  auto got = client.request("GET", "/v1/crosswalk/shopify/sku/" + ext, "", {{"X-Api-Key", kReadKey}});
  ASSERT_TRUE(got);
  EXPECT_EQ(json::parse(got->body)["canonical_id"], "SKU-RED-M");

  const std::string csv_path = a.dir + "/map.csv";
  write_file(csv_path, "system,entity,external_id,canonical_id\nsquare,location," + ext + ",STORE-07\n");
  auto imported = run_process(
      {trueup_binary(), "crosswalk", "import", csv_path, "--url", "http://127.0.0.1:" + std::to_string(a.port)},
      {{"TRUEUP_API_KEY", kOperateKey}});
  EXPECT_EQ(imported.exit_code, 0) << imported.err;
  EXPECT_NE(imported.out.find("1 mappings written"), std::string::npos) << imported.out;
  EXPECT_EQ(psql(pg, "SELECT canonical_id FROM crosswalk WHERE system = 'square' AND external_id = '" + ext + "'"),
            "STORE-07");
  write_file(csv_path, "system,entity,external_id,canonical_id\nsquare,location\n");
  auto broken = run_process(
      {trueup_binary(), "crosswalk", "import", csv_path, "--url", "http://127.0.0.1:" + std::to_string(a.port)},
      {{"TRUEUP_API_KEY", kOperateKey}});
  EXPECT_EQ(broken.exit_code, 2);
  EXPECT_NE(broken.err.find("line 2"), std::string::npos) << broken.err;

  // Operator verbs on the command line talk to the admin API.
  const std::string url = "http://127.0.0.1:" + std::to_string(a.port);
  auto listed =
      run_process({trueup_binary(), "workflows", "list", "--limit", "3", "--url", url}, {{"TRUEUP_API_KEY", kReadKey}});
  EXPECT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_TRUE(json::parse(listed.out, nullptr, false).contains("items")) << listed.out;
  auto unknown = run_process({trueup_binary(), "exceptions", "resolve", "no-such-id", "--reason", "test", "--url", url},
                             {{"TRUEUP_API_KEY", kOperateKey}});
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_NE(unknown.err.find("404"), std::string::npos) << unknown.err;
  auto forbidden =
      run_process({trueup_binary(), "workflows", "cancel", "no-such-id", "--url", url}, {{"TRUEUP_API_KEY", kReadKey}});
  EXPECT_EQ(forbidden.exit_code, 2);
  EXPECT_NE(forbidden.err.find("403"), std::string::npos) << forbidden.err;

  auto spec = client.get("/v1/openapi.json");
  ASSERT_TRUE(spec);
  EXPECT_EQ(spec->status, 200);
  EXPECT_EQ(json::parse(spec->body)["openapi"].get<std::string>().rfind("3.", 0), 0u);
  stop_instance(a);
}

}  // namespace
}  // namespace trueup::testing
