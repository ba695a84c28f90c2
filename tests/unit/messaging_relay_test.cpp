// The outbox relay against the embedded bus and a scripted producer, on
// SQLite (label unit).

#include <gtest/gtest.h>

#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "messaging_test_support.hpp"
#include "trueup/messaging/outbox.hpp"
#include "trueup/messaging/relay.hpp"

namespace trueup::messaging {
namespace {

using namespace std::chrono_literals;

// Appends `count` events spread over `keys` keys; data holds the key and the
// event's number within its key.
void append_events(store::Store& s, Outbox& outbox, const std::string& topic, int count, int keys, int per_tx = 200) {
  std::map<int, int> next;
  for (int base = 0; base < count; base += per_tx) {
    auto st = s.transact([&](store::Transaction& tx) -> Status {
      for (int i = base; i < std::min(count, base + per_tx); ++i) {
        const int key = i % keys;
        const int n = next[key]++;
        nlohmann::json data{{"key", key}, {"n", n}};
        auto a = outbox.append(tx, OutboxEvent{"", topic, "SKU-" + std::to_string(key), "com.trueup.test.v1",
                                               "/trueup/test", "SKU-" + std::to_string(key), "", data.dump(),
                                               i % 2 ? "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" : ""});
        if (!a) return a.error();
      }
      return Ok{};
    });
    ASSERT_TRUE(st) << st.error().describe();
  }
}

// A producer whose delivery reports the test decides: fails every event
// whose ce_id is in `fail_ids`, delivers the others, records what it saw.
class ScriptedProducer final : public bus::Producer {
 public:
  void produce(bus::Message m, std::function<void(Result<bus::Delivery>)> cb) override {
    const std::string id = *m.header("ce_id");
    if (on_produce) on_produce(id);
    bool fail;
    {
      std::lock_guard lock(mu_);
      produced.push_back(id);
      fail = fail_ids.count(id) > 0;
      if (fail && fail_once) fail_ids.erase(id);
    }
    if (fail)
      cb(make_error(Errc::timeout, "scripted failure"));
    else
      cb(bus::Delivery{m.topic, 0, 0});
  }
  Result<bus::Delivery> produce_sync(bus::Message, std::chrono::milliseconds) override {
    return make_error(Errc::unsupported, "not used");
  }
  Status flush(std::chrono::milliseconds) override { return Ok{}; }

  std::mutex mu_;
  std::vector<std::string> produced;
  std::set<std::string> fail_ids;
  bool fail_once = false;                              // a failed id is delivered when produced again
  std::function<void(const std::string&)> on_produce;  // runs on the producing thread
};

class RelayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = test::open_test_store(test::Engine::sqlite);
    ASSERT_TRUE(db_->store);
  }
  store::Store& store() { return *db_->store; }
  std::vector<std::string> ids_in_order() {
    std::vector<std::string> out;
    auto s = store().transact([&](store::Transaction& tx) -> Status {
      auto r = tx.exec("SELECT id FROM trueup_outbox ORDER BY seq");
      if (!r) return r.error();
      for (auto& row : r->rows) out.push_back(*row[0]);
      return Ok{};
    });
    EXPECT_TRUE(s);
    return out;
  }
  double metric(const std::string& name) {
    const auto text = registry_.render();
    const auto pos = text.find("\n" + name + " ");
    if (pos == std::string::npos) return -1;
    return std::stod(text.substr(pos + name.size() + 2));
  }

  std::unique_ptr<test::TestStore> db_;
  metrics::Registry registry_;
  test::ManualClock clock_;
};

TEST_F(RelayTest, PublishesEveryEventOnceInKeyOrderWithCloudEventsHeaders) {
  auto bus = bus::open_embedded({});
  ASSERT_TRUE(bus->ensure_topics({{"retail.test.v1", 4, 1}}, true));
  auto producer = bus->producer();
  ASSERT_TRUE(producer);
  Outbox outbox(store(), clock_.clock());
  RelaySettings settings;
  settings.batch_size = 128;
  settings.poll_interval = 20ms;
  Relay relay(store(), **producer, registry_, settings, {}, clock_.clock());
  relay.start();
  append_events(store(), outbox, "retail.test.v1", 2000, 10);
  relay.notify();
  ASSERT_TRUE(
      test::eventually([&] { return test::query_int(store(), "SELECT count(*) FROM trueup_outbox_pending") == 0; }));
  relay.stop();

  auto consumer = bus->consumer("g", {"retail.test.v1"});
  ASSERT_TRUE(consumer);
  std::map<std::string, int> next_n;
  std::set<std::string> ids;
  int received = 0;
  for (;;) {
    auto m = (*consumer)->poll(200ms);
    ASSERT_TRUE(m);
    if (!*m) break;
    const auto& msg = **m;
    ++received;
    EXPECT_EQ(*msg.header("ce_specversion"), "1.0");
    EXPECT_EQ(*msg.header("ce_type"), "com.trueup.test.v1");
    EXPECT_EQ(*msg.header("ce_source"), "/trueup/test");
    EXPECT_EQ(*msg.header("ce_subject"), msg.key);
    EXPECT_EQ(*msg.header("content-type"), "application/json");
    ASSERT_NE(msg.header("ce_time"), nullptr);
    ids.insert(*msg.header("ce_id"));
    auto data = nlohmann::json::parse(msg.value);
    EXPECT_EQ("SKU-" + std::to_string(data["key"].get<int>()), msg.key);
    EXPECT_EQ(data["n"].get<int>(), next_n[msg.key]++) << "key " << msg.key;
  }
  EXPECT_EQ(received, 2000);
  EXPECT_EQ(ids.size(), 2000u);
  EXPECT_EQ(metric("trueup_outbox_published_total"), 2000);
  EXPECT_EQ(metric("trueup_relay_leader"), 0);  // stopped
}

TEST_F(RelayTest, StopsAtTheFirstFailedEventAndResumesFromIt) {
  ScriptedProducer producer;
  Outbox outbox(store(), clock_.clock());
  append_events(store(), outbox, "t", 10, 2);
  const auto ids = ids_in_order();
  producer.fail_ids = {ids[4], ids[7]};
  RelaySettings settings;
  settings.batch_size = 100;
  Relay relay(store(), producer, registry_, settings, {}, clock_.clock());

  auto first = relay.publish_batch();
  ASSERT_TRUE(first) << first.error().describe();
  EXPECT_EQ(first->published, 4u);
  EXPECT_EQ(first->failed, 2u);
  EXPECT_NE(first->first_error.find("scripted failure"), std::string::npos) << first->first_error;
  EXPECT_EQ(test::query_int(
                store(), "SELECT count(*) FROM trueup_outbox WHERE seq NOT IN (SELECT seq FROM trueup_outbox_pending)"),
            4);
  EXPECT_EQ(test::query_int(store(), "SELECT min(seq) FROM trueup_outbox_pending"),
            test::query_int(store(), "SELECT seq FROM trueup_outbox WHERE id = $1", {ids[4]}));
  EXPECT_EQ(metric("trueup_outbox_publish_failures_total"), 2);

  producer.fail_ids.clear();
  producer.produced.clear();
  auto second = relay.publish_batch();
  ASSERT_TRUE(second);
  EXPECT_EQ(second->published, 6u);
  // Republished from the failed event on, in sequence order.
  EXPECT_EQ(producer.produced, std::vector<std::string>(ids.begin() + 4, ids.end()));
  EXPECT_EQ(test::query_int(store(), "SELECT count(*) FROM trueup_outbox_pending"), 0);
  EXPECT_EQ(metric("trueup_outbox_published_total"), 10);
}

TEST_F(RelayTest, PipelinedThreadMarksNothingAfterAFailedEventAndResumesFromIt) {
  ScriptedProducer producer;
  Outbox outbox(store(), clock_.clock());
  append_events(store(), outbox, "t", 300, 3);
  const auto ids = ids_in_order();
  const std::int64_t failed_seq = test::query_int(store(), "SELECT seq FROM trueup_outbox WHERE id = $1", {ids[75]});
  producer.fail_ids = {ids[75]};
  producer.fail_once = true;
  // When the failed event is produced again: what was marked by then.
  std::atomic<int> retries{0};
  std::int64_t marked_before = -1, marked_after = -1;
  producer.on_produce = [&](const std::string& id) {
    if (id != ids[75]) return;
    if (retries.fetch_add(1) != 1) return;
    marked_before = test::query_int(
        store(),
        "SELECT count(*) FROM trueup_outbox WHERE seq NOT IN (SELECT seq FROM trueup_outbox_pending) AND seq < $1",
        {failed_seq});
    marked_after = test::query_int(
        store(),
        "SELECT count(*) FROM trueup_outbox WHERE seq NOT IN (SELECT seq FROM trueup_outbox_pending) AND seq >= $1",
        {failed_seq});
  };
  RelaySettings settings;
  settings.batch_size = 20;
  settings.pipeline_depth = 4;
  settings.retry_backoff = 10ms;
  Relay relay(store(), producer, registry_, settings, {}, clock_.clock());
  relay.start();
  relay.notify();
  ASSERT_TRUE(
      test::eventually([&] { return test::query_int(store(), "SELECT count(*) FROM trueup_outbox_pending") == 0; }));
  relay.stop();

  EXPECT_EQ(retries.load(), 2);
  // Every event before the failed one was marked, none after it.
  EXPECT_EQ(marked_before, 75);
  EXPECT_EQ(marked_after, 0);
  // Events before it went once; the retry republished from it on, in order.
  std::lock_guard lock(producer.mu_);
  // Later batches were in flight when the failure was found (the pipeline)
  // and were sent again after it.
  ASSERT_GT(producer.produced.size(), 300u + 5u);
  EXPECT_EQ(std::vector<std::string>(producer.produced.begin(), producer.produced.begin() + 75),
            std::vector<std::string>(ids.begin(), ids.begin() + 75));
  const std::vector<std::string> tail(producer.produced.end() - 225, producer.produced.end());
  EXPECT_EQ(tail, std::vector<std::string>(ids.begin() + 75, ids.end()));
  EXPECT_EQ(metric("trueup_outbox_published_total"), 300);
  EXPECT_EQ(metric("trueup_outbox_publish_failures_total"), 1);
}

TEST_F(RelayTest, OnlyTheLeaderPublishes) {
  ScriptedProducer producer;
  Outbox outbox(store(), clock_.clock());
  append_events(store(), outbox, "t", 5, 1);
  std::atomic<bool> leading{false};
  Relay relay(
      store(), producer, registry_, RelaySettings{}, [&] { return leading.load(); }, clock_.clock());
  auto r = relay.publish_batch();
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->leader);
  EXPECT_TRUE(producer.produced.empty());
  EXPECT_EQ(metric("trueup_relay_leader"), 0);
  leading = true;
  r = relay.publish_batch();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->published, 5u);
  EXPECT_EQ(metric("trueup_relay_leader"), 1);
}

TEST_F(RelayTest, GaugesShowPendingAndLagAndCleanupHonoursRetention) {
  ScriptedProducer producer;
  Outbox outbox(store(), clock_.clock());
  append_events(store(), outbox, "t", 6, 2);
  RelaySettings settings;
  settings.batch_size = 4;
  settings.retention = std::chrono::hours(1);
  Relay relay(store(), producer, registry_, settings, {}, clock_.clock());
  clock_.advance(30s);
  ASSERT_TRUE(relay.refresh_gauges());
  EXPECT_EQ(metric("trueup_outbox_pending"), 6);
  EXPECT_NEAR(metric("trueup_outbox_lag_seconds"), 30.0, 0.5);

  ASSERT_TRUE(relay.publish_batch());
  ASSERT_TRUE(relay.refresh_gauges());
  EXPECT_EQ(metric("trueup_outbox_pending"), 2);
  ASSERT_TRUE(relay.publish_batch());
  ASSERT_TRUE(relay.refresh_gauges());
  EXPECT_EQ(metric("trueup_outbox_pending"), 0);
  EXPECT_EQ(metric("trueup_outbox_lag_seconds"), 0);

  auto purged = relay.purge_published();
  ASSERT_TRUE(purged);
  EXPECT_EQ(*purged, 0u);
  clock_.advance(std::chrono::hours(1) + 1s);
  purged = relay.purge_published();
  ASSERT_TRUE(purged);
  EXPECT_EQ(*purged, 6u);
  EXPECT_EQ(test::query_int(store(), "SELECT count(*) FROM trueup_outbox"), 0);
}

// For the cleanup tests: every event in one batch, an hour's retention, and
// chunks of three so that a purge takes several statements.
RelaySettings cleanup_settings() {
  RelaySettings settings;
  settings.batch_size = 100;
  settings.retention = std::chrono::hours(1);
  settings.cleanup_batch = 3;
  return settings;
}

// Retention deletes published events only: one still pending stays however
// old (and the events after it wait for it), the purge goes in chunks of
// cleanup_batch from the oldest, and events younger than the cutoff stay.
TEST_F(RelayTest, CleanupKeepsPendingAndYoungEventsAndWorksThroughChunks) {
  ScriptedProducer producer;
  Outbox outbox(store(), clock_.clock());
  append_events(store(), outbox, "t", 10, 1);
  const auto ids = ids_in_order();
  producer.fail_ids = {ids[2]};
  Relay relay(store(), producer, registry_, cleanup_settings(), {}, clock_.clock());
  auto first = relay.publish_batch();
  ASSERT_TRUE(first);
  EXPECT_EQ(first->published, 2u);  // the failure at ids[2] holds back the rest
  clock_.advance(std::chrono::minutes(10));
  append_events(store(), outbox, "t", 2, 1);

  clock_.advance(std::chrono::minutes(55));  // the ten are 65 min old, the last two 55
  auto purged = relay.purge_published();
  ASSERT_TRUE(purged) << purged.error().describe();
  EXPECT_EQ(*purged, 2u);
  EXPECT_EQ(test::query_int(store(), "SELECT count(*) FROM trueup_outbox"), 10);
  EXPECT_EQ(test::query_int(store(), "SELECT count(*) FROM trueup_outbox WHERE id = $1", {ids[2]}), 1);

  producer.fail_ids.clear();
  auto second = relay.publish_batch();
  ASSERT_TRUE(second);
  EXPECT_EQ(second->published, 10u);
  purged = relay.purge_published();  // chunks: 3, 3, 2 (the third meets a young one), 0
  ASSERT_TRUE(purged);
  EXPECT_EQ(*purged, 8u);
  EXPECT_EQ(test::query_int(store(), "SELECT count(*) FROM trueup_outbox"), 2);
  EXPECT_EQ(test::query_int(store(), "SELECT count(*) FROM trueup_outbox_pending"), 0);
}

// A pending event among the oldest (one committed late with a lower seq,
// here put back in the queue by hand) does not end the purge: each chunk
// deletes what it may around it, and only a chunk that deletes none ends it.
TEST_F(RelayTest, CleanupGoesOnPastAPendingEventInItsWindow) {
  ScriptedProducer producer;
  Outbox outbox(store(), clock_.clock());
  append_events(store(), outbox, "t", 10, 1);
  const auto ids = ids_in_order();
  Relay relay(store(), producer, registry_, cleanup_settings(), {}, clock_.clock());
  ASSERT_TRUE(relay.publish_batch());
  const std::int64_t late = test::query_int(store(), "SELECT seq FROM trueup_outbox WHERE id = $1", {ids[1]});
  ASSERT_TRUE(store().transact([&](store::Transaction& tx) -> Status {
    auto r = tx.exec("INSERT INTO trueup_outbox_pending (seq) VALUES ($1)", {late});
    if (!r) return std::move(r).error();
    return Ok{};
  }));
  clock_.advance(std::chrono::hours(1) + 1s);
  auto purged = relay.purge_published();  // windows: 0,1,2 -> 2; 1,3,4 -> 2; ... 1,9 -> 1; 1 -> 0
  ASSERT_TRUE(purged) << purged.error().describe();
  EXPECT_EQ(*purged, 9u);
  EXPECT_EQ(test::query_int(store(), "SELECT count(*) FROM trueup_outbox"), 1);
  EXPECT_EQ(test::query_int(store(), "SELECT seq FROM trueup_outbox"), late);
}

TEST(RelaySettingsTest, RefusesAZeroBatchOrPipeline) {
  auto db = test::open_test_store(test::Engine::sqlite);
  ScriptedProducer producer;
  metrics::Registry registry;
  RelaySettings settings;
  settings.batch_size = 0;
  EXPECT_THROW(Relay(*db->store, producer, registry, settings), std::invalid_argument);
  settings.batch_size = 10;
  settings.pipeline_depth = 0;
  EXPECT_THROW(Relay(*db->store, producer, registry, settings), std::invalid_argument);
}

}  // namespace
}  // namespace trueup::messaging
