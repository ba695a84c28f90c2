#include "trueup/connector/budget.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <stdexcept>
#include <type_traits>

namespace trueup::connector {
namespace {

using std::chrono::milliseconds;
using std::chrono::nanoseconds;

constexpr std::string_view kShopifyCallLimitHeader = "x-shopify-shop-api-call-limit";
constexpr std::string_view kAmazonRateLimitHeader = "x-amzn-ratelimit-limit";
constexpr std::string_view kRetryAfterHeader = "retry-after";
// A Retry-After beyond a day is taken as a day: a budget paused for longer
// is a stuck connector, which an operator should see instead.
constexpr milliseconds kMaxRetryAfter = std::chrono::hours(24);
// Rounding slack when comparing units, so that waiting exactly the time
// try_acquire named is enough.
constexpr double kEpsilon = 1e-9;

template <class Number>
std::optional<Number> parse_number(std::string_view text) {
  text = trim_header_value(text);
  Number value{};
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  if constexpr (std::is_floating_point_v<Number>) {
    if (!std::isfinite(value)) return std::nullopt;  // from_chars reads "inf" and "nan"
  }
  return value;
}

std::vector<std::string_view> split_words(std::string_view s) {
  std::vector<std::string_view> words;
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && s[i] == ' ') ++i;
    const std::size_t start = i;
    while (i < s.size() && s[i] != ' ') ++i;
    if (i > start) words.push_back(s.substr(start, i - start));
  }
  return words;
}

std::optional<unsigned> month_of(std::string_view name) {
  static constexpr std::array<std::string_view, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                               "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  for (unsigned i = 0; i < kMonths.size(); ++i)
    if (kMonths[i] == name) return i + 1;
  return std::nullopt;
}

std::optional<std::chrono::seconds> time_of_day(std::string_view hms) {
  if (hms.size() != 8 || hms[2] != ':' || hms[5] != ':') return std::nullopt;
  auto h = parse_number<int>(hms.substr(0, 2));
  auto m = parse_number<int>(hms.substr(3, 2));
  auto s = parse_number<int>(hms.substr(6, 2));
  if (!h || !m || !s || *h > 23 || *m > 59 || *s > 60) return std::nullopt;
  return std::chrono::seconds(*h * 3600 + *m * 60 + std::min(*s, 59));
}

std::optional<WallTime> make_time(int year, std::string_view month_name, std::string_view day_text,
                                  std::string_view hms) {
  auto month = month_of(month_name);
  auto day = parse_number<unsigned>(day_text);
  auto tod = time_of_day(hms);
  if (!month || !day || !tod) return std::nullopt;
  const std::chrono::year_month_day ymd{std::chrono::year(year), std::chrono::month(*month), std::chrono::day(*day)};
  if (!ymd.ok()) return std::nullopt;
  return WallTime(std::chrono::sys_days(ymd)) + *tod;
}

// RFC 9110 section 5.6.7: IMF-fixdate, and the obsolete RFC 850 and asctime
// forms that recipients must still accept.
std::optional<WallTime> parse_http_date(std::string_view text, WallTime now) {
  const auto comma = text.find(',');
  if (comma == std::string_view::npos) {
    // asctime: "Sun Nov  6 08:49:37 1994"
    auto w = split_words(text);
    if (w.size() != 5) return std::nullopt;
    auto year = parse_number<int>(w[4]);
    if (!year || *year < 0 || w[4].size() != 4) return std::nullopt;
    return make_time(*year, w[1], w[2], w[3]);
  }
  std::string rest(text.substr(comma + 1));
  const bool rfc850 = rest.find('-') != std::string::npos;
  if (rfc850) std::replace(rest.begin(), rest.end(), '-', ' ');
  auto w = split_words(rest);
  // IMF-fixdate "06 Nov 1994 08:49:37 GMT"; RFC 850 "06 Nov 94 08:49:37 GMT"
  if (w.size() != 5 || w[4] != "GMT" || w[0].size() != 2) return std::nullopt;
  auto year = parse_number<int>(w[2]);
  if (!year || *year < 0 || w[2].size() != (rfc850 ? 2u : 4u)) return std::nullopt;
  if (rfc850) {
    // A two-digit year more than 50 years ahead means the century before.
    const int this_year =
        static_cast<int>(std::chrono::year_month_day(std::chrono::floor<std::chrono::days>(now)).year());
    *year += this_year / 100 * 100;
    if (*year > this_year + 50) *year -= 100;
  }
  return make_time(*year, w[1], w[0], w[3]);
}

}  // namespace

BudgetSettings BudgetSettings::token_bucket(double rate_per_second, double burst) {
  return {.kind = Kind::token_bucket, .capacity = burst, .rate_per_second = rate_per_second};
}

BudgetSettings BudgetSettings::leaky_bucket(double bucket_size, double leak_per_second) {
  return {.kind = Kind::leaky_bucket, .capacity = bucket_size, .rate_per_second = leak_per_second};
}

std::string_view budget_kind_name(BudgetSettings::Kind kind) {
  return kind == BudgetSettings::Kind::leaky_bucket ? "leaky_bucket" : "token_bucket";
}

BudgetSettings shopify_rest_budget() { return BudgetSettings::leaky_bucket(40, 2); }
BudgetSettings business_central_budget() { return BudgetSettings::token_bucket(19, 100); }
BudgetSettings square_budget() { return BudgetSettings::token_bucket(10, 20); }

std::optional<milliseconds> parse_retry_after(std::string_view value, WallTime now) {
  value = trim_header_value(value);
  if (value.empty()) return std::nullopt;
  if (std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    // More digits than fit are far beyond the cap anyway.
    auto seconds = parse_number<std::uint64_t>(value);
    if (!seconds || *seconds > static_cast<std::uint64_t>(kMaxRetryAfter.count() / 1000)) return kMaxRetryAfter;
    return milliseconds(*seconds * 1000);
  }
  // Shopify REST writes seconds with a fraction ("2.0"); RFC 9110 has only
  // whole seconds, but a client that refuses these ignores the server's pause.
  const auto dot = value.find('.');
  if (dot != std::string_view::npos && dot > 0 && dot + 1 < value.size() &&
      std::all_of(value.begin(), value.end(), [](char c) { return (c >= '0' && c <= '9') || c == '.'; }) &&
      value.find('.', dot + 1) == std::string_view::npos) {
    auto seconds = parse_number<double>(value);
    if (!seconds) return std::nullopt;
    if (*seconds * 1000 >= static_cast<double>(kMaxRetryAfter.count())) return kMaxRetryAfter;
    return milliseconds(static_cast<milliseconds::rep>(std::ceil(*seconds * 1000)));
  }
  auto date = parse_http_date(value, now);
  if (!date) return std::nullopt;
  if (*date <= now) return milliseconds(0);
  return std::min(std::chrono::ceil<milliseconds>(*date - now), kMaxRetryAfter);
}

std::optional<CallLimit> parse_shopify_call_limit(std::string_view value) {
  const auto slash = value.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  auto used = parse_number<double>(value.substr(0, slash));
  auto size = parse_number<double>(value.substr(slash + 1));
  if (!used || !size || *used < 0 || *size <= 0) return std::nullopt;
  return CallLimit{*used, *size};
}

Budget::Budget(BudgetSettings settings) : settings_(settings) {
  if (!(settings_.capacity > 0) || !(settings_.rate_per_second > 0))
    throw std::invalid_argument("rate-limit budget: capacity and rate must be positive");
  if (settings_.throttle_pause.count() < 0 || settings_.max_throttle_pause < settings_.throttle_pause)
    throw std::invalid_argument("rate-limit budget: throttle_pause must be >= 0 and <= max_throttle_pause");
}

double Budget::level_at(SteadyTime now) const {
  // A caller may pass a time a little older than another caller's: never run
  // the bucket backwards.
  if (!updated_ || now <= *updated_) return level_;
  const double elapsed = std::chrono::duration<double>(now - *updated_).count();
  return std::max(0.0, level_ - elapsed * settings_.rate_per_second);
}

void Budget::refill(SteadyTime now) {
  level_ = level_at(now);
  if (!updated_ || now > *updated_) updated_ = now;
}

Admission Budget::try_acquire(SteadyTime now, double cost) {
  std::lock_guard lock(mu_);
  refill(now);
  if (now < paused_until_) return Admission::wait_for(paused_until_ - now);
  cost = std::clamp(cost, 0.0, settings_.capacity);
  const double available = settings_.capacity - level_;
  if (available + kEpsilon >= cost) {
    level_ = std::min(settings_.capacity, level_ + cost);
    return Admission::grant();
  }
  const double seconds = (cost - available) / settings_.rate_per_second;
  return Admission::wait_for(nanoseconds(static_cast<nanoseconds::rep>(std::ceil(seconds * 1e9))));
}

void Budget::observe(int status, const HeaderLookup& headers, SteadyTime now, WallTime wall_now) {
  const auto header = [&](std::string_view name) { return headers ? headers(name) : std::nullopt; };
  std::lock_guard lock(mu_);
  refill(now);
  if (auto v = header(kShopifyCallLimitHeader)) {
    if (auto limit = parse_shopify_call_limit(*v)) {
      settings_.capacity = limit->size;
      // The target's count misses our calls still in flight, ours misses
      // other clients': keep the larger.
      level_ = std::clamp(std::max(level_, limit->used), 0.0, settings_.capacity);
    }
  }
  if (auto v = header(kAmazonRateLimitHeader)) {
    if (auto rate = parse_number<double>(*v); rate && *rate > 0) settings_.rate_per_second = *rate;
  }
  if (status != 429 && status != 503) {
    throttled_in_a_row_ = 0;
    return;
  }
  if (status == 429) level_ = settings_.capacity;
  ++throttled_in_a_row_;
  std::optional<milliseconds> pause;
  if (auto v = header(kRetryAfterHeader)) pause = parse_retry_after(*v, wall_now);
  if (!pause) {
    const double factor = std::ldexp(1.0, std::min(throttled_in_a_row_ - 1, 30));
    const double ms = std::min(static_cast<double>(settings_.max_throttle_pause.count()),
                               static_cast<double>(settings_.throttle_pause.count()) * factor);
    pause = milliseconds(static_cast<milliseconds::rep>(ms));
  }
  paused_until_ = std::max(paused_until_, now + *pause);
}

void Budget::learn(double remaining, std::optional<double> capacity, SteadyTime now) {
  std::lock_guard lock(mu_);
  refill(now);
  if (capacity && *capacity > 0) settings_.capacity = *capacity;
  level_ = std::clamp(std::max(level_, settings_.capacity - remaining), 0.0, settings_.capacity);
}

void Budget::pause_until(SteadyTime until) {
  std::lock_guard lock(mu_);
  paused_until_ = std::max(paused_until_, until);
}

BudgetSnapshot Budget::snapshot(SteadyTime now) const {
  std::lock_guard lock(mu_);
  BudgetSnapshot s;
  s.kind = settings_.kind;
  s.capacity = settings_.capacity;
  s.remaining = settings_.capacity - level_at(now);
  s.rate_per_second = settings_.rate_per_second;
  if (now < paused_until_) s.paused_for = paused_until_ - now;
  return s;
}

Budget& BudgetRegistry::obtain(std::string_view target, const BudgetSettings& settings) {
  std::lock_guard lock(mu_);
  auto it = budgets_.find(target);
  if (it == budgets_.end()) it = budgets_.emplace(std::string(target), std::make_unique<Budget>(settings)).first;
  return *it->second;
}

Budget* BudgetRegistry::find(std::string_view target) {
  std::lock_guard lock(mu_);
  auto it = budgets_.find(target);
  return it == budgets_.end() ? nullptr : it->second.get();
}

std::vector<std::string> BudgetRegistry::targets() const {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  out.reserve(budgets_.size());
  for (const auto& [name, budget] : budgets_) out.push_back(name);
  return out;
}

}  // namespace trueup::connector
