#pragma once
// Private helpers for the strict codecs: walk a JSON object, remember which
// members were read, and keep the first problem with its JSON Pointer.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "trueup/core/error.hpp"
#include "trueup/core/money.hpp"
#include "trueup/model/timestamp.hpp"

namespace trueup::model::detail {

using nlohmann::json;

// RFC 6901 escaping of one reference token.
std::string pointer_append(std::string_view base, std::string_view token);

template <class E>
using EnumTable = std::span<const std::pair<std::string_view, E>>;

template <class E>
std::string_view enum_name(EnumTable<E> table, E value) noexcept {
  for (const auto& [name, v] : table)
    if (v == value) return name;
  return "?";
}

// First problem wins; every later read is a no-op.
class Problems {
 public:
  bool failed() const noexcept { return error_.has_value(); }
  void fail(std::string_view path, std::string_view what);
  Error take() { return std::move(*error_); }

 private:
  std::optional<Error> error_;
};

enum class StringKind { identifier, code, text };

class ObjectReader {
 public:
  ObjectReader(Problems& problems, const json& j, std::string path);

  const std::string& path() const noexcept { return path_; }
  std::string path_of(std::string_view key) const { return pointer_append(path_, key); }
  bool failed() const noexcept { return problems_.failed(); }
  void fail(std::string_view key, std::string_view what) { problems_.fail(path_of(key), what); }
  bool has(std::string_view key) const;

  // The member (marked as read), or nullptr: absent, or a problem recorded.
  const json* member(std::string_view key, bool required);

  void string(std::string_view key, std::string& out, StringKind kind);
  void string(std::string_view key, std::optional<std::string>& out, StringKind kind);
  void money(std::string_view key, Money& out, Currency currency);
  void money(std::string_view key, std::optional<Money>& out, Currency currency);
  void quantity(std::string_view key, Quantity& out);
  void quantity(std::string_view key, std::optional<Quantity>& out);
  void timestamp(std::string_view key, Timestamp& out);
  void timestamp(std::string_view key, std::optional<Timestamp>& out);
  void currency(std::string_view key, Currency& out);
  void boolean(std::string_view key, bool& out, std::optional<bool> default_value);
  void integer(std::string_view key, std::int64_t& out, std::int64_t min, std::int64_t max);

  template <class E>
  void enumeration(std::string_view key, E& out, EnumTable<E> table) {
    const json* v = member(key, true);
    if (v == nullptr) return;
    if (v->is_string()) {
      const auto& s = v->get_ref<const std::string&>();
      for (const auto& [name, value] : table) {
        if (name == s) {
          out = value;
          return;
        }
      }
    }
    std::string expected = "expected one of:";
    for (const auto& [name, value] : table) (expected += ' ') += name;
    fail(key, expected);
  }

  // An array of objects; `parse` reads one element: parse(Problems&, const json&, path, T&).
  template <class T, class F>
  void array(std::string_view key, std::vector<T>& out, bool required, std::size_t min_items, F&& parse) {
    const json* v = member(key, required);
    if (v == nullptr) return;
    if (!v->is_array()) return fail(key, "expected an array");
    if (v->size() < min_items)
      return fail(key, "expected at least " + std::to_string(min_items) + " element" + (min_items == 1 ? "" : "s"));
    const std::string base = path_of(key);
    out.clear();
    out.reserve(v->size());
    for (std::size_t i = 0; i < v->size() && !failed(); ++i) {
      T item{};
      parse(problems_, (*v)[i], base + "/" + std::to_string(i), item);
      out.push_back(std::move(item));
    }
  }

  // Reports the first member that was never read.
  void finish();

 private:
  Problems& problems_;
  const json* object_ = nullptr;
  std::string path_;
  std::vector<std::string_view> seen_;
};

// Writers for the canonical form.
inline void put(json& j, const char* key, const std::optional<std::string>& v) {
  if (v) j[key] = *v;
}

}  // namespace trueup::model::detail
