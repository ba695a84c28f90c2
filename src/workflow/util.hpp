#pragma once
// Internal helpers shared by the engine and the exception queue.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "trueup/core/error.hpp"
#include "trueup/store/store.hpp"
#include "trueup/workflow/clock.hpp"

namespace trueup::workflow::detail {

// A time-ordered unique id: 12 hex digits of epoch milliseconds, then 20
// random hex digits, in UUID layout (8-4-4-4-12), like UUIDv7.
std::string new_id(TimePoint now);

std::int64_t to_int(const std::optional<std::string>& text, std::int64_t fallback = 0);
std::optional<std::int64_t> to_opt_int(const std::optional<std::string>& text);
std::string text_or(const std::optional<std::string>& text, std::string fallback = {});
// Parses stored JSON; a null value when it is not JSON (never throws).
nlohmann::json parse_json(const std::optional<std::string>& text);
// RFC 3339 text, or null.
nlohmann::json time_json(std::optional<TimePoint> t);

inline bool is_postgres(const store::Store& s) { return s.engine() == "postgres"; }

}  // namespace trueup::workflow::detail
