// Money, Currency and Quantity: exact parsing, formatting and arithmetic.

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>

#include "trueup/core/money.hpp"

namespace trueup {
namespace {

Currency cur(std::string_view code) {
  auto c = Currency::from_code(code);
  EXPECT_TRUE(c.ok()) << code;
  return c.ok() ? *c : Currency{};
}

TEST(Currency, TableIsSortedUniqueAndHasKnownExponents) {
  const auto table = iso4217_currencies();
  ASSERT_GT(table.size(), 150u);
  for (std::size_t i = 1; i < table.size(); ++i) EXPECT_LT(table[i - 1].code, table[i].code) << table[i].code;
  for (const auto& c : table) {
    EXPECT_EQ(c.code.size(), 3u);
    EXPECT_GE(c.exponent, 0);
    EXPECT_LE(c.exponent, 4);
  }
  const std::pair<const char*, int> expected[] = {
      {"JPY", 0}, {"KRW", 0}, {"CLP", 0}, {"ISK", 0}, {"USD", 2}, {"EUR", 2}, {"GBP", 2}, {"KWD", 3},
      {"BHD", 3}, {"JOD", 3}, {"OMR", 3}, {"TND", 3}, {"IQD", 3}, {"LYD", 3}, {"CLF", 4}, {"UYW", 4}};
  for (const auto& [code, exponent] : expected) EXPECT_EQ(cur(code).exponent(), exponent) << code;
}

TEST(Currency, RejectsUnknownLowercaseAndNonMoneyCodes) {
  for (const char* code : {"usd", "US", "USDD", "", "XAU", "XDR", "XXX", "ABC", "HRK"}) {
    auto c = Currency::from_code(code);
    ASSERT_FALSE(c.ok()) << code;
    EXPECT_EQ(c.error().code, Errc::invalid_argument);
  }
  EXPECT_EQ(Currency{}.code(), "XXX");
}

struct ParseCase {
  const char* text;
  const char* currency;
  bool ok;
  std::int64_t minor;  // when ok
};

TEST(Money, ParseDecimalTable) {
  constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
  constexpr std::int64_t kMin = std::numeric_limits<std::int64_t>::min();
  const ParseCase cases[] = {
      // plain
      {"12", "USD", true, 1200},
      {"12.5", "USD", true, 1250},
      {"12.50", "USD", true, 1250},
      {"-0.01", "USD", true, -1},
      {"0", "USD", true, 0},
      {"-0", "USD", true, 0},
      {"-0.00", "USD", true, 0},
      {"0.10", "USD", true, 10},
      {"598.94", "USD", true, 59894},
      // trailing zeros beyond the exponent are exact
      {"1.230", "USD", true, 123},
      {"1.2300000000", "USD", true, 123},
      {"1000.0", "JPY", true, 1000},
      // too many significant decimals
      {"1.234", "USD", false, 0},
      {"0.001", "USD", false, 0},
      {"1.5", "JPY", false, 0},
      {"0.0001", "KWD", false, 0},
      {"1.23456", "CLF", false, 0},
      // currencies with other exponents
      {"1000", "JPY", true, 1000},
      {"1.234", "KWD", true, 1234},
      {"-1.234", "BHD", true, -1234},
      {"0.5", "TND", true, 500},
      {"1.2345", "CLF", true, 12345},
      // exponent forms (JSON number text), accepted when exact
      {"1e2", "USD", true, 10000},
      {"1E2", "USD", true, 10000},
      {"1e+2", "USD", true, 10000},
      {"125e-2", "USD", true, 125},
      {"1.5e1", "JPY", true, 15},
      {"12.5e-1", "USD", true, 125},
      {"1e-2", "USD", true, 1},
      {"1e-3", "USD", false, 0},
      {"0e99999999999999", "USD", true, 0},
      {"1e99999999999999", "USD", false, 0},
      {"1e-99999999999999", "USD", false, 0},
      {"100e-2", "JPY", true, 1},
      // int64 limits in minor units
      {"92233720368547758.07", "USD", true, kMax},
      {"-92233720368547758.08", "USD", true, kMin},
      {"92233720368547758.08", "USD", false, 0},
      {"9223372036854775807", "JPY", true, kMax},
      {"9223372036854775808", "JPY", false, 0},
      {"-9223372036854775808", "JPY", true, kMin},
      {"-9223372036854775809", "JPY", false, 0},
      {"99999999999999999999", "JPY", false, 0},
      {"1e19", "JPY", false, 0},
      {"1e18", "JPY", true, 1000000000000000000},
      {"00000000000000000000000001", "JPY", false, 0},  // leading zeros are not JSON
      // garbage
      {"", "USD", false, 0},
      {"-", "USD", false, 0},
      {"+1", "USD", false, 0},
      {" 1", "USD", false, 0},
      {"1 ", "USD", false, 0},
      {"1,00", "USD", false, 0},
      {"1.", "USD", false, 0},
      {".5", "USD", false, 0},
      {"01", "USD", false, 0},
      {"-01.5", "USD", false, 0},
      {"1e", "USD", false, 0},
      {"1e+", "USD", false, 0},
      {"1.2.3", "USD", false, 0},
      {"abc", "USD", false, 0},
      {"NaN", "USD", false, 0},
      {"Infinity", "USD", false, 0},
      {"0x10", "USD", false, 0},
      {"1_000", "USD", false, 0},
      {"--1", "USD", false, 0},
      {"12.5USD", "USD", false, 0},
  };
  for (const auto& c : cases) {
    auto m = parse_decimal(c.text, c.currency);
    ASSERT_EQ(m.ok(), c.ok) << "\"" << c.text << "\" " << c.currency << (m.ok() ? "" : ": " + m.error().message);
    if (c.ok) {
      EXPECT_EQ(m->minor(), c.minor) << c.text;
      EXPECT_EQ(m->currency().code(), c.currency);
    } else {
      EXPECT_EQ(m.error().code, Errc::invalid_argument) << c.text;
    }
  }
}

TEST(Money, ParseErrorsSayWhatIsWrong) {
  auto precise = parse_decimal("1.234", "USD");
  ASSERT_FALSE(precise.ok());
  EXPECT_NE(precise.error().message.find("more decimals than USD allows (2)"), std::string::npos)
      << precise.error().message;
  auto range = parse_decimal("1e30", "USD");
  ASSERT_FALSE(range.ok());
  EXPECT_NE(range.error().message.find("out of range"), std::string::npos) << range.error().message;
  auto garbage = parse_decimal("12,50", "USD");
  ASSERT_FALSE(garbage.ok());
  EXPECT_NE(garbage.error().message.find("not a decimal number"), std::string::npos);
  auto unknown = parse_decimal("1", "ZZZ");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.error().message.find("ISO 4217"), std::string::npos);
  EXPECT_FALSE(unknown.error().retryable());
}

TEST(Money, ToDecimalStringUsesTheExponent) {
  const std::pair<Money, const char*> cases[] = {
      {Money::from_minor(1250, cur("USD")), "12.50"},
      {Money::from_minor(-1, cur("USD")), "-0.01"},
      {Money::from_minor(0, cur("USD")), "0.00"},
      {Money::from_minor(5, cur("EUR")), "0.05"},
      {Money::from_minor(1000, cur("JPY")), "1000"},
      {Money::from_minor(-7, cur("JPY")), "-7"},
      {Money::from_minor(1234, cur("KWD")), "1.234"},
      {Money::from_minor(1, cur("KWD")), "0.001"},
      {Money::from_minor(12345, cur("CLF")), "1.2345"},
      {Money::from_minor(std::numeric_limits<std::int64_t>::max(), cur("USD")), "92233720368547758.07"},
      {Money::from_minor(std::numeric_limits<std::int64_t>::min(), cur("USD")), "-92233720368547758.08"},
      {Money::from_minor(std::numeric_limits<std::int64_t>::min(), cur("JPY")), "-9223372036854775808"},
  };
  for (const auto& [money, text] : cases) {
    EXPECT_EQ(money.to_decimal_string(), text);
    auto back = parse_decimal(text, money.currency());
    ASSERT_TRUE(back.ok()) << text;
    EXPECT_EQ(*back, money) << text;
  }
}

TEST(Money, ArithmeticWithinOneCurrency) {
  const auto usd = cur("USD");
  const auto a = Money::from_minor(1250, usd);
  const auto b = Money::from_minor(-300, usd);
  EXPECT_EQ(a.add(b)->minor(), 950);
  EXPECT_EQ(a.subtract(b)->minor(), 1550);
  EXPECT_EQ(a.negate()->minor(), -1250);
  EXPECT_EQ(a.multiply(3)->minor(), 3750);
  EXPECT_EQ(a.multiply(-2)->minor(), -2500);
  EXPECT_EQ(*a.compare(b), std::strong_ordering::greater);
  EXPECT_EQ(*b.compare(a), std::strong_ordering::less);
  EXPECT_EQ(*a.compare(Money::from_minor(1250, usd)), std::strong_ordering::equal);
}

TEST(Money, ArithmeticRefusesMixedCurrenciesAndOverflow) {
  const auto usd = Money::from_minor(100, cur("USD"));
  const auto eur = Money::from_minor(100, cur("EUR"));
  for (auto r : {usd.add(eur), usd.subtract(eur)}) {
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, Errc::invalid_argument);
    EXPECT_NE(r.error().message.find("USD and EUR"), std::string::npos) << r.error().message;
  }
  auto cmp = usd.compare(eur);
  ASSERT_FALSE(cmp.ok());
  EXPECT_EQ(cmp.error().code, Errc::invalid_argument);
  EXPECT_FALSE(usd == eur);

  constexpr auto kMax = std::numeric_limits<std::int64_t>::max();
  constexpr auto kMin = std::numeric_limits<std::int64_t>::min();
  const auto big = Money::from_minor(kMax, cur("USD"));
  const auto small = Money::from_minor(kMin, cur("USD"));
  const auto one = Money::from_minor(1, cur("USD"));
  EXPECT_FALSE(big.add(one).ok());
  EXPECT_FALSE(small.subtract(one).ok());
  EXPECT_FALSE(small.negate().ok());
  EXPECT_FALSE(big.multiply(2).ok());
  EXPECT_FALSE(small.multiply(-1).ok());
  EXPECT_TRUE(big.negate().ok());
  EXPECT_EQ(big.add(one.negate().value())->minor(), kMax - 1);
}

TEST(Quantity, ParseAndFormatTable) {
  const std::tuple<const char*, bool, std::int64_t, const char*> cases[] = {
      {"1", true, 100000, "1"},
      {"1.5", true, 150000, "1.5"},
      {"1.50000", true, 150000, "1.5"},
      {"1.500000000", true, 150000, "1.5"},
      {"0.00001", true, 1, "0.00001"},
      {"-2.25", true, -225000, "-2.25"},
      {"0", true, 0, "0"},
      {"-0", true, 0, "0"},
      {"2e3", true, 200000000, "2000"},
      {"15e-1", true, 150000, "1.5"},
      {"92233720368547.75807", true, std::numeric_limits<std::int64_t>::max(), "92233720368547.75807"},
      {"92233720368547.75808", false, 0, nullptr},
      {"0.000001", false, 0, nullptr},
      {"1.123456", false, 0, nullptr},
      {"1.", false, 0, nullptr},
      {"", false, 0, nullptr},
      {"one", false, 0, nullptr},
      {"+1", false, 0, nullptr},
  };
  for (const auto& [text, ok, scaled, canonical] : cases) {
    auto q = Quantity::parse(text);
    ASSERT_EQ(q.ok(), ok) << text;
    if (!ok) continue;
    EXPECT_EQ(q->scaled(), scaled) << text;
    EXPECT_EQ(q->to_string(), canonical) << text;
    EXPECT_EQ(Quantity::parse(q->to_string())->scaled(), scaled) << text;
  }
}

TEST(Quantity, IntegersAndArithmetic) {
  EXPECT_EQ(Quantity::from_integer(3)->scaled(), 300000);
  EXPECT_FALSE(Quantity::from_integer(std::numeric_limits<std::int64_t>::max()).ok());
  EXPECT_TRUE(Quantity::parse("4")->is_integer());
  EXPECT_EQ(*Quantity::parse("4")->to_integer(), 4);
  EXPECT_FALSE(Quantity::parse("4.5")->to_integer().ok());
  auto a = *Quantity::parse("1.5");
  auto b = *Quantity::parse("0.25");
  EXPECT_EQ(a.add(b)->to_string(), "1.75");
  EXPECT_EQ(b.subtract(a)->to_string(), "-1.25");
  EXPECT_LT(b, a);
  EXPECT_FALSE(Quantity::from_scaled(std::numeric_limits<std::int64_t>::max()).add(Quantity::from_scaled(1)).ok());
}

TEST(Money, ExtendPriceRoundsHalfToEven) {
  const auto usd = cur("USD");
  auto q = [](const char* t) { return *Quantity::parse(t); };
  EXPECT_EQ(extend_price(Money::from_minor(333, usd), q("1.5"))->minor(), 500);  // 4.995 → 5.00 (half to even)
  EXPECT_EQ(extend_price(Money::from_minor(1, usd), q("0.5"))->minor(), 0);      // 0.005 → 0.00
  EXPECT_EQ(extend_price(Money::from_minor(3, usd), q("0.5"))->minor(), 2);      // 0.015 → 0.02
  EXPECT_EQ(extend_price(Money::from_minor(-3, usd), q("0.5"))->minor(), -2);
  EXPECT_EQ(extend_price(Money::from_minor(1000, usd), q("2"))->minor(), 2000);
  EXPECT_EQ(extend_price(Money::from_minor(1001, usd), q("0.33333"))->minor(), 334);  // 333.6633...
  EXPECT_FALSE(extend_price(Money::from_minor(std::numeric_limits<std::int64_t>::max(), usd), q("2")).ok());
}

}  // namespace
}  // namespace trueup
