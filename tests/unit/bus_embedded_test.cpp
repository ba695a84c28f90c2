// What only the embedded bus does, or does its own way: partition split and
// hand-over between members of a group, waking pollers, its delivery thread,
// and the murmur2 placement it shares with Kafka. The behaviour both engines
// share is in bus_conformance_test.cpp.

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <future>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "trueup/bus/bus.hpp"

namespace trueup::bus {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

Message message(const std::string& topic, std::string key, std::string value) {
  Message m;
  m.topic = topic;
  m.key = std::move(key);
  m.value = std::move(value);
  return m;
}

// Everything the consumer can get now: polls until one poll comes back empty.
std::vector<Message> drain(Consumer& consumer) {
  std::vector<Message> out;
  for (int guard = 0; guard < 10000; ++guard) {
    auto m = consumer.poll(0ms);
    EXPECT_TRUE(m.ok());
    if (!m.ok() || !m->has_value()) break;
    out.push_back(std::move(**m));
  }
  return out;
}

std::set<std::int32_t> partitions_of(const std::vector<Message>& messages) {
  std::set<std::int32_t> out;
  for (const auto& m : messages) out.insert(m.partition);
  return out;
}

class EmbeddedBusTest : public ::testing::Test {
 protected:
  void SetUp() override {
    bus_ = open_embedded(EmbeddedSettings{});
    producer_ = std::move(bus_->producer()).value();
  }

  void produce_keys(const std::string& topic, int count) {
    for (int i = 0; i < count; ++i)
      ASSERT_TRUE(producer_->produce_sync(message(topic, "key-" + std::to_string(i), std::to_string(i)), 5s).ok());
  }

  std::unique_ptr<Bus> bus_;
  std::unique_ptr<Producer> producer_;
};

TEST(PartitionForKey, IsKafkaMurmur2) {
  // Kafka's UtilsTest.testMurmur2 vectors, through toPositive (sign bit cleared).
  const std::map<std::string, std::int32_t> murmur2{
      {"21", -973932308},
      {"foobar", -790332482},
      {"a-little-bit-long-string", -985981536},
      {"a-little-bit-longer-string", -1486304829},
      {"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971},
      {"abc", 479470107},
  };
  constexpr std::int32_t kMax = 0x7fffffff;
  for (const auto& [key, hash] : murmur2)
    EXPECT_EQ(partition_for_key(key, kMax),
              static_cast<std::int32_t>(static_cast<std::uint32_t>(hash) & 0x7fffffffU) % kMax)
        << key;
  EXPECT_EQ(partition_for_key("anything", 1), 0);
  EXPECT_EQ(partition_for_key("anything", 0), 0);
}

TEST_F(EmbeddedBusTest, MembersOfAGroupSplitPartitionsAndTakeOverOnClose) {
  ASSERT_TRUE(bus_->ensure_topics({{"stock", 4, 1}}, true).ok());
  auto first = std::move(bus_->consumer("relay", {"stock"})).value();
  auto second = std::move(bus_->consumer("relay", {"stock"})).value();
  produce_keys("stock", 40);

  auto a = drain(*first);
  auto b = drain(*second);
  EXPECT_EQ(a.size() + b.size(), 40u);
  EXPECT_EQ(partitions_of(a), (std::set<std::int32_t>{0, 2}));
  EXPECT_EQ(partitions_of(b), (std::set<std::int32_t>{1, 3}));

  // first commits all it read; second commits nothing and leaves.
  for (const auto& m : a) ASSERT_TRUE(first->commit(m).ok());
  second->close();
  auto taken_over = drain(*first);
  EXPECT_EQ(taken_over.size(), b.size());  // second's uncommitted messages, again
  EXPECT_EQ(partitions_of(taken_over), (std::set<std::int32_t>{1, 3}));
}

TEST_F(EmbeddedBusTest, CommitForAPartitionThatMovedIsAConflict) {
  ASSERT_TRUE(bus_->ensure_topics({{"orders", 2, 1}}, true).ok());
  auto first = std::move(bus_->consumer("sync", {"orders"})).value();
  produce_keys("orders", 20);
  auto read = drain(*first);
  ASSERT_EQ(partitions_of(read), (std::set<std::int32_t>{0, 1}));

  auto second = std::move(bus_->consumer("sync", {"orders"})).value();  // takes partition 1
  for (const auto& m : read) {
    auto st = first->commit(m);
    if (m.partition == 0) {
      EXPECT_TRUE(st.ok());
    } else {
      ASSERT_FALSE(st.ok());
      EXPECT_EQ(st.error().code, Errc::conflict);
    }
  }
  // second starts partition 1 from the beginning: nothing was committed there.
  auto b = drain(*second);
  std::size_t on_one = 0;
  for (const auto& m : read) on_one += m.partition == 1 ? 1 : 0;
  EXPECT_EQ(b.size(), on_one);
}

TEST_F(EmbeddedBusTest, ConsumerSubscribedBeforeTheTopicExistsGetsItsMessages) {
  auto consumer = std::move(bus_->consumer("early", {"late"})).value();
  auto none = consumer->poll(0ms);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  ASSERT_TRUE(bus_->ensure_topics({{"late", 0, 1}}, true).ok());  // 0: default partitions
  produce_keys("late", 3);
  EXPECT_EQ(drain(*consumer).size(), 3u);
}

TEST_F(EmbeddedBusTest, PollWakesWhenAMessageArrives) {
  ASSERT_TRUE(bus_->ensure_topics({{"wake", 1, 1}}, true).ok());
  auto consumer = std::move(bus_->consumer("g", {"wake"})).value();
  auto polled = std::async(std::launch::async, [&] { return consumer->poll(60s); });
  ASSERT_TRUE(producer_->produce_sync(message("wake", "k", "v"), 5s).ok());
  auto m = polled.get();
  ASSERT_TRUE(m.ok());
  ASSERT_TRUE(m->has_value());
  EXPECT_EQ((*m)->value, "v");
}

TEST_F(EmbeddedBusTest, StopWakesAPollingConsumer) {
  ASSERT_TRUE(bus_->ensure_topics({{"quiet", 1, 1}}, true).ok());
  auto consumer = std::move(bus_->consumer("g", {"quiet"})).value();
  auto polled = std::async(std::launch::async, [&] { return consumer->poll(60s); });
  bus_->stop();
  auto m = polled.get();
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.error().code, Errc::unavailable);
}

TEST_F(EmbeddedBusTest, EmptyKeysGoRoundRobin) {
  ASSERT_TRUE(bus_->ensure_topics({{"spread", 3, 1}}, true).ok());
  std::map<std::int32_t, int> per_partition;
  for (int i = 0; i < 6; ++i) {
    auto d = producer_->produce_sync(message("spread", "", "v"), 5s);
    ASSERT_TRUE(d.ok());
    ++per_partition[d->partition];
  }
  EXPECT_EQ(per_partition, (std::map<std::int32_t, int>{{0, 2}, {1, 2}, {2, 2}}));
}

TEST_F(EmbeddedBusTest, CallbacksRunOnTheBusThreadAndMayNotWaitOnIt) {
  ASSERT_TRUE(bus_->ensure_topics({{"cb", 1, 1}}, true).ok());
  std::promise<std::thread::id> where;
  std::promise<Errc> nested_sync;
  std::promise<Errc> nested_flush;
  producer_->produce(message("cb", "k", "v"), [&](Result<Delivery> r) {
    EXPECT_TRUE(r.ok());
    where.set_value(std::this_thread::get_id());
    auto sync = producer_->produce_sync(message("cb", "k", "w"), 1s);
    nested_sync.set_value(sync.ok() ? Errc::ok : sync.error().code);
    auto flushed = producer_->flush(1s);
    nested_flush.set_value(flushed.ok() ? Errc::ok : flushed.error().code);
  });
  EXPECT_NE(where.get_future().get(), std::this_thread::get_id());
  EXPECT_EQ(nested_sync.get_future().get(), Errc::invalid_argument);
  EXPECT_EQ(nested_flush.get_future().get(), Errc::invalid_argument);
  EXPECT_TRUE(producer_->flush(5s).ok());
}

TEST_F(EmbeddedBusTest, CommitOfAnOffsetNeverProducedIsRejected) {
  ASSERT_TRUE(bus_->ensure_topics({{"c", 1, 1}}, true).ok());
  auto consumer = std::move(bus_->consumer("g", {"c"})).value();
  Message fake = message("c", "k", "v");
  fake.partition = 0;
  fake.offset = 5;
  EXPECT_EQ(consumer->commit(fake).error().code, Errc::invalid_argument);
  fake.topic = "other";
  EXPECT_EQ(consumer->commit(fake).error().code, Errc::invalid_argument);
}

TEST_F(EmbeddedBusTest, ConsumerNeedsAGroupAndTopics) {
  EXPECT_EQ(bus_->consumer("", {"t"}).error().code, Errc::invalid_argument);
  EXPECT_EQ(bus_->consumer("g", {}).error().code, Errc::invalid_argument);
  EXPECT_EQ(bus_->ensure_topics({{"", 1, 1}}, true).error().code, Errc::invalid_argument);
}

}  // namespace
}  // namespace trueup::bus
