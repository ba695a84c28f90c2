#include "kafka_consumer.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>

#include "kafka_support.hpp"

namespace trueup::bus::kafka {
namespace {
using Clock = std::chrono::steady_clock;

struct PartitionListDeleter {
  void operator()(rd_kafka_topic_partition_list_t* list) const noexcept { rd_kafka_topic_partition_list_destroy(list); }
};
using PartitionList = std::unique_ptr<rd_kafka_topic_partition_list_t, PartitionListDeleter>;

struct MessageDeleter {
  void operator()(rd_kafka_message_t* message) const noexcept { rd_kafka_message_destroy(message); }
};
using MessagePtr = std::unique_ptr<rd_kafka_message_t, MessageDeleter>;

std::string describe(const rd_kafka_topic_partition_list_t* parts) {
  std::string out;
  for (int i = 0; i < parts->cnt; ++i) {
    if (!out.empty()) out += ", ";
    out += parts->elems[i].topic;
    out += "/";
    out += std::to_string(parts->elems[i].partition);
  }
  return out.empty() ? "none" : out;
}

void log_error(rd_kafka_error_t* error, const char* what, rd_kafka_t* rk) {
  if (error == nullptr) return;
  spdlog::default_logger()->error("kafka {} {} failed: {}", rd_kafka_name(rk), what, rd_kafka_error_string(error));
  rd_kafka_error_destroy(error);
}

// Served inside rd_kafka_consumer_poll and rd_kafka_consumer_close. A revoked
// partition's uncommitted messages go to its next owner; a later commit for
// it by this member fails with Errc::conflict.
void rebalance_callback(rd_kafka_t* rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* parts, void*) {
  const bool cooperative = std::strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
  auto* log = spdlog::default_logger_raw();
  switch (err) {
    case RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS:
      log->info("kafka {} assigned {}", rd_kafka_name(rk), describe(parts));
      if (cooperative)
        log_error(rd_kafka_incremental_assign(rk, parts), "incremental assign", rk);
      else if (auto e = rd_kafka_assign(rk, parts); e != RD_KAFKA_RESP_ERR_NO_ERROR)
        log->error("kafka {} assign failed: {}", rd_kafka_name(rk), rd_kafka_err2str(e));
      break;
    case RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS:
      log->info("kafka {} revoked {}{}", rd_kafka_name(rk), describe(parts),
                rd_kafka_assignment_lost(rk) ? " (assignment lost)" : "");
      if (cooperative)
        log_error(rd_kafka_incremental_unassign(rk, parts), "incremental unassign", rk);
      else
        rd_kafka_assign(rk, nullptr);
      break;
    default:
      log->error("kafka {} rebalance failed: {}", rd_kafka_name(rk), rd_kafka_err2str(err));
      rd_kafka_assign(rk, nullptr);
      break;
  }
}

Message to_message(const rd_kafka_message_t* m) {
  Message out;
  out.topic = rd_kafka_topic_name(m->rkt);
  if (m->key != nullptr) out.key.assign(static_cast<const char*>(m->key), m->key_len);
  if (m->payload != nullptr) out.value.assign(static_cast<const char*>(m->payload), m->len);
  out.partition = m->partition;
  out.offset = m->offset;
  rd_kafka_headers_t* headers = nullptr;
  // The headers belong to the message; copy them out.
  if (rd_kafka_message_headers(m, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR && headers != nullptr) {
    const char* name = nullptr;
    const void* value = nullptr;
    std::size_t size = 0;
    for (std::size_t i = 0; rd_kafka_header_get_all(headers, i, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR;
         ++i)
      out.headers.push_back(Header{name, value ? std::string(static_cast<const char*>(value), size) : std::string()});
  }
  return out;
}

Error closed_error() { return make_error(Errc::invalid_argument, "kafka consumer is closed"); }

}  // namespace

Result<std::unique_ptr<Consumer>> KafkaConsumer::open(const KafkaSettings& settings, const std::string& group,
                                                      const std::vector<std::string>& topics) {
  if (group.empty()) return make_error(Errc::invalid_argument, "consumer group name is empty");
  if (topics.empty()) return make_error(Errc::invalid_argument, "consumer of group '" + group + "' has no topics");
  auto conf = make_conf(settings, Role::consumer, group);
  if (!conf) return std::move(conf).error();
  rd_kafka_conf_set_rebalance_cb(conf->get(), rebalance_callback);
  auto rk = new_handle(RD_KAFKA_CONSUMER, std::move(*conf));
  if (!rk) return std::move(rk).error();
  // From here the consumer owns the client: early returns close it.
  std::unique_ptr<KafkaConsumer> consumer(new KafkaConsumer(*rk, group));
  // Client errors and logs come through consumer_poll, not a separate queue.
  rd_kafka_poll_set_consumer(*rk);

  PartitionList subscription(rd_kafka_topic_partition_list_new(static_cast<int>(topics.size())));
  for (const auto& topic : topics)
    rd_kafka_topic_partition_list_add(subscription.get(), topic.c_str(), RD_KAFKA_PARTITION_UA);
  if (auto err = rd_kafka_subscribe(*rk, subscription.get()); err != RD_KAFKA_RESP_ERR_NO_ERROR)
    return error_from(err, "subscribe group '" + group + "' to " + describe(subscription.get()));
  return std::unique_ptr<Consumer>(std::move(consumer));
}

KafkaConsumer::~KafkaConsumer() { close(); }

Result<std::optional<Message>> KafkaConsumer::poll(std::chrono::milliseconds timeout) {
  if (rk_ == nullptr) return closed_error();
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    MessagePtr m(rd_kafka_consumer_poll(rk_, static_cast<int>(std::max<std::int64_t>(left.count(), 0))));
    if (m && m->err == RD_KAFKA_RESP_ERR_NO_ERROR) return std::optional<Message>(to_message(m.get()));
    if (m) {
      const std::string where = m->rkt ? std::string("consume topic ") + rd_kafka_topic_name(m->rkt)
                                       : std::string("consume in group '") + group_ + "'";
      // message_errstr already carries librdkafka's text for the code.
      Error error = make_error(
          errc_for(m->err), where + ": " + rd_kafka_message_errstr(m.get()) + " (" + rd_kafka_err2name(m->err) + ")");
      // librdkafka retries transient trouble by itself; say so and go on.
      if (!error.retryable()) return error;
      spdlog::default_logger()->warn("kafka {} {}", rd_kafka_name(rk_), error.message);
    }
    if (Clock::now() >= deadline) return std::optional<Message>();
  }
}

Status KafkaConsumer::commit(const Message& message) {
  if (rk_ == nullptr) return closed_error();
  if (message.partition < 0 || message.offset < 0)
    return make_error(Errc::invalid_argument, "commit of a message that was not consumed (no partition/offset)");
  {
    // Kafka's classic group protocol accepts a commit for a partition that
    // moved to another member; refuse it here, as the embedded bus does.
    rd_kafka_topic_partition_list_t* raw = nullptr;
    if (auto err = rd_kafka_assignment(rk_, &raw); err != RD_KAFKA_RESP_ERR_NO_ERROR)
      return error_from(err, "commit: read assignment of group '" + group_ + "'");
    PartitionList assignment(raw);
    if (rd_kafka_topic_partition_list_find(assignment.get(), message.topic.c_str(), message.partition) == nullptr)
      return make_error(Errc::conflict, "partition " + message.topic + "/" + std::to_string(message.partition) +
                                            " is no longer assigned to this member of group '" + group_ +
                                            "' (the group rebalanced)");
  }
  PartitionList offsets(rd_kafka_topic_partition_list_new(1));
  rd_kafka_topic_partition_list_add(offsets.get(), message.topic.c_str(), message.partition)->offset =
      message.offset + 1;
  const auto err = rd_kafka_commit(rk_, offsets.get(), 0 /* synchronous */);
  // __NO_OFFSET: that position was committed already.
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR || err == RD_KAFKA_RESP_ERR__NO_OFFSET) return Ok{};
  return error_from(err, "commit " + message.topic + "/" + std::to_string(message.partition) + " offset " +
                             std::to_string(message.offset + 1) + " for group '" + group_ + "'");
}

void KafkaConsumer::close() {
  if (rk_ == nullptr) return;
  // Leaves the group (revoking through the rebalance callback) so the
  // partitions move to another member at once instead of after the session
  // timeout.
  if (auto err = rd_kafka_consumer_close(rk_); err != RD_KAFKA_RESP_ERR_NO_ERROR)
    spdlog::default_logger()->warn("kafka {} close: {}", rd_kafka_name(rk_), rd_kafka_err2str(err));
  rd_kafka_destroy(rk_);
  rk_ = nullptr;
}

}  // namespace trueup::bus::kafka
