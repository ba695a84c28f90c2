#include "kafka_support.hpp"

#include <spdlog/spdlog.h>

#include <array>
#include <string>
#include <utility>

namespace trueup::bus::kafka {
namespace {

// Properties the bus sets itself: overriding them would break a documented
// guarantee (idempotence, per-key placement, manual commits) or duplicate a
// settings field.
struct Reserved {
  std::string_view key;
  std::string_view why;
};
constexpr std::array kReserved{
    Reserved{"bootstrap.servers", "set bootstrap_servers instead"},
    Reserved{"metadata.broker.list", "set bootstrap_servers instead"},
    Reserved{"client.id", "set client_id instead"},
    Reserved{"group.id", "the group is chosen per consumer"},
    Reserved{"enable.idempotence", "the producer is always idempotent"},
    Reserved{"acks", "the producer always waits for all in-sync replicas"},
    Reserved{"request.required.acks", "the producer always waits for all in-sync replicas"},
    Reserved{"partitioner", "keys are placed with murmur2 like the Java clients and the embedded bus"},
    Reserved{"transactional.id", "the bus does not use Kafka transactions"},
    Reserved{"enable.auto.commit", "consumers commit explicitly"},
    Reserved{"enable.auto.offset.store", "consumers commit explicitly"},
    Reserved{"auto.offset.reset", "a new group always starts at the earliest offset"},
    Reserved{"enable.partition.eof", "the bus does not report partition ends"},
};

spdlog::level::level_enum level_for(int syslog_level) {
  if (syslog_level <= 2) return spdlog::level::critical;
  if (syslog_level == 3) return spdlog::level::err;
  if (syslog_level == 4) return spdlog::level::warn;
  if (syslog_level <= 6) return spdlog::level::info;
  return spdlog::level::debug;
}

void log_callback(const rd_kafka_t* rk, int level, const char* facility, const char* text) {
  spdlog::default_logger()->log(level_for(level), "kafka {} {}: {}", rk ? rd_kafka_name(rk) : "-", facility, text);
}

void error_callback(rd_kafka_t* rk, int err, const char* reason, void*) {
  const auto code = static_cast<rd_kafka_resp_err_t>(err);
  if (code == RD_KAFKA_RESP_ERR__FATAL) {
    std::array<char, 512> original{};
    const auto cause = rd_kafka_fatal_error(rk, original.data(), original.size());
    spdlog::default_logger()->critical("kafka {} fatal error {}: {}; this client is unusable until restart",
                                       rd_kafka_name(rk), rd_kafka_err2name(cause), original.data());
    return;
  }
  // librdkafka already logged the failed connection itself (FAIL).
  if (code == RD_KAFKA_RESP_ERR__TRANSPORT) return;
  // librdkafka recovers from these by itself; they tell an operator why
  // messages are late.
  const auto level = code == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN ? spdlog::level::err : spdlog::level::warn;
  spdlog::default_logger()->log(level, "kafka {} {}: {}", rd_kafka_name(rk), rd_kafka_err2name(code), reason);
}

}  // namespace

Errc errc_for(rd_kafka_resp_err_t err) noexcept {
  switch (err) {
    case RD_KAFKA_RESP_ERR_NO_ERROR:
      return Errc::ok;

    case RD_KAFKA_RESP_ERR__MSG_TIMED_OUT:
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR__TIMED_OUT_QUEUE:
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
      return Errc::timeout;

    case RD_KAFKA_RESP_ERR__TRANSPORT:
    case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
    case RD_KAFKA_RESP_ERR__RESOLVE:
    case RD_KAFKA_RESP_ERR__DESTROY:
    case RD_KAFKA_RESP_ERR__WAIT_COORD:
    case RD_KAFKA_RESP_ERR__WAIT_CACHE:
    case RD_KAFKA_RESP_ERR__NODE_UPDATE:
    case RD_KAFKA_RESP_ERR__PURGE_QUEUE:
    case RD_KAFKA_RESP_ERR__PURGE_INFLIGHT:
    case RD_KAFKA_RESP_ERR__ISR_INSUFF:
    case RD_KAFKA_RESP_ERR__UNKNOWN_BROKER:
    case RD_KAFKA_RESP_ERR_BROKER_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_REPLICA_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION:
    case RD_KAFKA_RESP_ERR_PREFERRED_LEADER_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NETWORK_EXCEPTION:
    case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS:
    case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND:
    case RD_KAFKA_RESP_ERR_KAFKA_STORAGE_ERROR:
    case RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NOT_COORDINATOR:
    case RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS:
    case RD_KAFKA_RESP_ERR_NOT_CONTROLLER:
    case RD_KAFKA_RESP_ERR_FETCH_SESSION_ID_NOT_FOUND:
    case RD_KAFKA_RESP_ERR_UNKNOWN_LEADER_EPOCH:
    case RD_KAFKA_RESP_ERR_FENCED_LEADER_EPOCH:
    case RD_KAFKA_RESP_ERR_OFFSET_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_UNSTABLE_OFFSET_COMMIT:
      return Errc::unavailable;

    case RD_KAFKA_RESP_ERR__QUEUE_FULL:
    case RD_KAFKA_RESP_ERR_THROTTLING_QUOTA_EXCEEDED:
      return Errc::overloaded;

    case RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS:
    case RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION:
    case RD_KAFKA_RESP_ERR_UNKNOWN_MEMBER_ID:
    case RD_KAFKA_RESP_ERR__ASSIGNMENT_LOST:
    case RD_KAFKA_RESP_ERR__STATE:
      return Errc::conflict;

    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
    case RD_KAFKA_RESP_ERR__UNKNOWN_GROUP:
    case RD_KAFKA_RESP_ERR_GROUP_ID_NOT_FOUND:
    case RD_KAFKA_RESP_ERR_RESOURCE_NOT_FOUND:
      return Errc::not_found;

    case RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS:
      return Errc::already_exists;

    case RD_KAFKA_RESP_ERR__NOT_IMPLEMENTED:
    case RD_KAFKA_RESP_ERR__UNSUPPORTED_FEATURE:
    case RD_KAFKA_RESP_ERR_UNSUPPORTED_VERSION:
    case RD_KAFKA_RESP_ERR_UNSUPPORTED_FOR_MESSAGE_FORMAT:
    case RD_KAFKA_RESP_ERR_UNSUPPORTED_COMPRESSION_TYPE:
    case RD_KAFKA_RESP_ERR_UNSUPPORTED_SASL_MECHANISM:
      return Errc::unsupported;

    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_INVALID_MSG:
    case RD_KAFKA_RESP_ERR_INVALID_MSG_SIZE:
    case RD_KAFKA_RESP_ERR_INVALID_RECORD:
    case RD_KAFKA_RESP_ERR__BAD_MSG:
    case RD_KAFKA_RESP_ERR__INVALID_ARG:
    case RD_KAFKA_RESP_ERR__INVALID_TYPE:
    case RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION:
    case RD_KAFKA_RESP_ERR_INVALID_PARTITIONS:
    case RD_KAFKA_RESP_ERR_INVALID_REPLICATION_FACTOR:
    case RD_KAFKA_RESP_ERR_INVALID_REPLICA_ASSIGNMENT:
    case RD_KAFKA_RESP_ERR_INVALID_CONFIG:
    case RD_KAFKA_RESP_ERR_INVALID_REQUEST:
    case RD_KAFKA_RESP_ERR_INVALID_GROUP_ID:
    case RD_KAFKA_RESP_ERR_INVALID_COMMIT_OFFSET_SIZE:
    case RD_KAFKA_RESP_ERR_OFFSET_METADATA_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_POLICY_VIOLATION:
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED:
    case RD_KAFKA_RESP_ERR__AUTHENTICATION:
    case RD_KAFKA_RESP_ERR__SSL:
      return Errc::invalid_argument;

    default:
      // Includes __FATAL (the idempotent producer lost its guarantees and
      // must be recreated) and codes this table does not know.
      return Errc::internal;
  }
}

Error error_from(rd_kafka_resp_err_t err, std::string_view context) {
  std::string message(context);
  message += ": ";
  message += rd_kafka_err2str(err);
  message += " (";
  message += rd_kafka_err2name(err);
  message += ")";
  return make_error(errc_for(err), std::move(message));
}

Result<ConfPtr> make_conf(const KafkaSettings& settings, Role role, const std::string& group) {
  if (settings.bootstrap_servers.empty())
    return make_error(Errc::invalid_argument, "kafka bootstrap_servers is empty (expected host:port[,host:port])");

  ConfPtr conf(rd_kafka_conf_new());
  std::array<char, 512> errstr{};
  auto set = [&](const std::string& key, const std::string& value, bool from_user) -> Status {
    if (rd_kafka_conf_set(conf.get(), key.c_str(), value.c_str(), errstr.data(), errstr.size()) == RD_KAFKA_CONF_OK)
      return Ok{};
    // errstr names the key (and for enum keys the accepted values); values
    // are never echoed by us: a property may hold a secret.
    return make_error(from_user ? Errc::invalid_argument : Errc::internal,
                      std::string(from_user ? "kafka property '" : "kafka setting '") + key + "': " + errstr.data());
  };

  std::vector<std::pair<std::string, std::string>> fixed{
      {"bootstrap.servers", settings.bootstrap_servers},
      {"client.id", settings.client_id.empty() ? std::string("trueup") : settings.client_id},
      // Topics come from ensure_topics, never from a typo in a topic name.
      {"allow.auto.create.topics", "false"},
  };
  if (role == Role::producer) {
    fixed.insert(fixed.end(), {{"enable.idempotence", "true"}, {"acks", "all"}, {"partitioner", "murmur2_random"}});
  } else {
    fixed.insert(fixed.end(), {{"group.id", group},
                               {"enable.auto.commit", "false"},
                               {"enable.auto.offset.store", "false"},
                               {"auto.offset.reset", "earliest"},
                               {"enable.partition.eof", "false"}});
  }
  for (const auto& [key, value] : fixed)
    if (auto st = set(key, value, false); !st) return std::move(st).error();

  for (const auto& [key, value] : settings.properties) {
    for (const auto& reserved : kReserved)
      if (key == reserved.key)
        return make_error(Errc::invalid_argument,
                          "kafka property '" + key + "' cannot be set: " + std::string(reserved.why));
    if (auto st = set(key, value, true); !st) return std::move(st).error();
  }

  rd_kafka_conf_set_log_cb(conf.get(), log_callback);
  rd_kafka_conf_set_error_cb(conf.get(), error_callback);
  return conf;
}

Result<rd_kafka_t*> new_handle(rd_kafka_type_t type, ConfPtr conf) {
  std::array<char, 512> errstr{};
  rd_kafka_t* rk = rd_kafka_new(type, conf.get(), errstr.data(), errstr.size());
  if (rk == nullptr) return make_error(Errc::invalid_argument, std::string("kafka client: ") + errstr.data());
  (void)conf.release();  // owned by rk now
  return rk;
}

}  // namespace trueup::bus::kafka
