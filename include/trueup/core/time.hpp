#pragma once
// UTC timestamps as RFC 3339 text.

#include <chrono>
#include <string>

namespace trueup {

// "2026-11-26T15:58:23.123Z" with `fraction_digits` (0, 3, 6 or 9) digits of
// the second.
std::string format_utc(std::chrono::system_clock::time_point t, int fraction_digits = 3);

}  // namespace trueup
