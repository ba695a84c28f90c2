// The outbox relay against a real Kafka broker (label kafka,
// TRUEUP_TEST_KAFKA; scripts/kafka-up), with an SQLite outbox.

#include <gtest/gtest.h>

#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "trueup/messaging/outbox.hpp"
#include "trueup/messaging/relay.hpp"
#include "unit/messaging_test_support.hpp"

namespace trueup::messaging {
namespace {

using namespace std::chrono_literals;

void append_events(store::Store& s, const std::string& topic, int count, int keys, Clock clock = {}) {
  Outbox outbox(s, std::move(clock));
  std::map<int, int> next;
  for (int base = 0; base < count; base += 1000) {
    auto st = s.transact([&](store::Transaction& tx) -> Status {
      for (int i = base; i < std::min(count, base + 1000); ++i) {
        const int key = i % keys;
        nlohmann::json data{{"key", key}, {"n", next[key]++}};
        auto a = outbox.append(
            tx, OutboxEvent{"", topic, "SKU-" + std::to_string(key), "com.trueup.test.v1", "/trueup/test", "", "",
                            data.dump(), "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"});
        if (!a) return a.error();
      }
      return Ok{};
    });
    ASSERT_TRUE(st) << st.error().describe();
  }
}

std::int64_t pending(store::Store& s) { return test::query_int(s, "SELECT count(*) FROM trueup_outbox_pending"); }

double metric(const metrics::Registry& r, const std::string& name) {
  const auto text = r.render();
  const auto pos = text.find("\n" + name + " ");
  return pos == std::string::npos ? -1 : std::stod(text.substr(pos + name.size() + 2));
}

// Reads `topic` until `expected` messages came or nothing came for 10 s;
// checks per-key order and returns the distinct ce_ids.
std::set<std::string> consume_checked(bus::Bus& bus, const std::string& topic, std::size_t expected,
                                      std::size_t& received) {
  auto consumer = bus.consumer(trueup::testing::unique_name("check"), {topic});
  EXPECT_TRUE(consumer);
  std::set<std::string> ids;
  std::map<std::string, int> next;
  received = 0;
  if (!consumer) return ids;
  while (received < expected) {
    auto m = (*consumer)->poll(10s);
    EXPECT_TRUE(m) << m.error().describe();
    if (!m || !*m) break;
    const auto& msg = **m;
    ++received;
    EXPECT_EQ(*msg.header("ce_specversion"), "1.0");
    EXPECT_NE(msg.header("traceparent"), nullptr);
    ids.insert(*msg.header("ce_id"));
    const int n = nlohmann::json::parse(msg.value)["n"].get<int>();
    EXPECT_EQ(n, next[msg.key]++) << "key " << msg.key;
  }
  // Nothing more than expected (no duplicates).
  auto extra = (*consumer)->poll(1s);
  EXPECT_TRUE(extra && !*extra);
  return ids;
}

TEST(RelayKafkaTest, TenThousandEventsOverFiftyKeysArePublishedOnceInKeyOrder) {
  auto db = test::open_test_store(test::Engine::sqlite);
  bus::KafkaSettings ks;
  ks.bootstrap_servers = trueup::testing::require_kafka();
  auto bus = bus::open_kafka(ks);
  ASSERT_TRUE(bus) << bus.error().describe();
  const auto topic = trueup::testing::unique_name("relay");
  ASSERT_TRUE((*bus)->ensure_topics({{topic, 6, 1}}, true));
  auto producer = (*bus)->producer();
  ASSERT_TRUE(producer);
  append_events(*db->store, topic, 10000, 50);

  metrics::Registry registry;
  Relay relay(*db->store, **producer, registry, RelaySettings{});
  relay.start();
  relay.notify();
  ASSERT_TRUE(test::eventually([&] { return pending(*db->store) == 0; }));
  relay.stop();
  EXPECT_EQ(metric(registry, "trueup_outbox_published_total"), 10000);
  EXPECT_EQ(metric(registry, "trueup_outbox_publish_failures_total"), 0);

  std::size_t received = 0;
  auto ids = consume_checked(**bus, topic, 10000, received);
  EXPECT_EQ(received, 10000u);
  EXPECT_EQ(ids.size(), 10000u);
}

TEST(RelayKafkaTest, UnreachableBrokerKeepsEventsPendingThenAWorkingBusPublishesAll) {
  auto db = test::open_test_store(test::Engine::sqlite);
  test::ManualClock clock;
  const auto topic = trueup::testing::unique_name("relay_down");
  append_events(*db->store, topic, 300, 7, clock.clock());

  {
    bus::KafkaSettings down;
    down.bootstrap_servers = "127.0.0.1:1";  // nothing answers there
    down.properties = {{"message.timeout.ms", "1000"}};
    down.request_timeout = 2000ms;
    auto bus = bus::open_kafka(down);
    ASSERT_TRUE(bus) << bus.error().describe();
    auto producer = (*bus)->producer();
    ASSERT_TRUE(producer);
    metrics::Registry registry;
    RelaySettings settings;
    settings.retry_backoff = 100ms;
    Relay relay(*db->store, **producer, registry, settings, {}, clock.clock());
    relay.start();
    ASSERT_TRUE(test::eventually([&] { return metric(registry, "trueup_outbox_publish_failures_total") > 0; }));
    relay.stop();
    EXPECT_EQ(pending(*db->store), 300);
    EXPECT_EQ(metric(registry, "trueup_outbox_published_total"), 0);
    ASSERT_TRUE(relay.refresh_gauges());
    EXPECT_EQ(metric(registry, "trueup_outbox_pending"), 300);
    const double lag1 = metric(registry, "trueup_outbox_lag_seconds");
    clock.advance(15s);
    ASSERT_TRUE(relay.refresh_gauges());
    EXPECT_NEAR(metric(registry, "trueup_outbox_lag_seconds"), lag1 + 15, 0.5);
    (*bus)->stop();
  }

  bus::KafkaSettings ks;
  ks.bootstrap_servers = trueup::testing::require_kafka();
  auto bus = bus::open_kafka(ks);
  ASSERT_TRUE(bus);
  ASSERT_TRUE((*bus)->ensure_topics({{topic, 3, 1}}, true));
  auto producer = (*bus)->producer();
  ASSERT_TRUE(producer);
  metrics::Registry registry;
  Relay relay(*db->store, **producer, registry, RelaySettings{}, {}, clock.clock());
  relay.start();
  ASSERT_TRUE(test::eventually([&] { return pending(*db->store) == 0; }));
  relay.stop();
  ASSERT_TRUE(relay.refresh_gauges());
  EXPECT_EQ(metric(registry, "trueup_outbox_lag_seconds"), 0);
  std::size_t received = 0;
  auto ids = consume_checked(**bus, topic, 300, received);
  EXPECT_EQ(received, 300u);
  EXPECT_EQ(ids.size(), 300u);
}

}  // namespace
}  // namespace trueup::messaging
