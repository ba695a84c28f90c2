#pragma once
// Reading a simulator's files: its config (YAML or JSON; JSON is YAML) and
// its seed (JSON), into a JSON document with exact numbers (exact_json.hpp),
// so an id beyond 2^53 or an amount keeps every digit.
//
// YAML scalars become: null (~, null, empty), true/false, integers (int64 /
// uint64), other numbers as exact decimal text, everything else (and every
// quoted scalar) strings. Errors are Errc::invalid_argument naming the file
// (and line and column for YAML syntax errors); a missing file is
// Errc::not_found.
//
// Thread-safety: pure functions.

#include <string>

#include <nlohmann/json.hpp>

#include "trueup/core/error.hpp"

namespace trueup::connectors::sim {

Result<std::string> read_text_file(const std::string& path);
// YAML (or JSON) text to JSON; `name` labels errors.
Result<nlohmann::json> parse_config_text(const std::string& text, const std::string& name);
Result<nlohmann::json> load_config_file(const std::string& path);

}  // namespace trueup::connectors::sim
