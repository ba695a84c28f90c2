// Outbox -> Kafka relay throughput (label bench): seeds N pending events,
// then times the relay draining them and prints events/s. No assertions on
// timings. The outbox is PostgreSQL when TRUEUP_TEST_PG_URL is set (else an
// SQLite file); Kafka is TRUEUP_TEST_KAFKA. Target: >= 50,000 events/s.
//
// Two modes per batch size: `thread` is the relay as the daemon runs it
// (start(): pipelined, pipeline_depth batches in flight), timed until
// trueup_outbox_published_total reaches N; `pass` calls publish_batch() in a
// loop (one batch at a time, nothing overlapped), as this bench did before
// the pipeline.
//
// TRUEUP_RELAY_BENCH_EVENTS (default 100000), TRUEUP_RELAY_BENCH_BATCHES
// (comma-separated batch sizes, default "500,2000"), TRUEUP_RELAY_BENCH_MODES
// (default "thread,pass"), TRUEUP_RELAY_BENCH_DEPTH (pipeline_depth, default
// RelaySettings') and TRUEUP_RELAY_BENCH_KAFKA (extra producer properties,
// "key=value,key=value") tune the run.

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <thread>

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

std::vector<std::string> env_list(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  std::stringstream in(v && *v ? v : fallback);
  std::vector<std::string> out;
  for (std::string part; std::getline(in, part, ',');)
    if (!part.empty()) out.push_back(part);
  return out;
}

double published_total(const metrics::Registry& registry) {
  const std::string name = "\ntrueup_outbox_published_total ";
  const auto text = registry.render();
  const auto pos = text.find(name);
  return pos == std::string::npos ? 0 : std::stod(text.substr(pos + name.size()));
}

TEST(RelayBench, OutboxToKafkaEventsPerSecond) {
  const int events = env_int("TRUEUP_RELAY_BENCH_EVENTS", 100000);
  const bool pg = std::getenv("TRUEUP_TEST_PG_URL") && *std::getenv("TRUEUP_TEST_PG_URL");
  bus::KafkaSettings ks;
  ks.bootstrap_servers = trueup::testing::require_kafka();
  for (const auto& property : env_list("TRUEUP_RELAY_BENCH_KAFKA", "")) {
    const auto eq = property.find('=');
    ASSERT_NE(eq, std::string::npos) << property;
    ks.properties[property.substr(0, eq)] = property.substr(eq + 1);
  }
  auto bus = bus::open_kafka(ks);
  ASSERT_TRUE(bus) << bus.error().describe();
  auto producer = (*bus)->producer();
  ASSERT_TRUE(producer);

  for (const auto& batch_text : env_list("TRUEUP_RELAY_BENCH_BATCHES", "500,2000")) {
    for (const auto& mode : env_list("TRUEUP_RELAY_BENCH_MODES", "thread,pass")) {
      const std::size_t batch = std::stoul(batch_text);
      auto db = test::open_test_store(pg ? test::Engine::postgres : test::Engine::sqlite);
      ASSERT_TRUE(db->store);
      const auto topic = trueup::testing::unique_name("relay_bench");
      ASSERT_TRUE((*bus)->ensure_topics({{topic, 6, 1}}, true));

      Outbox outbox(*db->store);
      const auto seed_start = std::chrono::steady_clock::now();
      for (int base = 0; base < events; base += 1000) {
        auto st = db->store->transact([&](store::Transaction& tx) -> Status {
          for (int i = base; i < std::min(events, base + 1000); ++i) {
            nlohmann::json data{{"sku", "SKU-" + std::to_string(i % 500)},
                                {"location", "store-7"},
                                {"on_hand", i},
                                {"available", i - 3}};
            auto a = outbox.append(
                tx, OutboxEvent{"", topic, "SKU-" + std::to_string(i % 500), "com.trueup.stock.changed.v1",
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
      settings.pipeline_depth =
          static_cast<std::size_t>(env_int("TRUEUP_RELAY_BENCH_DEPTH", static_cast<int>(settings.pipeline_depth)));
      Relay relay(*db->store, **producer, registry, settings);
      const auto start = std::chrono::steady_clock::now();
      if (mode == "thread") {
        relay.start();
        relay.notify();
        const auto give_up = start + std::chrono::minutes(5);
        while (published_total(registry) < events && std::chrono::steady_clock::now() < give_up)
          std::this_thread::sleep_for(std::chrono::milliseconds(1));
        ASSERT_GE(published_total(registry), events) << "the relay did not publish every event within 5 minutes";
      } else {
        std::size_t published = 0;
        while (published < static_cast<std::size_t>(events)) {
          auto r = relay.publish_batch();
          ASSERT_TRUE(r) << r.error().describe();
          ASSERT_TRUE(r->first_error.empty()) << r->first_error;
          published += r->published;
        }
      }
      const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      relay.stop();
      EXPECT_EQ(test::query_int(*db->store, "SELECT count(*) FROM trueup_outbox_pending"), 0);
      std::printf(
          "relay_bench: store=%s mode=%s batch=%zu depth=%zu events=%d seconds=%.3f events_per_second=%.0f "
          "(seeding via Outbox::append: %.0f events/s; target relay >= 50000/s)\n",
          std::string(db->store->engine()).c_str(), mode.c_str(), batch, mode == "thread" ? settings.pipeline_depth : 1,
          events, secs, events / secs, events / seed_s);
      std::fflush(stdout);
    }
  }
}

}  // namespace
}  // namespace trueup::messaging
