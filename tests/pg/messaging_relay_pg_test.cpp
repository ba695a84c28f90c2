// Relay leadership across instances on one PostgreSQL database (label pg):
// pg_singleton's advisory lock, fail-over, and two relays of which only the
// leader publishes.

#include <gtest/gtest.h>

#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "trueup/messaging/outbox.hpp"
#include "trueup/messaging/relay.hpp"
#include "trueup/store/pg_singleton.hpp"
#include "unit/messaging_test_support.hpp"

namespace trueup::messaging {
namespace {

using namespace std::chrono_literals;

std::unique_ptr<store::PgSingleton> singleton(const std::string& schema) {
  store::PgSingletonSettings s;
  s.postgres = test::pg_settings(schema);
  s.name = "outbox-relay";
  s.check_interval = 100ms;
  auto r = store::start_pg_singleton(s);
  EXPECT_TRUE(r) << r.error().describe();
  return r ? std::move(*r) : nullptr;
}

// Never both held, sampled for `duration`.
void expect_exclusive(store::PgSingleton& a, store::PgSingleton& b, std::chrono::milliseconds duration) {
  const auto end = std::chrono::steady_clock::now() + duration;
  while (std::chrono::steady_clock::now() < end) {
    ASSERT_FALSE(a.held() && b.held());
    std::this_thread::sleep_for(5ms);
  }
}

TEST(PgSingletonTest, OneHolderAtATimeAndTheOtherTakesOverWhenItStops) {
  const auto schema = trueup::testing::unique_name("lead");
  auto a = singleton(schema);
  auto b = singleton(schema);
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->key(), b->key());
  EXPECT_NE(a->key(), store::pg_singleton_key("other_schema", "outbox-relay"));
  ASSERT_TRUE(test::eventually([&] { return a->held() || b->held(); }, 10s)) << a->last_error();
  expect_exclusive(*a, *b, 1s);
  auto& holder = a->held() ? a : b;
  auto& other = a->held() ? b : a;
  EXPECT_FALSE(other->held());
  holder->stop();
  EXPECT_FALSE(holder->held());
  EXPECT_TRUE(other->wait_until_held(10s));
}

TEST(PgSingletonTest, ADeadHoldersLockPassesToTheOther) {
  const auto schema = trueup::testing::unique_name("lead");
  auto db = test::open_test_store(test::Engine::postgres, schema);
  auto a = singleton(schema);
  ASSERT_TRUE(a->wait_until_held(10s)) << a->last_error();
  auto b = singleton(schema);
  expect_exclusive(*a, *b, 500ms);
  ASSERT_FALSE(b->held());
  // Kill the holder's session, as PostgreSQL does for a crashed process.
  const auto key = static_cast<std::uint64_t>(a->key());
  auto killed = test::query_int(*db->store,
                                "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_locks WHERE "
                                "locktype = 'advisory' AND granted AND classid::bigint = $1 AND objid::bigint = $2 "
                                "AND objsubid = 1) t",
                                {static_cast<std::int64_t>(key >> 32), static_cast<std::int64_t>(key & 0xffffffffu)});
  ASSERT_EQ(killed, 1);
  ASSERT_TRUE(b->wait_until_held(10s)) << b->last_error();
  ASSERT_TRUE(test::eventually([&] { return !a->held(); }, 5s));
  expect_exclusive(*a, *b, 500ms);
}

struct Instance {
  std::unique_ptr<test::TestStore> db;
  std::unique_ptr<store::PgSingleton> lock;
  metrics::Registry registry;
  std::unique_ptr<Relay> relay;

  double published() const {
    const auto text = registry.render();
    const std::string name = "\ntrueup_outbox_published_total ";
    const auto pos = text.find(name);
    return pos == std::string::npos ? -1 : std::stod(text.substr(pos + name.size()));
  }
  void stop() {
    relay->stop();
    lock->stop();
    db->store->stop();
  }
};

void append(store::Store& s, int from, int count, int keys) {
  Outbox outbox(s);
  auto st = s.transact([&](store::Transaction& tx) -> Status {
    for (int i = from; i < from + count; ++i) {
      nlohmann::json data{{"i", i}};
      auto a = outbox.append(
          tx, OutboxEvent{"", "retail.lead.v1", "K" + std::to_string(i % keys), "t", "/s", "", "", data.dump(), ""});
      if (!a) return a.error();
    }
    return Ok{};
  });
  ASSERT_TRUE(st) << st.error().describe();
}

TEST(RelayLeadershipTest, OnlyTheLeaderPublishesAndTheOtherTakesOverWhenItsStoreStops) {
  const auto schema = trueup::testing::unique_name("relay");
  auto bus = bus::open_embedded({});
  ASSERT_TRUE(bus->ensure_topics({{"retail.lead.v1", 3, 1}}, true));
  auto producer = bus->producer();
  ASSERT_TRUE(producer);
  RelaySettings settings;
  settings.poll_interval = 50ms;
  settings.batch_size = 200;

  Instance inst[2];
  for (int i = 0; i < 2; ++i) {
    inst[i].db = test::open_test_store(test::Engine::postgres, schema);
    ASSERT_TRUE(inst[i].db->store);
    inst[i].lock = singleton(schema);
    auto* lock = inst[i].lock.get();
    settings.instance = "instance-" + std::to_string(i);
    inst[i].relay = std::make_unique<Relay>(*inst[i].db->store, **producer, inst[i].registry, settings,
                                            [lock] { return lock->held(); });
  }
  ASSERT_TRUE(test::eventually([&] { return inst[0].lock->held() || inst[1].lock->held(); }, 10s));
  const int leader = inst[0].lock->held() ? 0 : 1;
  const int follower = 1 - leader;

  append(*inst[follower].db->store, 0, 3000, 30);
  inst[0].relay->start();
  inst[1].relay->start();
  // The relay counts a batch once its marking transaction has committed, so
  // the count may trail the table for a moment: wait for both.
  ASSERT_TRUE(test::eventually([&] {
    return test::query_int(*inst[follower].db->store, "SELECT count(*) FROM trueup_outbox_pending") == 0 &&
           inst[leader].published() >= 3000;
  }));
  EXPECT_EQ(inst[leader].published(), 3000);
  EXPECT_EQ(inst[follower].published(), 0);
  EXPECT_NE(inst[leader].registry.render().find("\ntrueup_relay_leader 1"), std::string::npos);
  EXPECT_NE(inst[follower].registry.render().find("\ntrueup_relay_leader 0"), std::string::npos);

  // The leader's process stops: its lock goes with its connection.
  inst[leader].stop();
  ASSERT_TRUE(inst[follower].lock->wait_until_held(10s));
  append(*inst[follower].db->store, 3000, 500, 30);
  inst[follower].relay->notify();
  ASSERT_TRUE(test::eventually([&] {
    return test::query_int(*inst[follower].db->store, "SELECT count(*) FROM trueup_outbox_pending") == 0 &&
           inst[follower].published() >= 500;
  }));
  EXPECT_EQ(inst[follower].published(), 500);
  inst[follower].stop();

  auto consumer = bus->consumer("check", {"retail.lead.v1"});
  ASSERT_TRUE(consumer);
  std::set<std::string> ids;
  std::map<std::string, int> last;
  int received = 0;
  for (;;) {
    auto m = (*consumer)->poll(200ms);
    ASSERT_TRUE(m);
    if (!*m) break;
    ++received;
    ids.insert(*(*m)->header("ce_id"));
    const int i = nlohmann::json::parse((*m)->value)["i"].get<int>();
    auto it = last.find((*m)->key);
    if (it != last.end()) {
      EXPECT_GT(i, it->second) << "key " << (*m)->key;
    }
    last[(*m)->key] = i;
  }
  EXPECT_EQ(received, 3500);
  EXPECT_EQ(ids.size(), 3500u);
}

}  // namespace
}  // namespace trueup::messaging
