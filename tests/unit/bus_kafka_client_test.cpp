// The Kafka engine without a broker: settings and properties checks, and
// what happens when the brokers cannot be reached (127.0.0.1:1 refuses at
// once). The behaviour against a real broker is in bus_conformance_test.cpp.

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <vector>

#include "trueup/bus/bus.hpp"

namespace trueup::bus {
namespace {

using namespace std::chrono_literals;

constexpr const char* kNowhere = "127.0.0.1:1";

KafkaSettings nowhere() {
  KafkaSettings s;
  s.bootstrap_servers = kNowhere;
  s.request_timeout = 2s;
  return s;
}

Message message(std::string topic) {
  Message m;
  m.topic = std::move(topic);
  m.key = "k";
  m.value = "v";
  return m;
}

TEST(KafkaClient, UnknownPropertyIsRejectedNamingIt) {
  auto s = nowhere();
  s.properties["no.such.property"] = "1";
  auto bus = open_kafka(s);
  ASSERT_FALSE(bus.ok());
  EXPECT_EQ(bus.error().code, Errc::invalid_argument);
  EXPECT_NE(bus.error().message.find("no.such.property"), std::string::npos) << bus.error().message;
}

TEST(KafkaClient, BadPropertyValueIsRejected) {
  auto s = nowhere();
  s.properties["queue.buffering.max.messages"] = "lots";
  auto bus = open_kafka(s);
  ASSERT_FALSE(bus.ok());
  EXPECT_EQ(bus.error().code, Errc::invalid_argument);
  EXPECT_NE(bus.error().message.find("queue.buffering.max.messages"), std::string::npos) << bus.error().message;
}

TEST(KafkaClient, PropertiesThatBreakTheGuaranteesAreRejected) {
  for (const char* key :
       {"enable.idempotence", "acks", "enable.auto.commit", "group.id", "partitioner", "bootstrap.servers"}) {
    auto s = nowhere();
    s.properties[key] = "x";
    auto bus = open_kafka(s);
    ASSERT_FALSE(bus.ok()) << key;
    EXPECT_EQ(bus.error().code, Errc::invalid_argument);
    EXPECT_NE(bus.error().message.find(key), std::string::npos) << bus.error().message;
  }
}

TEST(KafkaClient, ConsumerPropertiesAreCheckedAtOpen) {
  auto s = nowhere();
  s.properties["session.timeout.ms"] = "not-a-number";
  EXPECT_EQ(open_kafka(s).error().code, Errc::invalid_argument);
}

TEST(KafkaClient, EmptyBootstrapIsRejected) {
  KafkaSettings s;
  EXPECT_EQ(open_kafka(s).error().code, Errc::invalid_argument);
}

TEST(KafkaClient, UnreachableBrokerFailsPingAsUnavailable) {
  auto bus = open_kafka(nowhere());
  ASSERT_TRUE(bus.ok()) << bus.error().describe();  // opening does not connect
  EXPECT_EQ((*bus)->engine(), "kafka");
  auto st = (*bus)->ping(1s);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, Errc::unavailable);
  EXPECT_TRUE(st.error().retryable());
  EXPECT_NE(st.error().message.find(kNowhere), std::string::npos) << st.error().message;
}

TEST(KafkaClient, UnreachableBrokerFailsEnsureTopicsRetryably) {
  auto bus = std::move(open_kafka(nowhere())).value();
  auto st = bus->ensure_topics({{"t", 1, 1}}, true);
  ASSERT_FALSE(st.ok());
  EXPECT_TRUE(st.error().retryable()) << st.error().describe();
}

TEST(KafkaClient, UndeliverableMessageFailsRetryablyOnce) {
  auto s = nowhere();
  s.properties["message.timeout.ms"] = "300";
  auto bus = std::move(open_kafka(s)).value();
  auto producer = std::move(bus->producer()).value();
  std::atomic<int> calls{0};
  Errc code = Errc::ok;
  producer->produce(message("t"), [&](Result<Delivery> r) {
    ++calls;
    code = r.ok() ? Errc::ok : r.error().code;
  });
  ASSERT_TRUE(producer->flush(30s).ok());
  EXPECT_EQ(calls.load(), 1);
  EXPECT_EQ(code, Errc::timeout);
  bus->stop();
  EXPECT_EQ(calls.load(), 1);
}

TEST(KafkaClient, StopFailsWhatIsStillQueuedExactlyOnce) {
  auto s = nowhere();
  s.request_timeout = 200ms;  // the flush in stop() gives up after this
  auto bus = std::move(open_kafka(s)).value();
  auto producer = std::move(bus->producer()).value();
  std::vector<std::atomic<int>> calls(5);
  std::vector<Errc> codes(5, Errc::ok);
  for (std::size_t i = 0; i < calls.size(); ++i)
    producer->produce(message("t"), [&, i](Result<Delivery> r) {
      codes[i] = r.ok() ? Errc::ok : r.error().code;
      ++calls[i];
    });
  EXPECT_EQ(producer->flush(50ms).error().code, Errc::timeout);
  bus->stop();
  for (std::size_t i = 0; i < calls.size(); ++i) {
    EXPECT_EQ(calls[i].load(), 1) << i;
    EXPECT_EQ(codes[i], Errc::unavailable) << i;
  }
  // The producer outlives the bus and fails at once.
  auto late = producer->produce_sync(message("t"), 1s);
  EXPECT_EQ(late.error().code, Errc::unavailable);
}

}  // namespace
}  // namespace trueup::bus
