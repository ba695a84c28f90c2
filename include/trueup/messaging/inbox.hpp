#pragma once
// The inbox: durable receipt and dedupe of inbound messages, and quarantine
// for authentic payloads that cannot be parsed or mapped.
//
// `record` runs inside the caller's transaction, the one that also processes
// the message: a unique (source, dedupe_key) makes the insert itself the
// duplicate check, so a duplicate is recognised without a separate round
// trip, and two concurrent deliveries of one message cannot both be
// processed (the second insert waits for the first transaction and then sees
// the row, on PostgreSQL as on SQLite). When `inserted` is false the caller
// acknowledges the sender again (2xx) and does nothing else.
//
// Counters (`source` is a connector or API name, a bounded set):
//   trueup_inbox_messages_total{source}     messages recorded as new
//   trueup_inbox_duplicates_total{source}   duplicates recognised
//   trueup_inbox_quarantined_total{source}  payloads put into quarantine
// They count when the statement ran; a transaction that later rolls back has
// still been counted.
//
// Thread-safety: an Inbox is safe from any thread. It must outlive no store
// or registry it was given (it keeps references).

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "trueup/core/error.hpp"
#include "trueup/messaging/clock.hpp"
#include "trueup/metrics/registry.hpp"
#include "trueup/store/store.hpp"

namespace trueup::messaging {

struct InboxMessage {
  std::string source;                                   // connector or API name: "shopify", "api"
  std::string dedupe_key;                               // the source's event/delivery id, else content_dedupe_key()
  std::string content_type;                             // "application/json"
  std::string payload;                                  // the raw bytes as received (any bytes)
  std::chrono::system_clock::time_point received_at{};  // default: the clock's now
};

struct InboxRecord {
  std::int64_t id = 0;    // the inbox row (the existing one for a duplicate)
  bool inserted = false;  // false: a duplicate of message `id`
};

// Hex SHA-256 of `canonical_content`: the dedupe key for a source that has no
// event id. Hash the canonical form (after mapping), not the raw bytes, so
// the same content re-serialised by the sender still dedupes.
std::string content_dedupe_key(std::string_view canonical_content);

class Inbox {
 public:
  // `store` decides the SQL dialect; the tables come from migration 0002.
  Inbox(store::Store& store, metrics::Registry& registry, Clock clock = {});

  // Inserts the message unless (source, dedupe_key) is already there.
  // Errc::invalid_argument for an empty source or dedupe key; store errors as
  // they come (the transaction is then aborted).
  Result<InboxRecord> record(store::Transaction& tx, const InboxMessage& message);

  // record() for many messages in a few statements (one multi-row insert per
  // kMaxRowsPerStatement rows): the same result per message, in order. A key
  // given twice in `messages` is inserted once; its later copies come back
  // as duplicates of that row. Group commit uses this.
  Result<std::vector<InboxRecord>> record_batch(store::Transaction& tx, std::span<const InboxMessage> messages);

  // Keeps an authentic payload that could not be parsed or mapped, raw, with
  // the reason; returns the quarantine id. The caller opens the
  // `malformed_payload` exception (workflow module) referring to this id, in
  // the same transaction.
  Result<std::int64_t> quarantine(store::Transaction& tx, std::string_view source, std::string_view raw,
                                  std::string_view content_type, std::string_view reason);

 private:
  struct SourceCounters {
    metrics::Counter* messages;
    metrics::Counter* duplicates;
    metrics::Counter* quarantined;
  };
  SourceCounters& counters(const std::string& source);

  bool postgres_;
  metrics::Registry& registry_;
  Clock clock_;
  std::mutex mu_;
  std::map<std::string, SourceCounters, std::less<>> counters_;
};

}  // namespace trueup::messaging
