#pragma once
// Exact money and quantities. Never a float anywhere.
//
// `Currency` is an ISO 4217 alphabetic code with its exponent (number of
// minor-unit digits: JPY 0, USD 2, KWD 3, CLF 4). Only codes in the built-in
// table (active ISO 4217 currencies with a defined exponent) are accepted;
// precious metals, XDR and test codes are not money here.
//
// `Money` is an int64 count of minor units plus its currency. Arithmetic and
// ordering refuse mixed currencies (Errc::invalid_argument); overflow is an
// error (Errc::invalid_argument), never wraps.
//
// `Quantity` is a fixed-point decimal with 5 fractional digits (int64 scaled
// by 100000), for quantities sent as decimal strings ("1", "1.5").
//
// Decimal text grammar for both (the JSON number grammar):
//   -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
// Parsing is exact: the value must be representable in the target scale
// without rounding ("1.230" is fine for USD, "1.234" is an error), and must
// fit in int64. No whitespace, no leading '+', no leading zeros, no ".5".
//
// Thread-safety: plain values.

#include <compare>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "trueup/core/error.hpp"

namespace trueup {

struct CurrencyInfo {
  std::string_view code;  // "USD"
  int exponent;           // minor-unit digits, 0..4
};

// The whole table, sorted by code.
std::span<const CurrencyInfo> iso4217_currencies() noexcept;

class Currency {
 public:
  // "XXX" (ISO 4217: no currency), exponent 0: a placeholder so that entities
  // can be default-constructed; never produced by from_code().
  Currency() noexcept = default;
  // Upper-case ISO 4217 alphabetic code from the table; anything else
  // (lower case, unknown, withdrawn, metals) is Errc::invalid_argument.
  static Result<Currency> from_code(std::string_view code);

  std::string_view code() const noexcept { return {code_, 3}; }
  int exponent() const noexcept { return exponent_; }

  friend bool operator==(const Currency& a, const Currency& b) noexcept { return a.code() == b.code(); }

 private:
  Currency(std::string_view code, int exponent) noexcept;
  char code_[3] = {'X', 'X', 'X'};
  int exponent_ = 0;
};

class Money {
 public:
  // Zero in the placeholder currency "XXX".
  Money() noexcept = default;
  static Money from_minor(std::int64_t minor, Currency currency) noexcept { return Money(minor, currency); }
  static Money zero(Currency currency) noexcept { return Money(0, currency); }

  std::int64_t minor() const noexcept { return minor_; }
  Currency currency() const noexcept { return currency_; }
  bool is_zero() const noexcept { return minor_ == 0; }
  bool is_negative() const noexcept { return minor_ < 0; }

  // "12.50", "-0.01", "1000" (JPY), "1.234" (KWD): exactly exponent() decimals.
  std::string to_decimal_string() const;

  Result<Money> add(const Money& other) const;
  Result<Money> subtract(const Money& other) const;
  Result<Money> negate() const;
  Result<Money> multiply(std::int64_t quantity) const;
  // Same currency required; otherwise Errc::invalid_argument.
  Result<std::strong_ordering> compare(const Money& other) const;

  // Equal amount and equal currency (different currencies are simply unequal).
  friend bool operator==(const Money& a, const Money& b) noexcept = default;

 private:
  Money(std::int64_t minor, Currency currency) noexcept : minor_(minor), currency_(currency) {}
  std::int64_t minor_ = 0;
  Currency currency_;
};

// Exact parse of decimal text (a decimal string or JSON number text) into
// minor units of `currency`. See the grammar above.
Result<Money> parse_decimal(std::string_view text, Currency currency);
// Same, with the currency given as its code.
Result<Money> parse_decimal(std::string_view text, std::string_view currency_code);

class Quantity {
 public:
  static constexpr int kScaleDigits = 5;
  static constexpr std::int64_t kScale = 100000;

  constexpr Quantity() noexcept = default;
  // Exact parse; more than 5 significant fractional digits is an error.
  static Result<Quantity> parse(std::string_view text);
  static Result<Quantity> from_integer(std::int64_t units);
  static constexpr Quantity from_scaled(std::int64_t scaled) noexcept { return Quantity(scaled); }

  // Value times 100000.
  constexpr std::int64_t scaled() const noexcept { return scaled_; }
  constexpr bool is_integer() const noexcept { return scaled_ % kScale == 0; }
  constexpr bool is_zero() const noexcept { return scaled_ == 0; }
  constexpr bool is_negative() const noexcept { return scaled_ < 0; }
  // Whole units when is_integer(), else Errc::invalid_argument.
  Result<std::int64_t> to_integer() const;

  // Canonical text: no trailing fractional zeros, no exponent: "1", "1.5", "-0.25".
  std::string to_string() const;

  Result<Quantity> add(const Quantity& other) const;
  Result<Quantity> subtract(const Quantity& other) const;
  Result<Quantity> negate() const;

  friend constexpr auto operator<=>(const Quantity&, const Quantity&) noexcept = default;

 private:
  constexpr explicit Quantity(std::int64_t scaled) noexcept : scaled_(scaled) {}
  std::int64_t scaled_ = 0;
};

// unit_price × quantity, rounded half-to-even to the currency's minor unit
// (1.5 kg at 3.33 → 5.00 from 4.995). Overflow is Errc::invalid_argument.
Result<Money> extend_price(const Money& unit_price, const Quantity& quantity);

}  // namespace trueup
