// The crosswalk on both store engines: lookups, changes, CSV import with line
// errors, parking and replay when the mapping arrives.
#include <gtest/gtest.h>

#include "support/process.hpp"
#include "support/test_env.hpp"
#include "trueup/crosswalk/crosswalk.hpp"
#include "trueup/metrics/registry.hpp"

namespace trueup::crosswalk {
namespace {

enum class Engine { Sqlite, Postgres };

class CrosswalkTest : public ::testing::TestWithParam<Engine> {
 protected:
  void SetUp() override {
    if (GetParam() == Engine::Sqlite) {
      store::SqliteSettings s;
      s.path = trueup::testing::make_temp_dir("trueup-xw-") + "/t.db";
      auto st = store::open_sqlite(s);
      ASSERT_TRUE(st.ok()) << st.error().describe();
      store_ = std::move(st).value();
    } else {
      store::PostgresSettings s;
      s.url = trueup::testing::require_pg_url();
      ASSERT_FALSE(s.url.empty());
      s.schema = trueup::testing::unique_name("xw");
      s.pool_size = 2;
      auto st = store::open_postgres(s);
      ASSERT_TRUE(st.ok()) << st.error().describe();
      store_ = std::move(st).value();
    }
    auto m = store_->migrate(store::embedded_migrations(store_->engine()));
    ASSERT_TRUE(m.ok()) << m.error().describe();
    crosswalk_ = std::make_unique<Crosswalk>(*store_, Settings{}, registry_);
  }
  void TearDown() override {
    crosswalk_.reset();
    if (store_) store_->stop();
  }

  std::int64_t count(const std::string& sql) {
    std::int64_t n = -1;
    auto st = store_->transact([&](store::Transaction& tx) -> Status {
      auto r = tx.exec(sql);
      if (!r) return std::move(r).error();
      n = std::stoll(*r->rows.at(0).at(0));
      return Ok{};
    });
    EXPECT_TRUE(st.ok());
    return n;
  }

  metrics::Registry registry_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<Crosswalk> crosswalk_;
};

TEST_P(CrosswalkTest, ResolvesAddsAndChangesMappings) {
  Key key{"shopify", "sku", "44012345678901234"};  // beyond 2^53: stays text
  auto none = crosswalk_->resolve(key);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(*none);
  auto added = crosswalk_->put(key, "SKU-RED-M", "test");
  ASSERT_TRUE(added.ok()) << added.error().describe();
  EXPECT_TRUE(*added);
  EXPECT_EQ(crosswalk_->resolve(key).value(), std::optional<std::string>("SKU-RED-M"));
  auto same = crosswalk_->put(key, "SKU-RED-M", "test");
  ASSERT_TRUE(same.ok());
  EXPECT_FALSE(*same);
  ASSERT_TRUE(crosswalk_->put(key, "SKU-RED-L", "someone").ok());
  EXPECT_EQ(crosswalk_->resolve(key).value(), std::optional<std::string>("SKU-RED-L"));
  auto m = crosswalk_->get(key);
  ASSERT_TRUE(m.ok() && *m);
  EXPECT_EQ((*m)->updated_by, "someone");
  EXPECT_EQ((*m)->updated_at.size(), 24u) << (*m)->updated_at;  // 2026-11-26T16:00:19.794Z
  auto listed = crosswalk_->list("shopify", "", "", 10);
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(listed->size(), 1u);
  EXPECT_FALSE(crosswalk_->put(Key{"", "sku", "x"}, "A", "t").ok());
}

TEST_P(CrosswalkTest, CsvImportIsAllOrNothingAndNamesTheLine) {
  auto bad = crosswalk_->import_csv(
      "system,entity,external_id,canonical_id\n"
      "square,sku,ABC,SKU-1\n"
      "square,sku,DEF\n",
      "import");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message, "line 3: expected 4 fields, found 3");
  EXPECT_EQ(count("SELECT count(*) FROM crosswalk"), 0);

  auto ok = crosswalk_->import_csv(
      "system,entity,external_id,canonical_id\r\n"
      "square,sku,ABC,SKU-1\r\n"
      "square,location,\"L,1\",STORE-01\r\n"
      "\r\n"
      "square,sku,\"quoted \"\"id\"\"\",SKU-2\r\n",
      "import");
  ASSERT_TRUE(ok.ok()) << ok.error().describe();
  EXPECT_EQ(ok->rows, 3u);
  EXPECT_EQ(crosswalk_->resolve(Key{"square", "location", "L,1"}).value(), std::optional<std::string>("STORE-01"));
  EXPECT_EQ(crosswalk_->resolve(Key{"square", "sku", "quoted \"id\""}).value(), std::optional<std::string>("SKU-2"));
  auto again = crosswalk_->import_csv("system,entity,external_id,canonical_id\nsquare,sku,ABC,SKU-1\n", "import");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->rows, 0u);
  EXPECT_EQ(again->unchanged, 1u);
  EXPECT_FALSE(crosswalk_->import_csv("sku,ABC\n", "import").ok());
}

TEST_P(CrosswalkTest, ParkingUnderAKeyMappedMeanwhileIsARetryableConflict) {
  // The message was mapped before the mapping existed; by the time it is
  // parked, the mapping is there (and its replay has run): parking must
  // refuse, or the message would wait for a replay that never comes.
  Key key{"shopify", "variant", "9007199254740993"};
  ASSERT_TRUE(crosswalk_->put(key, "SKU-LATE", "ops").ok());
  Status parked = store_->transact([&](store::Transaction& tx) -> Status {
    auto id = crosswalk_->park(tx, key, "shop", "application/json", "{}");
    if (!id) return std::move(id).error();
    return Ok{};
  });
  ASSERT_FALSE(parked.ok());
  EXPECT_EQ(parked.error().code, Errc::conflict);
  EXPECT_TRUE(parked.error().retryable());
  EXPECT_EQ(count("SELECT count(*) FROM parked_message WHERE external_id = '9007199254740993'"), 0);
}

TEST_P(CrosswalkTest, ParkedMessagesReplayOnceWhenTheMappingArrives) {
  Key key{"square", "sku", "CATALOG-OBJ-9"};
  std::vector<std::string> replayed;
  bool fail_first = true;
  crosswalk_->set_replayer("square-webhook", [&](const ParkedMessage& m) -> Status {
    if (fail_first) {
      fail_first = false;
      return make_error(Errc::unavailable, "downstream busy");
    }
    replayed.push_back(m.payload);
    return Ok{};
  });
  std::vector<std::int64_t> notified;
  crosswalk_->on_replayed([&](const ParkedMessage& m) { notified.push_back(m.id); });
  ASSERT_TRUE(store_
                  ->transact([&](store::Transaction& tx) -> Status {
                    for (const char* p : {"{\"n\":1}", "{\"n\":2}"}) {
                      auto id = crosswalk_->park(tx, key, "square-webhook", "application/json", p);
                      if (!id) return std::move(id).error();
                    }
                    return Ok{};
                  })
                  .ok());
  // The first replay attempt of message 1 fails and it stays parked.
  ASSERT_TRUE(crosswalk_->put(key, "SKU-9", "ops").ok());
  EXPECT_EQ(replayed, std::vector<std::string>{"{\"n\":2}"});
  EXPECT_EQ(count("SELECT count(*) FROM parked_message WHERE replayed_at IS NULL AND last_error IS NOT NULL"), 1);
  // Replaying again delivers the rest, and nothing twice.
  auto n = crosswalk_->replay(key);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 1u);
  EXPECT_EQ(replayed, (std::vector<std::string>{"{\"n\":2}", "{\"n\":1}"}));
  EXPECT_EQ(notified.size(), 2u);
  EXPECT_EQ(*crosswalk_->replay(key), 0u);
  EXPECT_EQ(count("SELECT count(*) FROM parked_message WHERE replayed_at IS NULL"), 0);
}

INSTANTIATE_TEST_SUITE_P(Engines, CrosswalkTest, ::testing::Values(Engine::Sqlite, Engine::Postgres),
                         [](const auto& info) { return info.param == Engine::Sqlite ? "Sqlite" : "Postgres"; });

}  // namespace
}  // namespace trueup::crosswalk
