#pragma once
// Strict JSON codecs for the canonical model.
//
// `from_json<T>(json)` accepts exactly the canonical form (docs/schemas/):
// unknown members, missing required members, wrong types, money given as a
// JSON number (money is always a decimal string, "12.50"), quantities as
// floats (quantities are decimal strings or integers), bad identifiers,
// currencies and timestamps are all Errc::invalid_argument. The message starts
// with the JSON Pointer of the offending value:
//   "/lines/2/unit_price: expected a decimal string"
// `pointer` prefixes every reported path (for a value nested in a larger
// document). Parsing stops at the first problem.
//
// `to_json(const T&)` (declared beside each entity) writes the canonical form;
// from_json(to_json(x)) == x for every valid x.
//
// Thread-safety: pure functions.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "trueup/core/error.hpp"

namespace trueup::model {

// Specialised for each entity in its header.
template <class T>
Result<T> from_json(const nlohmann::json& j, std::string_view pointer = "");

// A JSON array of T or a single T object (a batch of one). An empty array, or
// more than `max_items` elements, is an error. Element paths are "/3/sku";
// a single object keeps its own paths ("/sku").
template <class T>
Result<std::vector<T>> batch_from_json(const nlohmann::json& j, std::size_t max_items = 1000) {
  std::vector<T> out;
  if (j.is_object()) {
    auto one = from_json<T>(j);
    if (!one) return std::move(one).error();
    out.push_back(std::move(one).value());
    return out;
  }
  if (!j.is_array()) return make_error(Errc::invalid_argument, "(root): expected an object or an array of objects");
  if (j.empty()) return make_error(Errc::invalid_argument, "(root): expected at least one element");
  if (j.size() > max_items)
    return make_error(Errc::invalid_argument, "(root): at most " + std::to_string(max_items) +
                                                  " elements per batch, got " + std::to_string(j.size()));
  out.reserve(j.size());
  for (std::size_t i = 0; i < j.size(); ++i) {
    auto one = from_json<T>(j[i], "/" + std::to_string(i));
    if (!one) return std::move(one).error();
    out.push_back(std::move(one).value());
  }
  return out;
}

}  // namespace trueup::model
