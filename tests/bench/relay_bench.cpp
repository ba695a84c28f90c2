// Outbox -> Kafka relay throughput (label bench): seeds N pending events,
// then times the relay draining them and prints events/s. No assertions on
// timings. The outbox is PostgreSQL when TRUEUP_TEST_PG_URL is set (else an
// SQLite file); Kafka is TRUEUP_TEST_KAFKA. Target: >= 50,000 events/s.
//
// TRUEUP_RELAY_BENCH_EVENTS (default 100000) and TRUEUP_RELAY_BENCH_BATCHES
// (comma-separated batch sizes, default "500,2000") tune the run.

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <sstream>

#include <nlohmann/json.hpp>

#include "trueup/messaging/outbox.hpp"
#include "trueup/messaging/relay.hpp"
#include "unit/messaging_test_support.hpp"

namespace trueup::messaging {
namespace {

int env_int(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::atoi(v) : fallback;
}

std::vector<std::size_t> batch_sizes() {
  const char* v = std::getenv("TRUEUP_RELAY_BENCH_BATCHES");
  std::stringstream in(v && *v ? v : "500,2000");
  std::vector<std::size_t> out;
  for (std::string part; std::getline(in, part, ',');) out.push_back(std::stoul(part));
  return out;
}

TEST(RelayBench, OutboxToKafkaEventsPerSecond) {
  const int events = env_int("TRUEUP_RELAY_BENCH_EVENTS", 100000);
  const bool pg = std::getenv("TRUEUP_TEST_PG_URL") && *std::getenv("TRUEUP_TEST_PG_URL");
  bus::KafkaSettings ks;
  ks.bootstrap_servers = trueup::testing::require_kafka();
  auto bus = bus::open_kafka(ks);
  ASSERT_TRUE(bus) << bus.error().describe();
  auto producer = (*bus)->producer();
  ASSERT_TRUE(producer);

  for (std::size_t batch : batch_sizes()) {
    auto db = test::open_test_store(pg ? test::Engine::postgres : test::Engine::sqlite);
    ASSERT_TRUE(db->store);
    const auto topic = trueup::testing::unique_name("relay_bench");
    ASSERT_TRUE((*bus)->ensure_topics({{topic, 6, 1}}, true));

    Outbox outbox(*db->store);
    const auto seed_start = std::chrono::steady_clock::now();
    for (int base = 0; base < events; base += 1000) {
      auto st = db->store->transact([&](store::Transaction& tx) -> Status {
        for (int i = base; i < std::min(events, base + 1000); ++i) {
          nlohmann::json data{
              {"sku", "SKU-" + std::to_string(i % 500)}, {"location", "store-7"}, {"on_hand", i}, {"available", i - 3}};
          auto a =
              outbox.append(tx, OutboxEvent{"", topic, "SKU-" + std::to_string(i % 500), "com.trueup.stock.changed.v1",
                                            "/trueup/inventory", "", "", data.dump(), ""});
          if (!a) return a.error();
        }
        return Ok{};
      });
      ASSERT_TRUE(st) << st.error().describe();
    }
    const double seed_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - seed_start).count();

    metrics::Registry registry;
    RelaySettings settings;
    settings.batch_size = batch;
    Relay relay(*db->store, **producer, registry, settings);
    std::size_t published = 0;
    const auto start = std::chrono::steady_clock::now();
    while (published < static_cast<std::size_t>(events)) {
      auto r = relay.publish_batch();
      ASSERT_TRUE(r) << r.error().describe();
      ASSERT_TRUE(r->first_error.empty()) << r->first_error;
      published += r->published;
    }
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf(
        "relay_bench: store=%s batch=%zu events=%d seconds=%.3f events_per_second=%.0f "
        "(seeding via Outbox::append: %.0f events/s; target relay >= 50000/s)\n",
        std::string(db->store->engine()).c_str(), batch, events, secs, events / secs, events / seed_s);
    std::fflush(stdout);
  }
}

}  // namespace
}  // namespace trueup::messaging
