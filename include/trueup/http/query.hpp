#pragma once
// Query strings and percent-encoding.

#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace trueup::http {

// Decodes %XX escapes (and '+' as space when `plus_as_space`); nullopt on a
// malformed escape.
std::optional<std::string> percent_decode(std::string_view text, bool plus_as_space = false);

// "a=1&b=x%20y" -> {a: 1, b: "x y"}; a repeated name keeps the last value;
// nullopt on a malformed escape.
std::optional<std::map<std::string, std::string>> parse_query(std::string_view query);

}  // namespace trueup::http
