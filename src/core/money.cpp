#include "trueup/core/money.hpp"

#include <algorithm>
#include <cstdint>
#include <limits>

namespace trueup {
namespace {

enum class DecimalFailure { none, syntax, too_precise, out_of_range };

// Longest text we look at; anything longer is not a sensible amount.
constexpr std::size_t kMaxDecimalText = 256;

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Exact value of `text` (JSON number grammar) times 10^scale, as int64.
DecimalFailure parse_scaled(std::string_view s, int scale, std::int64_t& out) {
  if (s.empty() || s.size() > kMaxDecimalText) return DecimalFailure::syntax;
  std::size_t i = 0;
  const std::size_t n = s.size();
  bool negative = false;
  if (s[i] == '-') {
    negative = true;
    ++i;
  }
  if (i >= n || !is_digit(s[i])) return DecimalFailure::syntax;
  const std::size_t int_begin = i;
  if (s[i] == '0') {
    ++i;
  } else {
    while (i < n && is_digit(s[i])) ++i;
  }
  if (i < n && is_digit(s[i])) return DecimalFailure::syntax;  // leading zero
  std::string digits(s.substr(int_begin, i - int_begin));
  std::size_t frac_len = 0;
  if (i < n && s[i] == '.') {
    ++i;
    const std::size_t frac_begin = i;
    while (i < n && is_digit(s[i])) ++i;
    frac_len = i - frac_begin;
    if (frac_len == 0) return DecimalFailure::syntax;
    digits.append(s.substr(frac_begin, frac_len));
  }
  long exponent = 0;
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    bool exp_negative = false;
    if (i < n && (s[i] == '+' || s[i] == '-')) {
      exp_negative = s[i] == '-';
      ++i;
    }
    if (i >= n || !is_digit(s[i])) return DecimalFailure::syntax;
    while (i < n && is_digit(s[i])) {
      // Saturate: the text is at most kMaxDecimalText long, so any exponent
      // beyond this bound decides the outcome the same way.
      if (exponent < 100000) exponent = exponent * 10 + (s[i] - '0');
      ++i;
    }
    if (exp_negative) exponent = -exponent;
  }
  if (i != n) return DecimalFailure::syntax;

  const auto first = digits.find_first_not_of('0');
  if (first == std::string::npos) {
    out = 0;
    return DecimalFailure::none;
  }
  digits.erase(0, first);
  const long shift = exponent - static_cast<long>(frac_len) + scale;
  if (shift < 0) {
    const auto drop = static_cast<std::size_t>(-shift);
    if (drop >= digits.size()) return DecimalFailure::too_precise;
    if (digits.find_first_not_of('0', digits.size() - drop) != std::string::npos) return DecimalFailure::too_precise;
    digits.resize(digits.size() - drop);
  } else if (shift > 0) {
    if (digits.size() + static_cast<std::size_t>(shift) > 19) return DecimalFailure::out_of_range;
    digits.append(static_cast<std::size_t>(shift), '0');
  }
  if (digits.size() > 19) return DecimalFailure::out_of_range;
  std::uint64_t magnitude = 0;
  for (char c : digits) magnitude = magnitude * 10 + static_cast<std::uint64_t>(c - '0');
  const std::uint64_t limit = negative ? std::uint64_t{1} << 63 : (std::uint64_t{1} << 63) - 1;
  if (magnitude > limit) return DecimalFailure::out_of_range;
  out = negative ? static_cast<std::int64_t>(0 - magnitude) : static_cast<std::int64_t>(magnitude);
  return DecimalFailure::none;
}

std::string quoted(std::string_view text) {
  constexpr std::size_t kShown = 40;
  std::string q = "\"";
  q.append(text.substr(0, kShown));
  if (text.size() > kShown) q += "...";
  q += '"';
  return q;
}

// Magnitude digits of `value` with exactly `decimals` fractional digits.
std::string format_scaled(std::int64_t value, int decimals, bool trim_trailing_zeros) {
  const bool negative = value < 0;
  std::uint64_t magnitude = negative ? 0 - static_cast<std::uint64_t>(value) : static_cast<std::uint64_t>(value);
  std::string digits = std::to_string(magnitude);
  if (static_cast<int>(digits.size()) <= decimals)
    digits.insert(0, static_cast<std::size_t>(decimals) + 1 - digits.size(), '0');
  std::string out = negative ? "-" : "";
  const std::size_t int_len = digits.size() - static_cast<std::size_t>(decimals);
  out.append(digits, 0, int_len);
  if (decimals > 0) {
    std::string frac = digits.substr(int_len);
    if (trim_trailing_zeros) {
      const auto last = frac.find_last_not_of('0');
      frac.resize(last == std::string::npos ? 0 : last + 1);
    }
    if (!frac.empty()) {
      out += '.';
      out += frac;
    }
  }
  return out;
}

Error mixed(const Money& a, const Money& b, const char* what) {
  return make_error(Errc::invalid_argument, std::string("cannot ") + what + " " + std::string(a.currency().code()) +
                                                " and " + std::string(b.currency().code()));
}

Error overflow(const Money& a, const char* what) {
  return make_error(Errc::invalid_argument,
                    std::string(what) + " overflows the " + std::string(a.currency().code()) + " minor-unit range");
}

}  // namespace

Currency::Currency(std::string_view code, int exponent) noexcept : exponent_(exponent) {
  std::copy_n(code.data(), 3, code_);
}

Result<Currency> Currency::from_code(std::string_view code) {
  const auto table = iso4217_currencies();
  if (code.size() == 3) {
    const auto it = std::lower_bound(table.begin(), table.end(), code,
                                     [](const CurrencyInfo& c, std::string_view k) { return c.code < k; });
    if (it != table.end() && it->code == code) return Currency(it->code, it->exponent);
  }
  return make_error(Errc::invalid_argument, quoted(code) + " is not an ISO 4217 currency code");
}

std::string Money::to_decimal_string() const { return format_scaled(minor_, currency_.exponent(), false); }

Result<Money> Money::add(const Money& other) const {
  if (!(currency_ == other.currency_)) return mixed(*this, other, "add");
  std::int64_t r = 0;
  if (__builtin_add_overflow(minor_, other.minor_, &r)) return overflow(*this, "addition");
  return Money(r, currency_);
}

Result<Money> Money::subtract(const Money& other) const {
  if (!(currency_ == other.currency_)) return mixed(*this, other, "subtract");
  std::int64_t r = 0;
  if (__builtin_sub_overflow(minor_, other.minor_, &r)) return overflow(*this, "subtraction");
  return Money(r, currency_);
}

Result<Money> Money::negate() const {
  if (minor_ == std::numeric_limits<std::int64_t>::min()) return overflow(*this, "negation");
  return Money(-minor_, currency_);
}

Result<Money> Money::multiply(std::int64_t quantity) const {
  std::int64_t r = 0;
  if (__builtin_mul_overflow(minor_, quantity, &r)) return overflow(*this, "multiplication");
  return Money(r, currency_);
}

Result<std::strong_ordering> Money::compare(const Money& other) const {
  if (!(currency_ == other.currency_)) return mixed(*this, other, "compare");
  return minor_ <=> other.minor_;
}

Result<Money> parse_decimal(std::string_view text, Currency currency) {
  std::int64_t minor = 0;
  switch (parse_scaled(text, currency.exponent(), minor)) {
    case DecimalFailure::none:
      return Money::from_minor(minor, currency);
    case DecimalFailure::syntax:
      return make_error(Errc::invalid_argument, quoted(text) + " is not a decimal number");
    case DecimalFailure::too_precise:
      return make_error(Errc::invalid_argument, quoted(text) + " has more decimals than " +
                                                    std::string(currency.code()) + " allows (" +
                                                    std::to_string(currency.exponent()) + ")");
    case DecimalFailure::out_of_range:
      break;
  }
  return make_error(Errc::invalid_argument, quoted(text) + " is out of range for " + std::string(currency.code()));
}

Result<Money> parse_decimal(std::string_view text, std::string_view currency_code) {
  auto currency = Currency::from_code(currency_code);
  if (!currency) return std::move(currency).error();
  return parse_decimal(text, *currency);
}

Result<Quantity> Quantity::parse(std::string_view text) {
  std::int64_t scaled = 0;
  switch (parse_scaled(text, kScaleDigits, scaled)) {
    case DecimalFailure::none:
      return Quantity(scaled);
    case DecimalFailure::syntax:
      return make_error(Errc::invalid_argument, quoted(text) + " is not a decimal number");
    case DecimalFailure::too_precise:
      return make_error(Errc::invalid_argument, quoted(text) + " has more than 5 decimals");
    case DecimalFailure::out_of_range:
      break;
  }
  return make_error(Errc::invalid_argument, quoted(text) + " is out of range for a quantity");
}

Result<Quantity> Quantity::from_integer(std::int64_t units) {
  std::int64_t scaled = 0;
  if (__builtin_mul_overflow(units, kScale, &scaled))
    return make_error(Errc::invalid_argument, std::to_string(units) + " is out of range for a quantity");
  return Quantity(scaled);
}

Result<std::int64_t> Quantity::to_integer() const {
  if (!is_integer()) return make_error(Errc::invalid_argument, "quantity " + to_string() + " is not a whole number");
  return scaled_ / kScale;
}

std::string Quantity::to_string() const { return format_scaled(scaled_, kScaleDigits, true); }

Result<Quantity> Quantity::add(const Quantity& other) const {
  std::int64_t r = 0;
  if (__builtin_add_overflow(scaled_, other.scaled_, &r))
    return make_error(Errc::invalid_argument, "quantity addition overflows");
  return Quantity(r);
}

Result<Quantity> Quantity::subtract(const Quantity& other) const {
  std::int64_t r = 0;
  if (__builtin_sub_overflow(scaled_, other.scaled_, &r))
    return make_error(Errc::invalid_argument, "quantity subtraction overflows");
  return Quantity(r);
}

Result<Quantity> Quantity::negate() const {
  if (scaled_ == std::numeric_limits<std::int64_t>::min())
    return make_error(Errc::invalid_argument, "quantity negation overflows");
  return Quantity(-scaled_);
}

Result<Money> extend_price(const Money& unit_price, const Quantity& quantity) {
  const __int128 product = static_cast<__int128>(unit_price.minor()) * quantity.scaled();
  __int128 q = product / Quantity::kScale;
  const __int128 r = product % Quantity::kScale;  // same sign as product
  const __int128 twice = (r < 0 ? -r : r) * 2;
  if (twice > Quantity::kScale || (twice == Quantity::kScale && (q % 2 != 0))) q += product < 0 ? -1 : 1;
  if (q > std::numeric_limits<std::int64_t>::max() || q < std::numeric_limits<std::int64_t>::min())
    return make_error(Errc::invalid_argument, "price extension overflows the " +
                                                  std::string(unit_price.currency().code()) + " minor-unit range");
  return Money::from_minor(static_cast<std::int64_t>(q), unit_price.currency());
}

}  // namespace trueup
