#pragma once
// The event bus: topics of keyed messages with per-key order, produced with
// delivery reports and consumed in consumer groups with explicit commits.
// Two engines: Apache Kafka (librdkafka) and an embedded in-process bus.
//
// Thread-safety: Bus and Producer are safe from any thread. A Consumer is used
// by one thread at a time. Delivery callbacks run on a bus-owned thread and
// must not block.

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
  std::string key;     // partition key: messages with one key keep their order
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
  int partitions = 3;
  int replication_factor = 1;
};

class Producer {
 public:
  virtual ~Producer() = default;
  // Queues a message; `on_delivery` is called exactly once with where it was
  // stored or why it was not (retryable errors are marked so).
  virtual void produce(Message message, std::function<void(Result<Delivery>)> on_delivery) = 0;
  // Produces and waits for the delivery report.
  virtual Result<Delivery> produce_sync(Message message, std::chrono::milliseconds timeout) = 0;
  // Waits until every queued message has a delivery report.
  virtual Status flush(std::chrono::milliseconds timeout) = 0;
};

class Consumer {
 public:
  virtual ~Consumer() = default;
  // The next message, or nullopt when none arrived within `timeout`.
  virtual Result<std::optional<Message>> poll(std::chrono::milliseconds timeout) = 0;
  // Commits the position after `message` (synchronously) for this group.
  virtual Status commit(const Message& message) = 0;
  // Leaves the group. Uncommitted messages are delivered again to the next
  // member. Idempotent.
  virtual void close() = 0;
};

class Bus {
 public:
  virtual ~Bus() = default;
  // "kafka" or "embedded".
  virtual std::string_view engine() const noexcept = 0;
  // Checks the topics exist; creates the missing ones when `create` is true,
  // else fails with Errc::not_found naming them.
  virtual Status ensure_topics(const std::vector<TopicSpec>& topics, bool create) = 0;
  virtual Result<std::unique_ptr<Producer>> producer() = 0;
  // A member of consumer group `group` subscribed to `topics`; a new group
  // starts at the earliest offset.
  virtual Result<std::unique_ptr<Consumer>> consumer(const std::string& group,
                                                     const std::vector<std::string>& topics) = 0;
  // Whether the bus is reachable (metadata round trip for Kafka).
  virtual Status ping(std::chrono::milliseconds timeout) = 0;
  // Flushes producers and releases resources. Idempotent.
  virtual void stop() = 0;
};

struct KafkaSettings {
  std::string bootstrap_servers;                 // host:port[,host:port]
  std::string client_id = "trueup";
  // Extra librdkafka properties (security.protocol, sasl.*, ...).
  std::map<std::string, std::string> properties;
  std::chrono::milliseconds request_timeout{10000};
};

struct EmbeddedSettings {
  int default_partitions = 3;
};

Result<std::unique_ptr<Bus>> open_kafka(const KafkaSettings& settings);
std::unique_ptr<Bus> open_embedded(const EmbeddedSettings& settings);

}  // namespace trueup::bus
