#pragma once
// JSON with exact numbers, for payloads of external systems.
//
// nlohmann::json keeps integers exact (int64 / uint64) but turns every number
// with a fraction or an exponent, and every integer beyond 64 bits, into a
// double: Business Central's `25934.2`, Shopify's tax `rate: 0.06` or an id of
// 25 digits would lose their text. `parse_exact` keeps such numbers as their
// source text instead: a binary value with subtype kDecimalTextSubtype whose
// bytes are the number exactly as written ("25934.2", "1e2"). Parsing JSON
// text can never produce a binary value otherwise, so the two cannot be
// confused. Read numbers through `number_text`; write documents that carry
// decimal text with `dump_exact` (nlohmann's dump would print the bytes).
//
// Thread-safety: pure functions.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "trueup/core/error.hpp"

namespace trueup::connectors {

inline constexpr std::uint8_t kDecimalTextSubtype = 0xDE;

// Errc::invalid_argument with nlohmann's byte position on malformed JSON.
Result<nlohmann::json> parse_exact(std::string_view text);

// A JSON number given as its exact text (see above).
nlohmann::json decimal_text(std::string_view number_text);
bool is_decimal_text(const nlohmann::json& j) noexcept;

// Any JSON number's exact text: "42", "-7", "18446744073709551615", "0.1",
// "1e2"; nullopt for every other type.
std::optional<std::string> number_text(const nlohmann::json& j);

// Compact JSON text; decimal text values are written as the numbers they are.
std::string dump_exact(const nlohmann::json& j);

}  // namespace trueup::connectors
