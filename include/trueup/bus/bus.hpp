#pragma once
// The event bus: topics of keyed messages with per-key order, produced with
// delivery reports and consumed in consumer groups with explicit commits.
// Two engines: Apache Kafka (librdkafka) and an embedded in-process bus; both
// pass one conformance suite (tests/unit/bus_conformance_test.cpp) and are
// described in docs/bus.md.
//
// Guarantees (both engines): at-least-once delivery to a consumer group,
// order per key (a key always maps to one partition, see partition_for_key),
// and an idempotent producer (a retry inside the engine never duplicates or
// reorders a message).
//
// Thread-safety: Bus and Producer are safe from any thread. A Consumer is used
// by one thread at a time. Delivery callbacks run on a bus-owned thread, one
// at a time, and must not block: produce() from one is fine, produce_sync()
// and flush() fail there with Errc::invalid_argument, and Bus::stop() there
// is a programming error (std::logic_error).
//
// Lifetime: producers and consumers may outlive the Bus object that made
// them. After Bus::stop() producers fail every message with
// Errc::unavailable; consumers are closed by their owner (close() or the
// destructor), never by the bus.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "trueup/core/error.hpp"

namespace trueup::bus {

struct Header {
  std::string name;
  std::string value;
};

struct Message {
  std::string topic;
  std::string key;  // partition key: messages with one key keep their order
  std::string value;
  std::vector<Header> headers;
  std::int32_t partition = -1;  // set on consumed messages
  std::int64_t offset = -1;     // set on consumed messages

  const std::string* header(std::string_view name) const {
    for (const auto& h : headers)
      if (h.name == name) return &h.value;
    return nullptr;
  }
};

struct Delivery {
  std::string topic;
  std::int32_t partition = -1;
  std::int64_t offset = -1;
};

struct TopicSpec {
  std::string name;
  int partitions = 3;          // <= 0: the engine's default (broker's num.partitions)
  int replication_factor = 1;  // Kafka only; <= 0: the broker's default
};

class Producer {
 public:
  virtual ~Producer() = default;
  // Queues a message; `on_delivery` is called exactly once with where it was
  // stored or why it was not (retryable errors are marked so: unavailable,
  // timeout, overloaded). It runs on the bus's delivery thread, except when
  // the bus is already stopped: then it runs at once on the calling thread.
  // An empty key spreads messages over partitions (no order between them).
  // Producing to a topic that does not exist fails with Errc::not_found.
  virtual void produce(Message message, std::function<void(Result<Delivery>)> on_delivery) = 0;
  // Produces and waits for the delivery report. Errc::timeout when none came
  // within `timeout`: the message may still be stored later.
  virtual Result<Delivery> produce_sync(Message message, std::chrono::milliseconds timeout) = 0;
  // Waits until every message queued so far has a delivery report and its
  // callback has returned. Errc::timeout otherwise.
  virtual Status flush(std::chrono::milliseconds timeout) = 0;
};

class Consumer {
 public:
  virtual ~Consumer() = default;
  // The next message, or nullopt when none arrived within `timeout`.
  // Transient engine trouble (broker restarts, rebalances) is retried inside
  // and only logged; errors returned are the ones a caller must act on.
  virtual Result<std::optional<Message>> poll(std::chrono::milliseconds timeout) = 0;
  // Commits the position after `message` (synchronously) for this group.
  // Errc::conflict when the message's partition is no longer assigned to this
  // member (the group rebalanced): the new owner will get it again.
  virtual Status commit(const Message& message) = 0;
  // Leaves the group. Uncommitted messages are delivered again to the next
  // member. Idempotent; the destructor closes too.
  virtual void close() = 0;
};

class Bus {
 public:
  virtual ~Bus() = default;
  // "kafka" or "embedded".
  virtual std::string_view engine() const noexcept = 0;
  // Checks the topics exist; creates the missing ones when `create` is true
  // (and waits until they can be used), else fails with Errc::not_found
  // naming them. Existing topics are left as they are.
  virtual Status ensure_topics(const std::vector<TopicSpec>& topics, bool create) = 0;
  virtual Result<std::unique_ptr<Producer>> producer() = 0;
  // A member of consumer group `group` subscribed to `topics`; a new group
  // starts at the earliest offset, a known group at its committed offsets.
  virtual Result<std::unique_ptr<Consumer>> consumer(const std::string& group,
                                                     const std::vector<std::string>& topics) = 0;
  // Whether the bus is reachable (metadata round trip for Kafka).
  virtual Status ping(std::chrono::milliseconds timeout) = 0;
  // Flushes producers and releases resources. Idempotent; the destructor
  // stops too.
  virtual void stop() = 0;
};

struct KafkaSettings {
  std::string bootstrap_servers;  // host:port[,host:port]
  std::string client_id = "trueup";
  // Extra librdkafka properties (security.protocol, sasl.*, ...). Unknown
  // keys are rejected; keys that would break the guarantees above
  // (enable.idempotence, acks, enable.auto.commit, group.id, ...) too.
  std::map<std::string, std::string> properties;
  // Bound for metadata, topic creation and the flush in stop().
  std::chrono::milliseconds request_timeout{10000};
};

struct EmbeddedSettings {
  int default_partitions = 3;
};

// Fails with Errc::invalid_argument on a bad setting or property; does not
// contact the brokers (use ping for that).
Result<std::unique_ptr<Bus>> open_kafka(const KafkaSettings& settings);
std::unique_ptr<Bus> open_embedded(const EmbeddedSettings& settings);

// The partition a non-empty key maps to among `partitions`: Kafka's murmur2
// partitioner, as used by the Java clients and librdkafka's murmur2_random,
// so both engines (and other Kafka clients) place a key alike.
std::int32_t partition_for_key(std::string_view key, std::int32_t partitions) noexcept;

}  // namespace trueup::bus
