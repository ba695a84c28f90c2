#include "common/payload_reader.hpp"

#include <utility>

#include "common/exact_json.hpp"

namespace trueup::connectors {

using nlohmann::json;

void Problems::fail(std::string_view path, std::string_view what) {
  if (error_) return;
  std::string message = path.empty() ? std::string("(root)") : std::string(path);
  message += ": ";
  message += what;
  error_ = make_error(Errc::invalid_argument, std::move(message));
}

PayloadReader::PayloadReader(Problems& problems, const json& j, std::string path)
    : problems_(problems), path_(std::move(path)) {
  if (problems_.failed()) return;
  if (!j.is_object()) {
    problems_.fail(path_, "expected an object");
    return;
  }
  object_ = &j;
}

std::string PayloadReader::path_of(std::string_view key) const {
  std::string out = path_;
  out += '/';
  for (char c : key) {
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

const json* PayloadReader::member(std::string_view key, Need need) {
  if (object_ == nullptr || failed()) return nullptr;
  auto it = object_->find(key);
  if (it == object_->end() || it->is_null()) {
    if (need == Need::required) fail(key, "required member is missing");
    return nullptr;
  }
  return &*it;
}

std::optional<std::string> PayloadReader::text(std::string_view key, Need need) {
  const json* v = member(key, need);
  if (v == nullptr) return std::nullopt;
  if (!v->is_string()) {
    fail(key, "expected a string");
    return std::nullopt;
  }
  return v->get<std::string>();
}

std::optional<std::string> PayloadReader::id(std::string_view key, Need need) {
  const json* v = member(key, need);
  if (v == nullptr) return std::nullopt;
  if (v->is_string() && !v->get_ref<const std::string&>().empty()) return v->get<std::string>();
  if (v->is_number_integer()) return number_text(*v);
  fail(key, "expected an id (a non-empty string or an integer)");
  return std::nullopt;
}

std::optional<std::int64_t> PayloadReader::integer(std::string_view key, Need need) {
  const json* v = member(key, need);
  if (v == nullptr) return std::nullopt;
  if (!v->is_number_integer() ||
      (v->is_number_unsigned() && v->get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX))) {
    fail(key, "expected a 64-bit integer");
    return std::nullopt;
  }
  return v->get<std::int64_t>();
}

std::optional<bool> PayloadReader::boolean(std::string_view key, Need need) {
  const json* v = member(key, need);
  if (v == nullptr) return std::nullopt;
  if (!v->is_boolean()) {
    fail(key, "expected true or false");
    return std::nullopt;
  }
  return v->get<bool>();
}

namespace {

// The exact text of a decimal string or a JSON number.
std::optional<std::string> decimal_source(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  return number_text(v);
}

}  // namespace

std::optional<Quantity> PayloadReader::quantity(std::string_view key, Need need) {
  const json* v = member(key, need);
  if (v == nullptr) return std::nullopt;
  auto source = decimal_source(*v);
  if (!source) {
    fail(key, "expected a decimal string or a number (parsed exactly)");
    return std::nullopt;
  }
  auto q = Quantity::parse(*source);
  if (!q) {
    fail(key, q.error().message);
    return std::nullopt;
  }
  return *q;
}

std::optional<Money> PayloadReader::decimal_money(std::string_view key, Currency currency, Need need) {
  const json* v = member(key, need);
  if (v == nullptr) return std::nullopt;
  auto source = decimal_source(*v);
  if (!source) {
    fail(key, "expected a decimal amount (a string such as \"12.50\" or a number, parsed exactly)");
    return std::nullopt;
  }
  auto m = parse_decimal(*source, currency);
  if (!m) {
    fail(key, m.error().message);
    return std::nullopt;
  }
  return *m;
}

std::optional<Currency> PayloadReader::currency(std::string_view key, Need need) {
  auto code = text(key, need);
  if (!code) return std::nullopt;
  auto c = Currency::from_code(*code);
  if (!c) {
    fail(key, c.error().message);
    return std::nullopt;
  }
  return *c;
}

std::optional<model::Timestamp> PayloadReader::timestamp(std::string_view key, Need need) {
  auto s = text(key, need);
  if (!s) return std::nullopt;
  auto t = model::Timestamp::parse(*s);
  if (!t) {
    fail(key, t.error().message);
    return std::nullopt;
  }
  return *t;
}

PayloadReader PayloadReader::object(std::string_view key, Need need) {
  const json* v = member(key, need);
  if (v == nullptr) return PayloadReader(problems_);
  return PayloadReader(problems_, *v, path_of(key));
}

}  // namespace trueup::connectors
