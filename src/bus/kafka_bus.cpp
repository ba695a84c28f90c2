// The Kafka engine: one idempotent producer client per bus (ProducerCore),
// which also carries metadata and admin requests, and one consumer client per
// Consumer. See docs/bus.md.

#include <librdkafka/rdkafka.h>
#include <spdlog/spdlog.h>

#include <array>
#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "kafka_consumer.hpp"
#include "kafka_producer.hpp"
#include "kafka_support.hpp"
#include "trueup/bus/bus.hpp"

namespace trueup::bus {
namespace kafka {
namespace {

using Clock = std::chrono::steady_clock;

int to_ms(std::chrono::milliseconds d) { return static_cast<int>(std::max<std::int64_t>(d.count(), 0)); }

std::chrono::milliseconds left_until(Clock::time_point deadline) {
  return std::max(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()),
                  std::chrono::milliseconds(0));
}

struct MetadataDeleter {
  void operator()(const rd_kafka_metadata_t* m) const noexcept { rd_kafka_metadata_destroy(m); }
};
struct NewTopicsDeleter {
  std::size_t count = 0;
  void operator()(rd_kafka_NewTopic_t** topics) const noexcept {
    rd_kafka_NewTopic_destroy_array(topics, count);
    delete[] topics;
  }
};
struct AdminOptionsDeleter {
  void operator()(rd_kafka_AdminOptions_t* o) const noexcept { rd_kafka_AdminOptions_destroy(o); }
};
struct QueueDeleter {
  void operator()(rd_kafka_queue_t* q) const noexcept { rd_kafka_queue_destroy(q); }
};
struct EventDeleter {
  void operator()(rd_kafka_event_t* e) const noexcept { rd_kafka_event_destroy(e); }
};

struct TopicState {
  int partitions = 0;
  bool ready = false;  // no error and every partition has a leader
};

// Every topic in the cluster (a request for named topics could auto-create
// them on brokers with auto.create.topics.enable).
Result<std::map<std::string, TopicState>> list_topics(rd_kafka_t* rk, std::chrono::milliseconds timeout) {
  const rd_kafka_metadata_t* raw = nullptr;
  if (auto err = rd_kafka_metadata(rk, 1, nullptr, &raw, to_ms(timeout)); err != RD_KAFKA_RESP_ERR_NO_ERROR)
    return error_from(err, "kafka metadata");
  std::unique_ptr<const rd_kafka_metadata_t, MetadataDeleter> md(raw);
  std::map<std::string, TopicState> topics;
  for (int i = 0; i < md->topic_cnt; ++i) {
    const auto& t = md->topics[i];
    if (t.err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) continue;
    TopicState state{t.partition_cnt, t.err == RD_KAFKA_RESP_ERR_NO_ERROR && t.partition_cnt > 0};
    for (int p = 0; p < t.partition_cnt; ++p)
      if (t.partitions[p].leader < 0) state.ready = false;
    topics.emplace(t.topic, state);
  }
  return topics;
}

Status create_topics(rd_kafka_t* rk, const std::vector<TopicSpec>& specs, std::chrono::milliseconds timeout) {
  std::array<char, 512> errstr{};
  std::unique_ptr<rd_kafka_NewTopic_t*[], NewTopicsDeleter> topics(
      new rd_kafka_NewTopic_t* [specs.size()](), NewTopicsDeleter { 0 });
  for (const auto& spec : specs) {
    // -1: the broker's default (num.partitions, default.replication.factor).
    auto* topic =
        rd_kafka_NewTopic_new(spec.name.c_str(), spec.partitions > 0 ? spec.partitions : -1,
                              spec.replication_factor > 0 ? spec.replication_factor : -1, errstr.data(), errstr.size());
    if (topic == nullptr)
      return make_error(Errc::invalid_argument, "kafka topic '" + spec.name + "': " + errstr.data());
    topics[topics.get_deleter().count++] = topic;
  }

  std::unique_ptr<rd_kafka_AdminOptions_t, AdminOptionsDeleter> options(
      rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS));
  // The operation timeout makes the controller answer once the topics exist.
  if (rd_kafka_AdminOptions_set_request_timeout(options.get(), to_ms(timeout), errstr.data(), errstr.size()) ||
      rd_kafka_AdminOptions_set_operation_timeout(options.get(), to_ms(timeout), errstr.data(), errstr.size()))
    return make_error(Errc::invalid_argument, std::string("kafka create topics: ") + errstr.data());

  std::unique_ptr<rd_kafka_queue_t, QueueDeleter> queue(rd_kafka_queue_new(rk));
  rd_kafka_CreateTopics(rk, topics.get(), topics.get_deleter().count, options.get(), queue.get());
  // The admin request times out by itself; the margin only covers its reply.
  std::unique_ptr<rd_kafka_event_t, EventDeleter> event(
      rd_kafka_queue_poll(queue.get(), to_ms(timeout + std::chrono::seconds(5))));
  if (!event) return make_error(Errc::timeout, "kafka create topics: no answer in time");
  if (auto err = rd_kafka_event_error(event.get()); err != RD_KAFKA_RESP_ERR_NO_ERROR)
    return error_from(err, std::string("kafka create topics: ") + rd_kafka_event_error_string(event.get()));

  const auto* result = rd_kafka_event_CreateTopics_result(event.get());
  std::size_t count = 0;
  const rd_kafka_topic_result_t** results = rd_kafka_CreateTopics_result_topics(result, &count);
  std::string failures;
  Errc code = Errc::ok;
  for (std::size_t i = 0; i < count; ++i) {
    const auto err = rd_kafka_topic_result_error(results[i]);
    // Another instance created it first: fine.
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR || err == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) continue;
    if (code == Errc::ok) code = errc_for(err);
    if (!failures.empty()) failures += "; ";
    const char* text = rd_kafka_topic_result_error_string(results[i]);
    failures += std::string(rd_kafka_topic_result_name(results[i])) + ": " + (text ? text : rd_kafka_err2str(err)) +
                " (" + rd_kafka_err2name(err) + ")";
  }
  if (code != Errc::ok) return make_error(code, "kafka create topics failed: " + failures);
  for (const auto& spec : specs) spdlog::default_logger()->info("kafka created topic {}", spec.name);
  return Ok{};
}

std::string join_names(const std::vector<TopicSpec>& specs) {
  std::string out;
  for (const auto& s : specs) {
    if (!out.empty()) out += ", ";
    out += s.name;
  }
  return out;
}

class KafkaBus final : public Bus {
 public:
  KafkaBus(KafkaSettings settings, std::shared_ptr<ProducerCore> core)
      : settings_(std::move(settings)), core_(std::move(core)) {}
  ~KafkaBus() override { stop(); }

  std::string_view engine() const noexcept override { return "kafka"; }

  Status ensure_topics(const std::vector<TopicSpec>& topics, bool create) override {
    for (const auto& spec : topics)
      if (spec.name.empty()) return make_error(Errc::invalid_argument, "a topic name is empty");
    if (stopped_) return stopped_error();
    return core_->with_client([&](rd_kafka_t* rk) -> Status {
      const auto deadline = Clock::now() + settings_.request_timeout;
      auto existing = list_topics(rk, settings_.request_timeout);
      if (!existing) return std::move(existing).error();

      std::vector<TopicSpec> missing;
      for (const auto& spec : topics) {
        auto found = existing->find(spec.name);
        if (found == existing->end()) {
          bool listed = false;
          for (const auto& m : missing) listed = listed || m.name == spec.name;
          if (!listed) missing.push_back(spec);
        } else if (spec.partitions > 0 && found->second.partitions < spec.partitions) {
          // Adding partitions would move keys; an operator decides that.
          spdlog::default_logger()->warn("kafka topic {} has {} partitions, fewer than the {} asked for", spec.name,
                                         found->second.partitions, spec.partitions);
        }
      }
      if (missing.empty()) return Ok{};
      if (!create) return make_error(Errc::not_found, "kafka topics missing: " + join_names(missing));

      if (auto st = create_topics(rk, missing, left_until(deadline)); !st) return st;
      // Created is not yet usable: wait until metadata shows every partition
      // with a leader, so a producer or consumer started next finds them.
      for (;;) {
        auto now_listed = list_topics(rk, left_until(deadline));
        bool ready = now_listed.ok();
        if (ready)
          for (const auto& spec : missing) {
            auto found = now_listed->find(spec.name);
            ready = ready && found != now_listed->end() && found->second.ready;
          }
        if (ready) return Ok{};
        if (Clock::now() >= deadline)
          return make_error(Errc::timeout, "kafka topics created but not ready within " +
                                               std::to_string(settings_.request_timeout.count()) +
                                               " ms: " + join_names(missing));
        // Metadata propagates on the broker's schedule; ask again shortly.
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    });
  }

  Result<std::unique_ptr<Producer>> producer() override {
    if (stopped_) return stopped_error();
    return std::unique_ptr<Producer>(std::make_unique<KafkaProducer>(core_));
  }

  Result<std::unique_ptr<Consumer>> consumer(const std::string& group,
                                             const std::vector<std::string>& topics) override {
    if (stopped_) return stopped_error();
    return KafkaConsumer::open(settings_, group, topics);
  }

  Status ping(std::chrono::milliseconds timeout) override {
    if (stopped_) return stopped_error();
    return core_->with_client([&](rd_kafka_t* rk) -> Status {
      const rd_kafka_metadata_t* raw = nullptr;
      // Brokers and locally known topics only: cheap, and creates nothing.
      const auto err = rd_kafka_metadata(rk, 0, nullptr, &raw, to_ms(timeout));
      if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
        return make_error(Errc::unavailable, "kafka at " + settings_.bootstrap_servers + " unreachable: " +
                                                 rd_kafka_err2str(err) + " (" + rd_kafka_err2name(err) + ")");
      std::unique_ptr<const rd_kafka_metadata_t, MetadataDeleter> md(raw);
      if (md->broker_cnt == 0)
        return make_error(Errc::unavailable, "kafka at " + settings_.bootstrap_servers + " reports no brokers");
      return Ok{};
    });
  }

  void stop() override {
    if (stopped_.exchange(true)) return;
    core_->stop(settings_.request_timeout);
  }

 private:
  static Error stopped_error() { return make_error(Errc::unavailable, "kafka bus is stopped"); }

  const KafkaSettings settings_;
  std::shared_ptr<ProducerCore> core_;
  std::atomic<bool> stopped_{false};
};

}  // namespace
}  // namespace kafka

Result<std::unique_ptr<Bus>> open_kafka(const KafkaSettings& settings) {
  if (settings.request_timeout.count() <= 0)
    return make_error(Errc::invalid_argument, "kafka request_timeout must be positive");
  // Check the consumer configuration now, so a bad property fails at start
  // rather than at the first consumer.
  if (auto probe = kafka::make_conf(settings, kafka::Role::consumer, "trueup"); !probe) return std::move(probe).error();
  auto core = kafka::ProducerCore::start(settings);
  if (!core) return std::move(core).error();
  return std::unique_ptr<Bus>(std::make_unique<kafka::KafkaBus>(settings, std::move(*core)));
}

}  // namespace trueup::bus
