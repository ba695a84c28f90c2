#include "trueup/log/log.hpp"

#include "trueup/core/time.hpp"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <ctime>
#include <nlohmann/json.hpp>

namespace trueup::log {
namespace {

// Marks a payload written by log::write: the rest is a JSON object holding
// "msg" and the fields. Other spdlog users (librdkafka's callback) log plain text.
constexpr char kStructured = '\x1e';

spdlog::level::level_enum to_spdlog(Level l) {
  switch (l) {
    case Level::trace:
      return spdlog::level::trace;
    case Level::debug:
      return spdlog::level::debug;
    case Level::info:
      return spdlog::level::info;
    case Level::warn:
      return spdlog::level::warn;
    case Level::error:
      return spdlog::level::err;
    case Level::off:
      return spdlog::level::off;
  }
  return spdlog::level::info;
}

std::string timestamp(spdlog::log_clock::time_point tp) { return format_utc(tp, 6); }

std::string_view level_name(spdlog::level::level_enum l) {
  switch (l) {
    case spdlog::level::trace:
      return "trace";
    case spdlog::level::debug:
      return "debug";
    case spdlog::level::info:
      return "info";
    case spdlog::level::warn:
      return "warn";
    case spdlog::level::err:
      return "error";
    case spdlog::level::critical:
      return "critical";
    default:
      return "off";
  }
}

class LineFormatter final : public spdlog::formatter {
 public:
  LineFormatter(Format format, std::shared_ptr<const Redactor> redactor)
      : format_(format), redactor_(std::move(redactor)) {}

  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    std::string payload(msg.payload.data(), msg.payload.size());
    if (redactor_) redactor_->apply(payload);
    nlohmann::ordered_json obj;
    bool structured = !payload.empty() && payload[0] == kStructured;
    if (structured) {
      obj = nlohmann::ordered_json::parse(payload.begin() + 1, payload.end(), nullptr, false);
      if (obj.is_discarded() || !obj.is_object()) structured = false;
    }
    std::string line;
    if (format_ == Format::json) {
      nlohmann::ordered_json out;
      out["ts"] = timestamp(msg.time);
      out["level"] = level_name(msg.level);
      out["logger"] = std::string(msg.logger_name.data(), msg.logger_name.size());
      if (structured) {
        for (auto& [k, v] : obj.items()) out[k] = v;
      } else {
        out["msg"] = payload;
      }
      line = out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    } else {
      line = timestamp(msg.time) + " " + std::string(level_name(msg.level)) + " ";
      if (structured) {
        line += obj.value("msg", "");
        for (auto& [k, v] : obj.items()) {
          if (k == "msg") continue;
          line += " " + k + "=" + (v.is_string() ? v.get<std::string>() : v.dump());
        }
      } else {
        line += payload;
      }
    }
    // Redact again: escaping may have changed nothing, but a secret split by
    // the payload/field boundary is caught in the final text.
    if (redactor_) redactor_->apply(line);
    line += '\n';
    dest.append(line.data(), line.data() + line.size());
  }

  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<LineFormatter>(format_, redactor_);
  }

 private:
  Format format_;
  std::shared_ptr<const Redactor> redactor_;
};

}  // namespace

bool parse_level(std::string_view text, Level& out) {
  static constexpr std::pair<std::string_view, Level> kLevels[] = {{"trace", Level::trace}, {"debug", Level::debug},
                                                                   {"info", Level::info},   {"warn", Level::warn},
                                                                   {"error", Level::error}, {"off", Level::off}};
  for (auto [name, level] : kLevels) {
    if (name == text) {
      out = level;
      return true;
    }
  }
  return false;
}

void Redactor::add(std::string secret) {
  if (secret.size() < 4) return;
  // A URL's password may be quoted alone (a driver's error message): mask it too.
  if (auto scheme = secret.find("://"); scheme != std::string::npos) {
    auto at = secret.find('@', scheme + 3);
    auto colon = secret.find(':', scheme + 3);
    if (at != std::string::npos && colon != std::string::npos && colon < at)
      add(secret.substr(colon + 1, at - colon - 1));
  }
  std::lock_guard lock(mutex_);
  for (const auto& s : secrets_)
    if (s == secret) return;
  secrets_.push_back(std::move(secret));
}

void Redactor::apply(std::string& text) const {
  std::lock_guard lock(mutex_);
  for (const auto& s : secrets_) {
    std::size_t pos = 0;
    while ((pos = text.find(s, pos)) != std::string::npos) {
      text.replace(pos, s.size(), "[REDACTED]");
      pos += 10;
    }
  }
}

void setup(const Settings& settings, std::shared_ptr<const Redactor> redactor) {
  auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  sink->set_formatter(std::make_unique<LineFormatter>(settings.format, std::move(redactor)));
  auto logger = std::make_shared<spdlog::logger>("trueup", sink);
  logger->set_level(to_spdlog(settings.level));
  logger->flush_on(spdlog::level::warn);
  spdlog::set_default_logger(logger);
}

bool enabled(Level level) { return spdlog::default_logger_raw()->should_log(to_spdlog(level)); }

void write(Level level, std::string_view message, Fields fields) {
  auto* logger = spdlog::default_logger_raw();
  auto l = to_spdlog(level);
  if (!logger->should_log(l)) return;
  nlohmann::ordered_json obj;
  obj["msg"] = message;
  for (const auto& [k, v] : fields) obj[std::string(k)] = v;
  std::string payload(1, kStructured);
  payload += obj.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  logger->log(l, spdlog::string_view_t(payload.data(), payload.size()));
}

void flush() { spdlog::default_logger_raw()->flush(); }

}  // namespace trueup::log
