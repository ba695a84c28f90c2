// Inbox, quarantine, outbox append and Idempotency-Key storage, run per
// engine: *Sqlite* (label unit, a temp file) and *Postgres* (label pg,
// TRUEUP_TEST_PG_URL, a fresh schema per test).

#include <gtest/gtest.h>

#include <regex>
#include <set>
#include <thread>

#include "messaging_test_support.hpp"
#include "trueup/messaging/idempotency.hpp"
#include "trueup/messaging/inbox.hpp"
#include "trueup/messaging/outbox.hpp"

namespace trueup::messaging {
namespace {

using namespace std::chrono_literals;
using test::Engine;

class MessagingStore : public ::testing::TestWithParam<Engine> {
 protected:
  void SetUp() override {
    db_ = test::open_test_store(GetParam());
    ASSERT_TRUE(db_->store);
  }
  store::Store& store() { return *db_->store; }

  Result<InboxRecord> record(Inbox& inbox, const InboxMessage& m) {
    std::optional<Result<InboxRecord>> out;
    auto s = store().transact([&](store::Transaction& tx) -> Status {
      out.emplace(inbox.record(tx, m));
      if (!*out) return out->error();
      return Ok{};
    });
    if (!s) return std::move(s).error();
    return std::move(*out);
  }

  std::unique_ptr<test::TestStore> db_;
  metrics::Registry registry_;
  test::ManualClock clock_;
};

InboxMessage message(std::string source, std::string key, std::string payload = "{\"a\":1}") {
  return InboxMessage{std::move(source), std::move(key), "application/json", std::move(payload), {}};
}

TEST_P(MessagingStore, InboxRecordsOnceAndRecognisesDuplicates) {
  Inbox inbox(store(), registry_, clock_.clock());
  auto first = record(inbox, message("shopify", "evt-1"));
  ASSERT_TRUE(first) << first.error().describe();
  EXPECT_TRUE(first->inserted);
  auto again = record(inbox, message("shopify", "evt-1", "{\"a\":2}"));
  ASSERT_TRUE(again) << again.error().describe();
  EXPECT_FALSE(again->inserted);
  EXPECT_EQ(again->id, first->id);
  auto other_source = record(inbox, message("square", "evt-1"));
  ASSERT_TRUE(other_source);
  EXPECT_TRUE(other_source->inserted);
  EXPECT_NE(other_source->id, first->id);

  EXPECT_EQ(test::query_int(store(), "SELECT count(*) FROM trueup_inbox"), 2);
  EXPECT_EQ(registry_
                .counter("trueup_inbox_messages_total", "Inbound messages recorded as new in the inbox",
                         {{"source", "shopify"}})
                .value(),
            1.0);
  EXPECT_EQ(registry_
                .counter("trueup_inbox_duplicates_total", "Inbound messages recognised as duplicates",
                         {{"source", "shopify"}})
                .value(),
            1.0);
  const auto text = registry_.render();
  EXPECT_NE(text.find("trueup_inbox_duplicates_total{source=\"shopify\"} 1"), std::string::npos) << text;
}

TEST_P(MessagingStore, InboxKeepsRawBytesAndRejectsEmptyKeys) {
  Inbox inbox(store(), registry_, clock_.clock());
  const std::string raw("\x00\xff\xfe{not json\n", 13);
  auto r = record(inbox, InboxMessage{"api", "k1", "application/octet-stream", raw, {}});
  ASSERT_TRUE(r) << r.error().describe();
  auto d = test::read_payload(store(), "trueup_inbox", r->id);
  EXPECT_EQ(d, raw);

  auto bad = record(inbox, message("api", ""));
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, Errc::invalid_argument);
}

TEST_P(MessagingStore, InboxRecordRolledBackWithItsTransactionIsNotADuplicate) {
  Inbox inbox(store(), registry_, clock_.clock());
  auto s = store().transact([&](store::Transaction& tx) -> Status {
    auto r = inbox.record(tx, message("api", "k-rollback"));
    EXPECT_TRUE(r && r->inserted);
    return make_error(Errc::unavailable, "processing failed");
  });
  ASSERT_FALSE(s);
  auto retry = record(inbox, message("api", "k-rollback"));
  ASSERT_TRUE(retry);
  EXPECT_TRUE(retry->inserted);
}

TEST_P(MessagingStore, ConcurrentRecordsOfOneKeyInsertExactlyOnce) {
  Inbox inbox(store(), registry_, clock_.clock());
  constexpr int kThreads = 16;
  constexpr int kKeys = 20;
  std::atomic<int> inserted{0};
  std::atomic<int> duplicates{0};
  std::atomic<int> errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int k = 0; k < kKeys; ++k) {
        auto r = record(inbox, message("storm", "key-" + std::to_string(k)));
        if (!r)
          ++errors;
        else if (r->inserted)
          ++inserted;
        else
          ++duplicates;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(inserted.load(), kKeys);
  EXPECT_EQ(duplicates.load(), kKeys * (kThreads - 1));
  EXPECT_EQ(test::query_int(store(), "SELECT count(*) FROM trueup_inbox"), kKeys);
}

TEST_P(MessagingStore, InboxBatchInsertsNewKeysOnceAndReportsDuplicatesInOrder) {
  Inbox inbox(store(), registry_, clock_.clock());
  ASSERT_TRUE(record(inbox, message("api", "old")));
  // Out of key order, one key twice, one already stored, two sources.
  std::vector<InboxMessage> batch{message("api", "k3"), message("api", "old"), message("api", "k1"),
                                  message("api", "k3"), message("shop", "k1")};
  std::optional<Result<std::vector<InboxRecord>>> out;
  auto s = store().transact([&](store::Transaction& tx) -> Status {
    out.emplace(inbox.record_batch(tx, batch));
    if (!*out) return out->error();
    return Ok{};
  });
  ASSERT_TRUE(s) << s.error().describe();
  const auto& r = **out;
  ASSERT_EQ(r.size(), batch.size());
  EXPECT_TRUE(r[0].inserted);
  EXPECT_FALSE(r[1].inserted);
  EXPECT_TRUE(r[2].inserted);
  EXPECT_FALSE(r[3].inserted);
  EXPECT_EQ(r[3].id, r[0].id);
  EXPECT_TRUE(r[4].inserted);
  EXPECT_NE(r[4].id, r[2].id);
  EXPECT_EQ(test::query_int(store(), "SELECT count(*) FROM trueup_inbox"), 4);
  EXPECT_EQ(test::query_int(store(), "SELECT id FROM trueup_inbox WHERE dedupe_key = 'old'"), r[1].id);
}

TEST_P(MessagingStore, InboxBatchLargerThanOneStatement) {
  Inbox inbox(store(), registry_, clock_.clock());
  std::vector<InboxMessage> batch;
  for (std::size_t i = 0; i < store::kMaxRowsPerStatement * 2 + 7; ++i)
    batch.push_back(message("api", "big-" + std::to_string(i % (store::kMaxRowsPerStatement + 3))));
  std::optional<Result<std::vector<InboxRecord>>> out;
  auto s = store().transact([&](store::Transaction& tx) -> Status {
    out.emplace(inbox.record_batch(tx, batch));
    if (!*out) return out->error();
    return Ok{};
  });
  ASSERT_TRUE(s) << s.error().describe();
  std::size_t inserted = 0;
  for (const auto& r : **out) inserted += r.inserted ? 1 : 0;
  EXPECT_EQ(inserted, store::kMaxRowsPerStatement + 3);
  EXPECT_EQ(test::query_int(store(), "SELECT count(*) FROM trueup_inbox"),
            static_cast<std::int64_t>(store::kMaxRowsPerStatement + 3));
}

TEST_P(MessagingStore, ConcurrentOverlappingBatchesInsertEachKeyOnce) {
  // Batches that overlap in reverse orders: key-ordered inserts keep them
  // from deadlocking, and each key is new for exactly one of them.
  Inbox inbox(store(), registry_, clock_.clock());
  constexpr int kThreads = 8;
  constexpr int kKeys = 200;
  std::atomic<int> inserted{0};
  std::atomic<int> errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::vector<InboxMessage> batch;
      for (int k = 0; k < kKeys; ++k)
        batch.push_back(message("storm", "key-" + std::to_string(t % 2 ? k : kKeys - 1 - k)));
      auto s = store().transact([&](store::Transaction& tx) -> Status {
        auto r = inbox.record_batch(tx, batch);
        if (!r) return r.error();
        for (const auto& one : *r) inserted += one.inserted ? 1 : 0;
        return Ok{};
      });
      if (!s) ++errors;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(inserted.load(), kKeys);
  EXPECT_EQ(test::query_int(store(), "SELECT count(*) FROM trueup_inbox"), kKeys);
}

TEST_P(MessagingStore, QuarantineKeepsTheAuthenticPayload) {
  Inbox inbox(store(), registry_, clock_.clock());
  const std::string raw("<order><id>7</id>\xc3\x28", 20);  // invalid UTF-8 on purpose
  std::int64_t id = 0;
  auto s = store().transact([&](store::Transaction& tx) -> Status {
    auto q = inbox.quarantine(tx, "netsuite", raw, "application/xml", "unknown element <id> at line 1");
    if (!q) return q.error();
    id = *q;
    return Ok{};
  });
  ASSERT_TRUE(s) << s.error().describe();
  EXPECT_GT(id, 0);
  EXPECT_EQ(test::read_payload(store(), "trueup_quarantine", id), raw);
  EXPECT_EQ(test::query_one(store(), "SELECT reason FROM trueup_quarantine WHERE id = $1", {id}),
            "unknown element <id> at line 1");
  EXPECT_NE(registry_.render().find("trueup_inbox_quarantined_total{source=\"netsuite\"} 1"), std::string::npos);
}

TEST(MessagingDedupeKey, IsTheSha256OfTheCanonicalContent) {
  EXPECT_EQ(content_dedupe_key("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(request_fingerprint("POST", "/v1/orders", "{}"), content_dedupe_key("POST\n/v1/orders\n{}"));
}

TEST_P(MessagingStore, OutboxAppendsInSequenceWithGeneratedIds) {
  Outbox outbox(store(), clock_.clock());
  std::vector<AppendedEvent> appended;
  for (int tx_no = 0; tx_no < 3; ++tx_no) {
    auto s = store().transact([&](store::Transaction& tx) -> Status {
      for (int i = 0; i < 3; ++i) {
        auto a =
            outbox.append(tx, OutboxEvent{"", "retail.inventory.v1", "SKU-1", "com.trueup.stock.changed.v1",
                                          "/trueup/inventory", "SKU-1", "", "{\"n\":" + std::to_string(i) + "}", ""});
        if (!a) return a.error();
        appended.push_back(*a);
      }
      return Ok{};
    });
    ASSERT_TRUE(s) << s.error().describe();
  }
  const std::regex uuid("^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$");
  std::set<std::string> ids;
  for (std::size_t i = 0; i < appended.size(); ++i) {
    EXPECT_TRUE(std::regex_match(appended[i].id, uuid)) << appended[i].id;
    ids.insert(appended[i].id);
    if (i) {
      EXPECT_GT(appended[i].sequence, appended[i - 1].sequence);
    }
  }
  EXPECT_EQ(ids.size(), appended.size());
  EXPECT_EQ(test::query_int(store(), "SELECT count(*) FROM trueup_outbox_pending"), 9);
  auto time = test::query_one(store(), "SELECT time FROM trueup_outbox ORDER BY seq LIMIT 1");
  ASSERT_TRUE(time);
  EXPECT_TRUE(std::regex_match(*time, std::regex(R"(^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$)"))) << *time;
}

// An outbox written before the pending queue (migration 0013): its
// unpublished events become the queue, its published ones do not, and the
// published_at column and its indexes are gone.
class MessagingStoreUpgrade : public ::testing::TestWithParam<Engine> {
 protected:
  test::ManualClock clock_;
};

TEST_P(MessagingStoreUpgrade, PendingQueueTakesTheUnpublishedEventsOfAnOlderOutbox) {
  {
    auto db = test::open_test_store(GetParam(), {}, 2);
    ASSERT_TRUE(db->store);
    store::Store& s = *db->store;
    const bool pg = s.engine() == "postgres";
    const std::string ts = pg ? "$1::timestamptz" : "$1";
    auto written = s.transact([&](store::Transaction& tx) -> Status {
      for (int i = 0; i < 4; ++i) {
        auto r = tx.exec(
            "INSERT INTO trueup_outbox (id, topic, key, type, source, time, data, created_at, "
            "published_at) VALUES ('e" +
                std::to_string(i) + "', 't', 'k', 'ty', '/s', '2024-05-01T12:00:00Z', '{}', " + ts + ", " +
                (i % 2 ? ts : "NULL") + ")",
            {std::string("2024-05-01T12:00:00.000000Z")});
        if (!r) return std::move(r).error();
      }
      return Ok{};
    });
    ASSERT_TRUE(written) << written.error().describe();
    auto upgraded = s.migrate(test::messaging_migrations(s.engine()));
    ASSERT_TRUE(upgraded) << upgraded.error().describe();
    EXPECT_EQ(upgraded->applied.size(), 1u);
    EXPECT_EQ(test::query_int(s, "SELECT count(*) FROM trueup_outbox"), 4);
    auto pending = test::query_one(s, std::string("SELECT ") +
                                          (pg ? "string_agg(o.id, ',' ORDER BY o.seq)" : "group_concat(o.id, ',')") +
                                          " FROM trueup_outbox o JOIN trueup_outbox_pending p ON p.seq = o.seq");
    EXPECT_EQ(pending.value_or(""), "e0,e2") << s.engine();
    // An older release, still running, appends the way it did: no `queued`,
    // no queue row. The trigger queues it.
    auto old_append = s.transact([&](store::Transaction& tx) -> Status {
      auto r = tx.exec(
          "INSERT INTO trueup_outbox (id, topic, key, type, source, time, data, created_at) VALUES "
          "('old-release', 't', 'k', 'ty', '/s', '2024-05-01T12:00:00Z', '{}', " +
              ts + ")",
          {std::string("2024-05-01T12:00:00.000000Z")});
      if (!r) return std::move(r).error();
      return Ok{};
    });
    ASSERT_TRUE(old_append) << old_append.error().describe();
    EXPECT_EQ(test::query_int(s,
                              "SELECT count(*) FROM trueup_outbox o JOIN trueup_outbox_pending p ON p.seq = "
                              "o.seq WHERE o.id = 'old-release'"),
              1);
    // This release's appends queue themselves, once.
    Outbox outbox(s, clock_.clock());
    auto appended = s.transact([&](store::Transaction& tx) -> Status {
      auto a = outbox.append(tx, OutboxEvent{"", "t", "k", "ty", "/s", "", "", "{}", ""});
      if (!a) return a.error();
      return Ok{};
    });
    ASSERT_TRUE(appended) << appended.error().describe();
    EXPECT_EQ(test::query_int(s, "SELECT count(*) FROM trueup_outbox_pending"), 4);
    EXPECT_EQ(test::query_int(s, "SELECT count(*) FROM trueup_outbox WHERE queued IS NOT NULL"), 1);  // the new one
    EXPECT_EQ(test::query_int(s, pg ? "SELECT count(*) FROM information_schema.columns WHERE table_schema = "
                                      "current_schema() AND table_name = 'trueup_outbox' AND column_name = "
                                      "'published_at'"
                                    : "SELECT count(*) FROM pragma_table_info('trueup_outbox') WHERE name = "
                                      "'published_at'"),
              0);
  }
}

TEST_P(MessagingStore, OutboxBatchKeepsTheGivenOrderAndFillsIds) {
  Outbox outbox(store(), clock_.clock());
  std::vector<OutboxEvent> events;
  for (int i = 0; i < 5; ++i)
    events.push_back(OutboxEvent{i == 2 ? "given-id" : "", "retail.inventory.v1", "SKU-" + std::to_string(i % 2),
                                 "com.trueup.stock.changed.v1", "/trueup/inventory", "", "",
                                 "{\"n\":" + std::to_string(i) + "}", ""});
  std::vector<AppendedEvent> appended;
  auto s = store().transact([&](store::Transaction& tx) -> Status {
    auto a = outbox.append_batch(tx, events);
    if (!a) return a.error();
    appended = *a;
    return Ok{};
  });
  ASSERT_TRUE(s) << s.error().describe();
  ASSERT_EQ(appended.size(), 5u);
  EXPECT_EQ(appended[2].id, "given-id");
  for (std::size_t i = 1; i < appended.size(); ++i) EXPECT_GT(appended[i].sequence, appended[i - 1].sequence);
  for (std::size_t i = 0; i < appended.size(); ++i) {
    auto data =
        test::query_one(store(), "SELECT data FROM trueup_outbox WHERE seq = " + std::to_string(appended[i].sequence));
    ASSERT_TRUE(data);
    EXPECT_EQ(*data, "{\"n\":" + std::to_string(i) + "}");
  }
}

TEST_P(MessagingStore, OutboxRefusesBadEventsAndDuplicateIds) {
  Outbox outbox(store(), clock_.clock());
  auto append = [&](OutboxEvent e) {
    std::optional<Error> err;
    auto s = store().transact([&](store::Transaction& tx) -> Status {
      auto a = outbox.append(tx, e);
      if (!a) return a.error();
      return Ok{};
    });
    if (!s) err = s.error();
    return err;
  };
  OutboxEvent good{"fixed-id", "t", "k", "type", "/src", "", "2024-05-01T12:00:00Z", "{}", "00-abc-def-01"};
  EXPECT_FALSE(append(good));
  auto dup = append(good);
  ASSERT_TRUE(dup);
  EXPECT_EQ(dup->code, Errc::already_exists);
  auto not_json = good;
  not_json.id.clear();
  not_json.data = "{oops";
  ASSERT_TRUE(append(not_json));
  EXPECT_EQ(append(not_json)->code, Errc::invalid_argument);
  auto no_topic = good;
  no_topic.id.clear();
  no_topic.topic.clear();
  EXPECT_EQ(append(no_topic)->code, Errc::invalid_argument);
  EXPECT_EQ(test::query_one(store(), "SELECT time FROM trueup_outbox WHERE id = 'fixed-id'"), "2024-05-01T12:00:00Z");
}

// --- Idempotency-Key

class IdempotencyTest : public MessagingStore {
 protected:
  IdempotencyKeys keys() { return IdempotencyKeys(store(), IdempotencySettings{72h, 60s}, clock_.clock()); }

  Status complete(IdempotencyKeys& k, const IdempotencyClaim& claim, const StoredResponse& r, bool fail_after = false) {
    return store().transact([&](store::Transaction& tx) -> Status {
      auto s = k.complete(tx, claim, r);
      if (!s) return s;
      if (fail_after) return make_error(Errc::unavailable, "processing failed after complete");
      return Ok{};
    });
  }
};

const std::string kFp = request_fingerprint("POST", "/v1/orders", "{\"id\":1}");
const std::string kOtherFp = request_fingerprint("POST", "/v1/orders", "{\"id\":2}");

TEST_P(IdempotencyTest, NewThenInFlightThenCompletedReplay) {
  auto k = keys();
  auto b = k.begin("key-1", "api-key-7", kFp);
  ASSERT_TRUE(b) << b.error().describe();
  ASSERT_TRUE(std::holds_alternative<idempotency::New>(*b));
  const auto claim = std::get<idempotency::New>(*b).claim;

  auto in_flight = k.begin("key-1", "api-key-7", kFp);
  ASSERT_TRUE(in_flight);
  EXPECT_TRUE(std::holds_alternative<idempotency::InFlight>(*in_flight));  // the 409 case

  auto other_scope = k.begin("key-1", "api-key-8", kFp);
  ASSERT_TRUE(other_scope);
  EXPECT_TRUE(std::holds_alternative<idempotency::New>(*other_scope));

  StoredResponse response{
      201, {{"Content-Type", "application/json"}, {"Location", "/v1/orders/1"}}, std::string("{\"id\":1}\0\xff", 10)};
  // A transaction that fails after complete() leaves the key in flight.
  ASSERT_FALSE(complete(k, claim, response, /*fail_after=*/true));
  auto still = k.begin("key-1", "api-key-7", kFp);
  ASSERT_TRUE(still);
  EXPECT_TRUE(std::holds_alternative<idempotency::InFlight>(*still));

  auto done = complete(k, claim, response);
  ASSERT_TRUE(done) << done.error().describe();
  auto replay = k.begin("key-1", "api-key-7", kFp);
  ASSERT_TRUE(replay);
  ASSERT_TRUE(std::holds_alternative<idempotency::Completed>(*replay));
  const auto& stored = std::get<idempotency::Completed>(*replay).response;
  EXPECT_EQ(stored.status, 201);
  EXPECT_EQ(stored.headers, response.headers);
  EXPECT_EQ(stored.body, response.body);
  // Completing twice is refused (the claim is spent).
  auto twice = complete(k, claim, response);
  ASSERT_FALSE(twice);
  EXPECT_EQ(twice.error().code, Errc::conflict);
}

TEST_P(IdempotencyTest, ReusedKeyWithAnotherRequestIsAMismatch) {
  auto k = keys();
  auto b = k.begin("key-2", "s", kFp);
  ASSERT_TRUE(b && std::holds_alternative<idempotency::New>(*b));
  auto mismatch = k.begin("key-2", "s", kOtherFp);
  ASSERT_TRUE(mismatch);
  EXPECT_TRUE(std::holds_alternative<idempotency::Mismatch>(*mismatch));  // the 422 case
  ASSERT_TRUE(complete(k, std::get<idempotency::New>(*b).claim, StoredResponse{200, {}, "ok"}));
  auto after = k.begin("key-2", "s", kOtherFp);
  ASSERT_TRUE(after);
  EXPECT_TRUE(std::holds_alternative<idempotency::Mismatch>(*after));
}

TEST_P(IdempotencyTest, AbandonMakesTheKeyRetryable) {
  auto k = keys();
  auto b = k.begin("key-3", "s", kFp);
  ASSERT_TRUE(b && std::holds_alternative<idempotency::New>(*b));
  ASSERT_TRUE(k.abandon(std::get<idempotency::New>(*b).claim));
  auto retry = k.begin("key-3", "s", kFp);
  ASSERT_TRUE(retry);
  EXPECT_TRUE(std::holds_alternative<idempotency::New>(*retry));
  // Abandoning a claim that is no longer held changes nothing.
  ASSERT_TRUE(k.abandon(std::get<idempotency::New>(*b).claim));
  auto in_flight = k.begin("key-3", "s", kFp);
  ASSERT_TRUE(in_flight);
  EXPECT_TRUE(std::holds_alternative<idempotency::InFlight>(*in_flight));
}

TEST_P(IdempotencyTest, ExpiredLockIsClaimedAnewAndTheOldClaimCannotComplete) {
  auto k = keys();
  auto first = k.begin("key-4", "s", kFp);
  ASSERT_TRUE(first && std::holds_alternative<idempotency::New>(*first));
  clock_.advance(59s);
  auto busy = k.begin("key-4", "s", kFp);
  ASSERT_TRUE(busy);
  EXPECT_TRUE(std::holds_alternative<idempotency::InFlight>(*busy));
  clock_.advance(2s);
  auto second = k.begin("key-4", "s", kFp);
  ASSERT_TRUE(second);
  ASSERT_TRUE(std::holds_alternative<idempotency::New>(*second));
  auto stale = complete(k, std::get<idempotency::New>(*first).claim, StoredResponse{200, {}, "first"});
  ASSERT_FALSE(stale);
  EXPECT_EQ(stale.error().code, Errc::conflict);
  ASSERT_TRUE(complete(k, std::get<idempotency::New>(*second).claim, StoredResponse{200, {}, "second"}));
  auto replay = k.begin("key-4", "s", kFp);
  ASSERT_TRUE(replay && std::holds_alternative<idempotency::Completed>(*replay));
  EXPECT_EQ(std::get<idempotency::Completed>(*replay).response.body, "second");
}

TEST_P(IdempotencyTest, KeysExpireAfterRetentionAndArePurged) {
  auto k = keys();
  auto b = k.begin("key-5", "s", kFp);
  ASSERT_TRUE(b && std::holds_alternative<idempotency::New>(*b));
  ASSERT_TRUE(complete(k, std::get<idempotency::New>(*b).claim, StoredResponse{200, {}, "x"}));
  ASSERT_TRUE(k.begin("key-6", "s", kFp));
  clock_.advance(71h);
  auto purged = k.purge_expired();
  ASSERT_TRUE(purged);
  EXPECT_EQ(*purged, 0u);
  clock_.advance(2h);
  // Expired: the key counts as new, even with another payload.
  auto fresh = k.begin("key-5", "s", kOtherFp);
  ASSERT_TRUE(fresh);
  EXPECT_TRUE(std::holds_alternative<idempotency::New>(*fresh));
  purged = k.purge_expired();
  ASSERT_TRUE(purged);
  EXPECT_EQ(*purged, 1u);  // key-6; key-5 was claimed anew
  EXPECT_EQ(test::query_int(store(), "SELECT count(*) FROM trueup_idempotency_key"), 1);
}

TEST_P(IdempotencyTest, ConcurrentBeginsClaimOnce) {
  auto k = keys();
  std::atomic<int> news{0}, in_flight{0}, errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 12; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10; ++i) {
        auto b = k.begin("race-" + std::to_string(i), "s", kFp);
        if (!b)
          ++errors;
        else if (std::holds_alternative<idempotency::New>(*b))
          ++news;
        else if (std::holds_alternative<idempotency::InFlight>(*b))
          ++in_flight;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(news.load(), 10);
  EXPECT_EQ(in_flight.load(), 110);
}

INSTANTIATE_TEST_SUITE_P(Engines, MessagingStore, ::testing::Values(Engine::sqlite, Engine::postgres),
                         test::engine_name);
INSTANTIATE_TEST_SUITE_P(Engines, IdempotencyTest, ::testing::Values(Engine::sqlite, Engine::postgres),
                         test::engine_name);
INSTANTIATE_TEST_SUITE_P(Engines, MessagingStoreUpgrade, ::testing::Values(Engine::sqlite, Engine::postgres),
                         test::engine_name);

}  // namespace
}  // namespace trueup::messaging
