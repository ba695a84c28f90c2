#pragma once
// An instant in UTC plus the UTC offset the source wrote it with, so that
// "2026-03-01T10:15:00+01:00" round-trips and still compares as 09:15Z.
//
// Text form: RFC 3339 `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`, fraction up
// to 9 digits, years 0001..9999, offsets up to ±23:59, no leap second (:60).
// 'T' and 'Z' are accepted in lower case on input. to_string() writes the
// local time with its offset ("Z" for +00:00) and the fewest of 0/3/6/9
// fraction digits that keep the value exact.
//
// Thread-safety: plain value.

#include <chrono>
#include <compare>
#include <string>
#include <string_view>

#include "trueup/core/error.hpp"

namespace trueup::model {

class Timestamp {
 public:
  using TimePoint = std::chrono::sys_time<std::chrono::nanoseconds>;

  Timestamp() = default;  // 1970-01-01T00:00:00Z
  static Result<Timestamp> parse(std::string_view rfc3339);
  // `offset_minutes` must be within ±1439.
  static Timestamp from_utc(TimePoint utc, int offset_minutes = 0) noexcept { return Timestamp(utc, offset_minutes); }
  // A system clock reading, in UTC.
  static Timestamp from_system(std::chrono::system_clock::time_point t) noexcept {
    return from_utc(std::chrono::time_point_cast<std::chrono::nanoseconds>(t));
  }

  TimePoint utc() const noexcept { return utc_; }
  int offset_minutes() const noexcept { return offset_minutes_; }

  std::string to_string() const;      // with the original offset
  std::string to_utc_string() const;  // same instant, "Z"

  // Same instant and same offset.
  friend bool operator==(const Timestamp&, const Timestamp&) noexcept = default;
  // Orders by instant only.
  std::strong_ordering compare_instant(const Timestamp& other) const noexcept { return utc_ <=> other.utc_; }

 private:
  Timestamp(TimePoint utc, int offset_minutes) noexcept : utc_(utc), offset_minutes_(offset_minutes) {}
  TimePoint utc_{};
  int offset_minutes_ = 0;
};

}  // namespace trueup::model
