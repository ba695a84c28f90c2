#include "util.hpp"

#include <charconv>
#include <random>

#include "trueup/core/time.hpp"

namespace trueup::workflow::detail {

std::string new_id(TimePoint now) {
  thread_local std::mt19937_64 random{std::random_device{}()};
  static constexpr char kDigits[] = "0123456789abcdef";
  const auto ms = static_cast<std::uint64_t>(epoch_ms(now));
  const std::uint64_t r1 = random();
  const std::uint64_t r2 = random();
  std::string hex;
  hex.reserve(32);
  for (int i = 11; i >= 0; --i) hex.push_back(kDigits[(ms >> (i * 4)) & 0xf]);
  for (int i = 0; i < 16; ++i) hex.push_back(kDigits[(r1 >> (i * 4)) & 0xf]);
  for (int i = 0; i < 4; ++i) hex.push_back(kDigits[(r2 >> (i * 4)) & 0xf]);
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" + hex.substr(16, 4) + "-" +
         hex.substr(20, 12);
}

std::int64_t to_int(const std::optional<std::string>& text, std::int64_t fallback) {
  return to_opt_int(text).value_or(fallback);
}

std::optional<std::int64_t> to_opt_int(const std::optional<std::string>& text) {
  if (!text) return std::nullopt;
  std::int64_t v = 0;
  auto [p, ec] = std::from_chars(text->data(), text->data() + text->size(), v);
  if (ec != std::errc{}) return std::nullopt;
  return v;
}

std::string text_or(const std::optional<std::string>& text, std::string fallback) {
  return text ? *text : std::move(fallback);
}

nlohmann::json parse_json(const std::optional<std::string>& text) {
  if (!text) return nullptr;
  auto j = nlohmann::json::parse(*text, nullptr, false);
  if (j.is_discarded()) return nullptr;
  return j;
}

nlohmann::json time_json(std::optional<TimePoint> t) {
  if (!t) return nullptr;
  return format_utc(*t, 3);
}

}  // namespace trueup::workflow::detail
