#pragma once
// Declarative configuration schema and validation of YAML against it.
//
// Each section declares its keys: type, description, required or default,
// bounds and choices. `load` validates a whole file and reports every problem
// (file, line, column, key path, what was expected), not only the first;
// unknown keys are errors. Strings may use ${ENV_VAR} (or ${ENV_VAR:-default});
// keys of type `secret` must come from ${ENV_VAR} or file:/path and their
// resolved values are collected so logging can redact them.
//
// Thread-safety: a Schema and a Config are immutable after construction.

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace trueup::config {

enum class Type {
  string,        // text; ${ENV} expanded
  secret,        // text from ${ENV} or file:/path only; redacted in logs
  integer,       // 64-bit; min/max apply
  boolean,       // true/false
  duration,      // "250ms", "10s", "5m", "1h"; min/max apply in milliseconds
  choice,        // one of `choices`
  string_map,    // mapping of text to text (values may be ${ENV} or file:)
  string_list,   // sequence of text
  section,       // mapping with declared children
  section_list,  // sequence of sections with declared children
};

std::string_view type_name(Type t);

struct Key {
  std::string name;
  Type type = Type::string;
  std::string description;
  bool required = false;
  std::optional<std::string> default_value;  // as it would be written in YAML
  std::optional<std::int64_t> min;           // integer value or duration in ms
  std::optional<std::int64_t> max;
  std::vector<std::string> choices;
  std::vector<Key> children;  // section, section_list
  // The default as a typed value (null when none); filled in by Schema.
  nlohmann::json parsed_default;
};

// Builders that read like the schema they declare.
Key section(std::string name, std::string description, std::vector<Key> children);
Key section_list(std::string name, std::string description, std::vector<Key> children);
Key required(std::string name, Type type, std::string description);
Key optional(std::string name, Type type, std::string description);  // absent = not set
Key with_default(std::string name, Type type, std::string default_value, std::string description);
Key bounded(Key key, std::optional<std::int64_t> min, std::optional<std::int64_t> max);
Key choice(std::string name, std::vector<std::string> choices, std::string default_value, std::string description);

struct Diagnostic {
  std::string file;
  int line = 0;      // 1-based; 0 when unknown
  int column = 0;    // 1-based
  std::string path;  // e.g. store.postgres.pool_size
  std::string message;
  // "trueup.yaml:12:5: store.postgres.pool_size: must be at most 64 (got 100)"
  std::string format() const;
};

// A validated section: typed access by key name. Values are resolved
// (${ENV}, file:, defaults applied). Asking for a key that the schema does not
// declare is a programming error (std::logic_error).
class Section {
 public:
  Section(const Key* schema, const nlohmann::json* values, std::string path);

  bool has(std::string_view name) const;      // present in the file or defaulted
  bool present(std::string_view name) const;  // written in the file
  std::string string(std::string_view name) const;
  std::int64_t integer(std::string_view name) const;
  bool boolean(std::string_view name) const;
  std::chrono::milliseconds duration(std::string_view name) const;
  std::map<std::string, std::string> string_map(std::string_view name) const;
  std::vector<std::string> string_list(std::string_view name) const;
  Section section(std::string_view name) const;  // an absent section reads as empty (defaults)
  std::vector<Section> sections(std::string_view name) const;
  const std::string& path() const { return path_; }

 private:
  const nlohmann::json& value(std::string_view name, Type expected) const;
  const Key& key(std::string_view name) const;
  const Key* schema_;
  const nlohmann::json* values_;
  std::string path_;
};

struct LoadResult;

class Schema {
 public:
  explicit Schema(std::vector<Key> top_level);
  const Key& root() const { return root_; }
  // Every key path, e.g. "http.port", "bus.topics[].name".
  std::vector<std::string> key_paths() const;
  // The configuration reference as Markdown tables, one per section.
  std::string reference_markdown() const;

 private:
  Key root_;
};

class Config {
 public:
  Config(std::shared_ptr<const Schema> schema, nlohmann::json values, std::vector<std::string> secrets,
         std::string source);
  Section root() const { return Section(&schema_->root(), &values_, ""); }
  // Resolved secret values, for the log redactor.
  const std::vector<std::string>& secrets() const { return secrets_; }
  // Where it came from: a file path or "<embedded>".
  const std::string& source() const { return source_; }
  // The resolved tree with secrets masked, for `config check --print`.
  nlohmann::json redacted() const;

 private:
  std::shared_ptr<const Schema> schema_;
  nlohmann::json values_;
  std::vector<std::string> secrets_;
  std::string source_;
};

struct LoadResult {
  std::optional<Config> config;         // set when there are no diagnostics
  std::vector<Diagnostic> diagnostics;  // every problem found
};

// Validates YAML text; `file` names it in diagnostics.
LoadResult load_text(std::shared_ptr<const Schema> schema, const std::string& yaml, const std::string& file);
// Reads and validates a file.
LoadResult load_file(std::shared_ptr<const Schema> schema, const std::string& path);

// Parses "250ms" / "10s" / "5m" / "1h" / "2d"; nullopt when malformed.
std::optional<std::chrono::milliseconds> parse_duration(std::string_view text);

}  // namespace trueup::config
