// Exact numbers through parse_exact / number_text / dump_exact, and the
// lenient payload reader.

#include <gtest/gtest.h>

#include "common/exact_json.hpp"
#include "common/payload_reader.hpp"

namespace trueup::connectors {
namespace {

using nlohmann::json;

std::string text_of(const char* document, const char* key) {
  auto j = parse_exact(document);
  EXPECT_TRUE(j.ok()) << (j ? "" : j.error().message);
  return number_text(j->at(key)).value_or("<not a number>");
}

TEST(ExactJson, KeepsEveryDecimalDigitAsWritten) {
  EXPECT_EQ(text_of(R"({"a": 0.1})", "a"), "0.1");
  EXPECT_EQ(text_of(R"({"a": 1234567.891})", "a"), "1234567.891");
  EXPECT_EQ(text_of(R"({"a": 1e2})", "a"), "1e2");
  EXPECT_EQ(text_of(R"({"a": -0.000001})", "a"), "-0.000001");
  EXPECT_EQ(text_of(R"({"a": 25934.2})", "a"), "25934.2");
  // 0.1 + 0.2 territory and 17 significant digits: a double would print these differently.
  EXPECT_EQ(text_of(R"({"a": 0.30000000000000004441})", "a"), "0.30000000000000004441");
}

TEST(ExactJson, KeepsIntegersBeyondTwoToThe53) {
  EXPECT_EQ(text_of(R"({"id": 9007199254740993})", "id"), "9007199254740993");
  EXPECT_EQ(text_of(R"({"id": 9223372036854775807})", "id"), "9223372036854775807");
  EXPECT_EQ(text_of(R"({"id": 18446744073709551615})", "id"), "18446744073709551615");
  EXPECT_EQ(text_of(R"({"id": -9223372036854775808})", "id"), "-9223372036854775808");
  // Beyond 64 bits nlohmann would fall back to a double; we keep the text.
  EXPECT_EQ(text_of(R"({"id": 123456789012345678901234567890})", "id"), "123456789012345678901234567890");
}

TEST(ExactJson, ParsesMoneyExactlyFromNumberText) {
  auto j = parse_exact(R"({"amount": 1234567.891, "small": 0.1, "exp": 1e2, "cents": 19.999})");
  ASSERT_TRUE(j.ok());
  Problems problems;
  PayloadReader r(problems, *j, "");
  auto kwd = Currency::from_code("KWD");
  auto usd = Currency::from_code("USD");
  ASSERT_TRUE(kwd && usd);
  EXPECT_EQ(r.decimal_money("amount", *kwd, Need::required)->minor(), 1234567891);
  EXPECT_EQ(r.decimal_money("small", *usd, Need::required)->minor(), 10);
  EXPECT_EQ(r.decimal_money("exp", *usd, Need::required)->minor(), 10000);
  EXPECT_FALSE(problems.failed());
  EXPECT_FALSE(r.decimal_money("cents", *usd, Need::required));
  ASSERT_TRUE(problems.failed());
  EXPECT_EQ(problems.error().message.rfind("/cents: ", 0), 0u) << problems.error().message;
}

TEST(ExactJson, DumpWritesDecimalTextAsNumbers) {
  const std::string text = R"({"a":[0.1,1e2,-7,18446744073709551615],"b":"x","c":{"d":1234567.891,"e":null}})";
  auto j = parse_exact(text);
  ASSERT_TRUE(j.ok());
  EXPECT_EQ(dump_exact(*j), text);
  EXPECT_TRUE(is_decimal_text(j->at("a")[0]));
  EXPECT_FALSE(is_decimal_text(j->at("a")[2]));
}

TEST(ExactJson, MalformedJsonIsAnError) {
  auto j = parse_exact(R"({"a": 1,})");
  ASSERT_FALSE(j.ok());
  EXPECT_EQ(j.error().code, Errc::invalid_argument);
  EXPECT_NE(j.error().message.find("malformed JSON"), std::string::npos);
}

TEST(PayloadReader, IdsFromNumbersAndStrings) {
  auto j = parse_exact(R"({"n": 9007199254740993, "s": "9007199254740993", "e": "", "f": 1.5, "z": null})");
  ASSERT_TRUE(j.ok());
  Problems problems;
  PayloadReader r(problems, *j, "/order");
  EXPECT_EQ(r.id("n", Need::required), "9007199254740993");
  EXPECT_EQ(r.id("s", Need::required), "9007199254740993");
  EXPECT_EQ(r.id("z", Need::optional), std::nullopt);  // null is absent
  EXPECT_FALSE(problems.failed());
  EXPECT_EQ(r.id("f", Need::required), std::nullopt);
  EXPECT_EQ(problems.error().message, "/order/f: expected an id (a non-empty string or an integer)");
}

TEST(PayloadReader, FloatsFromPlainNlohmannAreRefused) {
  // A document parsed with nlohmann's own parser has doubles: refuse them
  // rather than guess digits.
  json j = json::parse(R"({"price": 0.1})");
  Problems problems;
  PayloadReader r(problems, j, "");
  EXPECT_FALSE(r.decimal_money("price", *Currency::from_code("USD"), Need::required));
  EXPECT_TRUE(problems.failed());
}

}  // namespace
}  // namespace trueup::connectors
