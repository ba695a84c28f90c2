#include "trueup/model/timestamp.hpp"

#include <cstdio>

namespace trueup::model {
namespace {

bool digits(std::string_view s, std::size_t pos, std::size_t n, int& out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (std::size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  out = v;
  return true;
}

Error bad(std::string_view text, const char* why) {
  std::string shown(text.substr(0, 40));
  return make_error(Errc::invalid_argument,
                    "\"" + shown + "\" is not an RFC 3339 timestamp (YYYY-MM-DDTHH:MM:SS[.fff](Z|+HH:MM)): " + why);
}

}  // namespace

Result<Timestamp> Timestamp::parse(std::string_view s) {
  using namespace std::chrono;
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0;
  if (s.size() < 20 || !digits(s, 0, 4, y) || s[4] != '-' || !digits(s, 5, 2, mo) || s[7] != '-' ||
      !digits(s, 8, 2, d) || (s[10] != 'T' && s[10] != 't') || !digits(s, 11, 2, h) || s[13] != ':' ||
      !digits(s, 14, 2, mi) || s[16] != ':' || !digits(s, 17, 2, sec))
    return bad(s, "malformed");
  const year_month_day ymd{year{y}, month{static_cast<unsigned>(mo)}, day{static_cast<unsigned>(d)}};
  if (y < 1 || !ymd.ok()) return bad(s, "no such date");
  if (h > 23 || mi > 59 || sec > 59) return bad(s, "no such time of day");
  std::size_t i = 19;
  std::int64_t nanos = 0;
  if (i < s.size() && s[i] == '.') {
    ++i;
    std::size_t n = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      if (++n > 9) return bad(s, "more than 9 fraction digits");
      nanos = nanos * 10 + (s[i] - '0');
      ++i;
    }
    if (n == 0) return bad(s, "empty fraction");
    for (std::size_t k = n; k < 9; ++k) nanos *= 10;
  }
  int offset = 0;
  if (i < s.size() && (s[i] == 'Z' || s[i] == 'z')) {
    ++i;
  } else if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
    int oh = 0, om = 0;
    if (!digits(s, i + 1, 2, oh) || i + 3 >= s.size() || s[i + 3] != ':' || !digits(s, i + 4, 2, om))
      return bad(s, "malformed offset");
    if (oh > 23 || om > 59) return bad(s, "offset out of range");
    offset = (oh * 60 + om) * (s[i] == '-' ? -1 : 1);
    i += 6;
  } else {
    return bad(s, "missing offset (Z or +HH:MM)");
  }
  if (i != s.size()) return bad(s, "trailing characters");
  const TimePoint local = sys_days(ymd) + hours(h) + minutes(mi) + seconds(sec) + nanoseconds(nanos);
  return Timestamp(local - minutes(offset), offset);
}

namespace {

std::string format(Timestamp::TimePoint t, int offset_minutes) {
  using namespace std::chrono;
  const auto local = t + minutes(offset_minutes);
  const auto day_point = floor<days>(local);
  const year_month_day ymd{day_point};
  const auto since_midnight = local - day_point;
  const auto h = duration_cast<hours>(since_midnight);
  const auto m = duration_cast<minutes>(since_midnight - h);
  const auto s = duration_cast<seconds>(since_midnight - h - m);
  const auto ns = (since_midnight - h - m - s).count();
  char buf[64];
  int n = std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d", static_cast<int>(ymd.year()),
                        static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                        static_cast<int>(h.count()), static_cast<int>(m.count()), static_cast<int>(s.count()));
  std::string out(buf, static_cast<std::size_t>(n));
  if (ns != 0) {
    if (ns % 1000000 == 0) {
      n = std::snprintf(buf, sizeof buf, ".%03lld", static_cast<long long>(ns / 1000000));
    } else if (ns % 1000 == 0) {
      n = std::snprintf(buf, sizeof buf, ".%06lld", static_cast<long long>(ns / 1000));
    } else {
      n = std::snprintf(buf, sizeof buf, ".%09lld", static_cast<long long>(ns));
    }
    out.append(buf, static_cast<std::size_t>(n));
  }
  if (offset_minutes == 0) {
    out += 'Z';
  } else {
    const int a = offset_minutes < 0 ? -offset_minutes : offset_minutes;
    n = std::snprintf(buf, sizeof buf, "%c%02d:%02d", offset_minutes < 0 ? '-' : '+', a / 60, a % 60);
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

}  // namespace

std::string Timestamp::to_string() const { return format(utc_, offset_minutes_); }
std::string Timestamp::to_utc_string() const { return format(utc_, 0); }

}  // namespace trueup::model
