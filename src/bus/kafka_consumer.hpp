#pragma once
// The Kafka engine's consumer: one librdkafka high-level consumer per member,
// manual commits only (enable.auto.commit and enable.auto.offset.store off),
// a rebalance callback that follows the group's protocol (eager or
// cooperative) and logs assignments.

#include <librdkafka/rdkafka.h>

#include <string>
#include <vector>

#include "trueup/bus/bus.hpp"

namespace trueup::bus::kafka {

class KafkaConsumer final : public Consumer {
 public:
  // Creates the client and subscribes; joining the group happens in poll.
  static Result<std::unique_ptr<Consumer>> open(const KafkaSettings& settings, const std::string& group,
                                                const std::vector<std::string>& topics);
  ~KafkaConsumer() override;

  Result<std::optional<Message>> poll(std::chrono::milliseconds timeout) override;
  Status commit(const Message& message) override;
  void close() override;

 private:
  KafkaConsumer(rd_kafka_t* rk, std::string group) : rk_(rk), group_(std::move(group)) {}

  rd_kafka_t* rk_;  // null once closed
  std::string group_;
};

}  // namespace trueup::bus::kafka
