#include "trueup/core/time.hpp"

#include <cstdio>
#include <ctime>

namespace trueup {

std::string format_utc(std::chrono::system_clock::time_point t, int fraction_digits) {
  const auto secs = std::chrono::floor<std::chrono::seconds>(t);
  const auto nanos = std::chrono::duration_cast<std::chrono::nanoseconds>(t - secs).count();
  const std::time_t tt = std::chrono::system_clock::to_time_t(secs);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[48];
  std::size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  if (fraction_digits > 0) {
    long long frac = nanos;
    for (int d = 9; d > fraction_digits; --d) frac /= 10;
    std::snprintf(buf + n, sizeof buf - n, ".%0*lld", fraction_digits, frac);
    n += static_cast<std::size_t>(fraction_digits) + 1;
  }
  buf[n++] = 'Z';
  return std::string(buf, n);
}

}  // namespace trueup
