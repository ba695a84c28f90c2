#pragma once
// The transactional outbox: events are appended in the same transaction as
// the state change that causes them, and the Relay (relay.hpp) publishes them
// afterwards. Each row gets a monotonic sequence number (BIGSERIAL on
// PostgreSQL, INTEGER PRIMARY KEY AUTOINCREMENT on SQLite); the relay
// publishes in that order.
//
// Events are CloudEvents 1.0, sent in Kafka binary mode: the attributes go to
// `ce_*` headers, the key is the partition key, the value is `data` (JSON).
//
// Thread-safety: an Outbox is safe from any thread.

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "trueup/core/error.hpp"
#include "trueup/messaging/clock.hpp"
#include "trueup/store/store.hpp"

namespace trueup::messaging {

struct OutboxEvent {
  std::string id;           // ce_id; a UUIDv4 is generated when empty
  std::string topic;        // "retail.inventory.v1"
  std::string key;          // partition key (SKU, order id): events of one key keep their order
  std::string type;         // ce_type "com.trueup.stock.changed.v1"
  std::string source;       // ce_source "/trueup/inventory"
  std::string subject;      // ce_subject, optional
  std::string time;         // ce_time, RFC 3339 UTC; the clock's now when empty
  std::string data;         // JSON text (checked to be JSON)
  std::string traceparent;  // W3C traceparent, optional
};

struct AppendedEvent {
  std::int64_t sequence = 0;
  std::string id;  // the ce_id (generated or given)
};

class Outbox {
 public:
  explicit Outbox(store::Store& store, Clock clock = {});

  // Inserts the event in the caller's transaction. Errc::invalid_argument for
  // an empty topic, type or source, or data that is not JSON; already_exists
  // when an event with this ce_id exists; store errors as they come.
  // After the transaction commits, call Relay::notify() so the relay of this
  // process publishes at once instead of at its next poll.
  Result<AppendedEvent> append(store::Transaction& tx, OutboxEvent event);

  // append() for many events in one multi-row insert per
  // store::kMaxRowsPerStatement rows; the results in the order of `events`,
  // whose empty ids and times are filled in. Events of one key are
  // sequenced in the order given.
  Result<std::vector<AppendedEvent>> append_batch(store::Transaction& tx, std::span<OutboxEvent> events);

 private:
  bool postgres_;
  Clock clock_;
};

// A random (version 4) UUID in its canonical text form.
std::string make_uuid_v4();

}  // namespace trueup::messaging
