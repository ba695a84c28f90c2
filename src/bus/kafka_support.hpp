#pragma once
// What the Kafka engine's parts share: librdkafka error codes as trueup
// errors, client configuration (fixed properties, the user's extra ones,
// logging into spdlog) and handle ownership. Private to src/bus.

#include <librdkafka/rdkafka.h>

#include <memory>
#include <string>
#include <string_view>

#include "trueup/bus/bus.hpp"

namespace trueup::bus::kafka {

// The trueup code for a librdkafka error: transient broker and network trouble
// is unavailable/timeout/overloaded/conflict (retryable), the rest permanent.
Errc errc_for(rd_kafka_resp_err_t err) noexcept;
// "<context>: <librdkafka's text> (<ERROR_NAME>)" with errc_for's code.
Error error_from(rd_kafka_resp_err_t err, std::string_view context);

struct ConfDeleter {
  void operator()(rd_kafka_conf_t* conf) const noexcept { rd_kafka_conf_destroy(conf); }
};
using ConfPtr = std::unique_ptr<rd_kafka_conf_t, ConfDeleter>;

enum class Role { producer, consumer };

// A client configuration: bootstrap servers and client id from `settings`,
// the role's fixed properties (idempotent producer; manual-commit consumer in
// `group`), the user's extra properties (unknown or reserved keys fail with
// Errc::invalid_argument naming the key), and log/error callbacks into spdlog.
Result<ConfPtr> make_conf(const KafkaSettings& settings, Role role, const std::string& group = {});

// rd_kafka_new: takes the configuration on success.
Result<rd_kafka_t*> new_handle(rd_kafka_type_t type, ConfPtr conf);

}  // namespace trueup::bus::kafka
