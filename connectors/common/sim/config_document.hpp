#pragma once
// Reading a simulator's config file (YAML or JSON; JSON is YAML) into a JSON
// document. Seeds, whose amounts and ids must keep every digit, are read with
// `read_text_file` and parse_exact (exact_json.hpp) instead.
//
// YAML scalars become: null (~, null, empty), true/false, integers (int64 /
// uint64, exact), other numbers as doubles (shares, rates), everything else
// (and every quoted scalar) strings. Errors are Errc::invalid_argument naming the file
// (and line and column for YAML syntax errors); a missing file is
// Errc::not_found.
//
// Thread-safety: pure functions.

#include <functional>
#include <string>

#include <nlohmann/json.hpp>

#include "trueup/core/error.hpp"

namespace trueup::connectors::sim {

Result<std::string> read_text_file(const std::string& path);
// YAML (or JSON) text to JSON; `name` labels errors.
Result<nlohmann::json> parse_config_text(const std::string& text, const std::string& name);
Result<nlohmann::json> load_config_file(const std::string& path);

// Calls load(element, "/<name>/<index>") for each element of the array member
// `name` of a seed document, in order; an absent member is no element. A
// member that is not an array, or the first error `load` returns, is the
// error.
Status for_each_seed_entry(const nlohmann::json& seed, const std::string& name,
                           const std::function<Status(const nlohmann::json&, const std::string&)>& load);

}  // namespace trueup::connectors::sim
