#pragma once
// Structured logging on spdlog: JSON lines (default) or text, to stderr.
//
//   log::info("http request", {{"request_id", id}, {"status", "200"}});
//
// Every line passes through a Redactor that replaces the configured secret
// values (those the config resolved from ${ENV} or file:) with "[REDACTED]",
// so a secret never reaches a log line even when a library error message
// quotes it. Secrets shorter than 4 characters are not redacted (they would
// mask ordinary text); the config refuses nothing for that, but docs say so.
//
// Thread-safety: all functions are safe from any thread after setup().

#include <initializer_list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace trueup::log {

enum class Format { json, text };
enum class Level { trace, debug, info, warn, error, off };

struct Settings {
  Level level = Level::info;
  Format format = Format::json;
};

// Parses "trace|debug|info|warn|error|off"; false when unknown.
bool parse_level(std::string_view text, Level& out);

class Redactor {
 public:
  void add(std::string secret);
  // Replaces every known secret in `text`.
  void apply(std::string& text) const;

 private:
  mutable std::mutex mutex_;
  std::vector<std::string> secrets_;
};

// Installs the default logger writing to stderr. May be called again (e.g.
// once with defaults before the config is read, then with its settings).
void setup(const Settings& settings, std::shared_ptr<const Redactor> redactor);

using Field = std::pair<std::string_view, std::string_view>;
using Fields = std::initializer_list<Field>;

void write(Level level, std::string_view message, Fields fields = {});
inline void trace(std::string_view m, Fields f = {}) { write(Level::trace, m, f); }
inline void debug(std::string_view m, Fields f = {}) { write(Level::debug, m, f); }
inline void info(std::string_view m, Fields f = {}) { write(Level::info, m, f); }
inline void warn(std::string_view m, Fields f = {}) { write(Level::warn, m, f); }
inline void error(std::string_view m, Fields f = {}) { write(Level::error, m, f); }

bool enabled(Level level);
void flush();

}  // namespace trueup::log
