#pragma once
// Reading external payloads (Square, Shopify, Business Central JSON): unlike
// the canonical codecs (src/model), unknown members are ignored (external APIs
// add fields all the time) and `null` means absent (they write null for
// "none"). What is read is still strict: wrong types, inexact money, bad
// timestamps and missing required members are errors with the JSON Pointer of
// the value, e.g. "/order/line_items/2/price: "19.999" has more decimals than
// USD allows (2)". The first problem wins; later reads return nullopt.
//
// Numbers are read from their exact text: parse documents with
// `parse_exact` (exact_json.hpp), never through a double.
//
// Thread-safety: a reader and its Problems belong to one thread.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/exact_json.hpp"
#include "trueup/core/error.hpp"
#include "trueup/core/money.hpp"
#include "trueup/model/timestamp.hpp"

namespace trueup::connectors {

enum class Need { optional, required };

// First problem wins; every later report is ignored.
class Problems {
 public:
  bool failed() const noexcept { return error_.has_value(); }
  void fail(std::string_view path, std::string_view what);
  // Errc::invalid_argument "<pointer>: <what>" (precondition: failed()).
  const Error& error() const { return *error_; }

 private:
  std::optional<Error> error_;
};

class PayloadReader {
 public:
  // `j` must outlive the reader. A non-object records a problem at `path`.
  PayloadReader(Problems& problems, const nlohmann::json& j, std::string path);
  // A reader over nothing: every read yields nullopt without a problem.
  explicit PayloadReader(Problems& problems) : problems_(problems) {}

  const std::string& path() const noexcept { return path_; }
  std::string path_of(std::string_view key) const;
  bool failed() const noexcept { return problems_.failed(); }
  bool present() const noexcept { return object_ != nullptr; }
  Problems& problems() const noexcept { return problems_; }
  void fail(std::string_view key, std::string_view what) { problems_.fail(path_of(key), what); }

  // The member unless absent or null; a missing required member is a problem.
  const nlohmann::json* member(std::string_view key, Need need);

  // Any string (may be empty).
  std::optional<std::string> text(std::string_view key, Need need);
  // An id: a non-empty string, or an integer number kept as its exact text
  // (Shopify's int64 ids beyond 2^53 included).
  std::optional<std::string> id(std::string_view key, Need need);
  std::optional<std::int64_t> integer(std::string_view key, Need need);
  std::optional<bool> boolean(std::string_view key, Need need);
  // A decimal string ("1.5") or a JSON number, from its exact text.
  std::optional<Quantity> quantity(std::string_view key, Need need);
  // A decimal string ("598.94") or a JSON number (25934.2), exact, in `currency`.
  std::optional<Money> decimal_money(std::string_view key, Currency currency, Need need);
  std::optional<Currency> currency(std::string_view key, Need need);
  std::optional<model::Timestamp> timestamp(std::string_view key, Need need);

  // The member as an object reader; absent (optional) gives a reader over nothing.
  PayloadReader object(std::string_view key, Need need);

  // Calls each(element, element_path) for every element of an array member.
  template <class F>
  void each(std::string_view key, Need need, F&& each) {
    const nlohmann::json* v = member(key, need);
    if (v == nullptr) return;
    if (!v->is_array()) return fail(key, "expected an array");
    const std::string base = path_of(key);
    for (std::size_t i = 0; i < v->size() && !failed(); ++i) each((*v)[i], base + "/" + std::to_string(i));
  }

  // Reads every element of an array of objects with read(PayloadReader&, T&)
  // and appends it to `out`.
  template <class T, class F>
  void objects(std::string_view key, Need need, std::vector<T>& out, F&& read) {
    each(key, need, [&](const nlohmann::json& e, const std::string& at) {
      PayloadReader item(problems_, e, at);
      T value{};
      read(item, value);
      out.push_back(std::move(value));
    });
  }

 private:
  Problems& problems_;
  const nlohmann::json* object_ = nullptr;
  std::string path_;
};

// Runs read(reader, T&) over the document and returns the value or the first
// problem; `pointer` prefixes every reported path.
template <class T, class F>
Result<T> read_payload(const nlohmann::json& j, F&& read, std::string_view pointer = "") {
  Problems problems;
  PayloadReader reader(problems, j, std::string(pointer));
  T out{};
  read(reader, out);
  if (problems.failed()) return problems.error();
  return out;
}

// parse_exact(body), then read_payload<T>(document, read).
template <class T, class F>
Result<T> read_body(std::string_view body, F&& read) {
  auto j = parse_exact(body);
  if (!j) return std::move(j).error();
  return read_payload<T>(*j, std::forward<F>(read));
}

}  // namespace trueup::connectors
