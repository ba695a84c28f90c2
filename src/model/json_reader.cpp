#include "json_reader.hpp"

#include <algorithm>

#include "trueup/model/identifiers.hpp"

namespace trueup::model::detail {

std::string pointer_append(std::string_view base, std::string_view token) {
  std::string out(base);
  out += '/';
  for (char c : token) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out += c;
    }
  }
  return out;
}

void Problems::fail(std::string_view path, std::string_view what) {
  if (error_) return;
  std::string message = path.empty() ? std::string("(root)") : std::string(path);
  message += ": ";
  message += what;
  error_ = make_error(Errc::invalid_argument, std::move(message));
}

ObjectReader::ObjectReader(Problems& problems, const json& j, std::string path)
    : problems_(problems), path_(std::move(path)) {
  if (problems_.failed()) return;
  if (!j.is_object()) {
    problems_.fail(path_, "expected an object");
    return;
  }
  object_ = &j;
}

bool ObjectReader::has(std::string_view key) const {
  return object_ != nullptr && object_->find(std::string(key)) != object_->end();
}

const json* ObjectReader::member(std::string_view key, bool required) {
  if (object_ == nullptr || failed()) return nullptr;
  seen_.push_back(key);
  auto it = object_->find(std::string(key));
  if (it == object_->end()) {
    if (required) fail(key, "required member is missing");
    return nullptr;
  }
  // An explicit null is not "absent": the canonical form omits optional members.
  if (it->is_null()) {
    fail(key, required ? "expected a value, not null" : "omit the member instead of null");
    return nullptr;
  }
  return &*it;
}

namespace {

constexpr std::size_t kMaxText = 4096;

const char* describe(StringKind kind) {
  switch (kind) {
    case StringKind::identifier:
      return "expected an identifier string (1-255 bytes, no control characters, no leading or trailing space)";
    case StringKind::code:
      return "expected a code string (1-64 of A-Z a-z 0-9 . _ : -, starting with a letter or digit)";
    case StringKind::text:
      break;
  }
  return "expected a string of at most 4096 bytes";
}

bool valid(StringKind kind, const std::string& s) {
  switch (kind) {
    case StringKind::identifier:
      return is_identifier(s);
    case StringKind::code:
      return is_code(s);
    case StringKind::text:
      break;
  }
  return s.size() <= kMaxText;
}

// Money in JSON: a string holding a plain decimal (no exponent).
const char* kDecimalString = "expected a decimal string such as \"12.50\"";

}  // namespace

void ObjectReader::string(std::string_view key, std::string& out, StringKind kind) {
  std::optional<std::string> v;
  const bool present = has(key);
  if (!present) {
    member(key, true);
    return;
  }
  string(key, v, kind);
  if (v) out = std::move(*v);
}

void ObjectReader::string(std::string_view key, std::optional<std::string>& out, StringKind kind) {
  const json* v = member(key, false);
  if (v == nullptr) return;
  if (!v->is_string() || !valid(kind, v->get_ref<const std::string&>())) return fail(key, describe(kind));
  out = v->get<std::string>();
}

void ObjectReader::money(std::string_view key, Money& out, Currency currency) {
  if (!has(key)) {
    member(key, true);
    return;
  }
  std::optional<Money> v;
  money(key, v, currency);
  if (v) out = *v;
}

void ObjectReader::money(std::string_view key, std::optional<Money>& out, Currency currency) {
  const json* v = member(key, false);
  if (v == nullptr) return;
  if (!v->is_string()) return fail(key, kDecimalString);
  const auto& s = v->get_ref<const std::string&>();
  if (s.find_first_of("eE") != std::string::npos) return fail(key, kDecimalString);
  auto m = parse_decimal(s, currency);
  if (!m) return fail(key, m.error().message);
  out = *m;
}

void ObjectReader::quantity(std::string_view key, Quantity& out) {
  if (!has(key)) {
    member(key, true);
    return;
  }
  std::optional<Quantity> v;
  quantity(key, v);
  if (v) out = *v;
}

void ObjectReader::quantity(std::string_view key, std::optional<Quantity>& out) {
  const json* v = member(key, false);
  if (v == nullptr) return;
  constexpr const char* kExpected = "expected a decimal string such as \"1.5\" or an integer";
  if (v->is_number_integer()) {
    if (v->is_number_unsigned() && v->get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX))
      return fail(key, "integer is out of range for a quantity");
    auto q = Quantity::from_integer(v->get<std::int64_t>());
    if (!q) return fail(key, q.error().message);
    out = *q;
    return;
  }
  if (!v->is_string()) return fail(key, kExpected);
  const auto& s = v->get_ref<const std::string&>();
  if (s.find_first_of("eE") != std::string::npos) return fail(key, kExpected);
  auto q = Quantity::parse(s);
  if (!q) return fail(key, q.error().message);
  out = *q;
}

void ObjectReader::timestamp(std::string_view key, Timestamp& out) {
  if (!has(key)) {
    member(key, true);
    return;
  }
  std::optional<Timestamp> v;
  timestamp(key, v);
  if (v) out = *v;
}

void ObjectReader::timestamp(std::string_view key, std::optional<Timestamp>& out) {
  const json* v = member(key, false);
  if (v == nullptr) return;
  if (!v->is_string()) return fail(key, "expected an RFC 3339 timestamp string");
  auto t = Timestamp::parse(v->get_ref<const std::string&>());
  if (!t) return fail(key, t.error().message);
  out = *t;
}

void ObjectReader::currency(std::string_view key, Currency& out) {
  const json* v = member(key, true);
  if (v == nullptr) return;
  if (!v->is_string()) return fail(key, "expected an ISO 4217 currency code string");
  auto c = Currency::from_code(v->get_ref<const std::string&>());
  if (!c) return fail(key, c.error().message);
  out = *c;
}

void ObjectReader::boolean(std::string_view key, bool& out, std::optional<bool> default_value) {
  const json* v = member(key, !default_value.has_value());
  if (v == nullptr) {
    if (default_value) out = *default_value;
    return;
  }
  if (!v->is_boolean()) return fail(key, "expected true or false");
  out = v->get<bool>();
}

void ObjectReader::integer(std::string_view key, std::int64_t& out, std::int64_t min, std::int64_t max) {
  const json* v = member(key, true);
  if (v == nullptr) return;
  const std::string range = "expected an integer from " + std::to_string(min) + " to " + std::to_string(max);
  if (!v->is_number_integer()) return fail(key, range);
  if (v->is_number_unsigned() && v->get<std::uint64_t>() > static_cast<std::uint64_t>(max)) return fail(key, range);
  const auto i = v->get<std::int64_t>();
  if (i < min || i > max) return fail(key, range);
  out = i;
}

void ObjectReader::finish() {
  if (object_ == nullptr || failed()) return;
  for (auto it = object_->begin(); it != object_->end(); ++it) {
    if (std::find(seen_.begin(), seen_.end(), std::string_view(it.key())) == seen_.end()) {
      fail(it.key(), "unknown member");
      return;
    }
  }
}

}  // namespace trueup::model::detail
