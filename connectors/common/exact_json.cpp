#include "common/exact_json.hpp"

#include <utility>
#include <vector>

namespace trueup::connectors {
namespace {

using nlohmann::json;

// Builds the DOM like nlohmann's own SAX DOM parser, except that floats keep
// their text.
class ExactDomBuilder {
 public:
  explicit ExactDomBuilder(json& root) : root_(root) {}

  bool null() { return put(json(nullptr)); }
  bool boolean(bool v) { return put(json(v)); }
  bool number_integer(json::number_integer_t v) { return put(json(v)); }
  bool number_unsigned(json::number_unsigned_t v) { return put(json(v)); }
  bool number_float(json::number_float_t, const std::string& text) { return put(decimal_text(text)); }
  bool string(std::string& v) { return put(json(std::move(v))); }
  bool binary(json::binary_t& v) { return put(json::binary(std::move(v))); }
  bool start_object(std::size_t) {
    json* made = place(json::object());
    stack_.push_back(made);
    return true;
  }
  bool key(std::string& k) {
    key_ = std::move(k);
    return true;
  }
  bool end_object() {
    stack_.pop_back();
    return true;
  }
  bool start_array(std::size_t) {
    json* made = place(json::array());
    stack_.push_back(made);
    return true;
  }
  bool end_array() {
    stack_.pop_back();
    return true;
  }
  bool parse_error(std::size_t position, const std::string&, const nlohmann::detail::exception& e) {
    error_ = "malformed JSON at byte " + std::to_string(position) + ": " + e.what();
    return false;
  }

  const std::string& error() const { return error_; }

 private:
  bool put(json v) {
    place(std::move(v));
    return true;
  }
  json* place(json v) {
    if (stack_.empty()) {
      root_ = std::move(v);
      return &root_;
    }
    json& parent = *stack_.back();
    if (parent.is_array()) {
      parent.push_back(std::move(v));
      return &parent.back();
    }
    json& slot = parent[key_];
    slot = std::move(v);
    return &slot;
  }

  json& root_;
  std::vector<json*> stack_;
  std::string key_;
  std::string error_;
};

void dump_into(const json& j, std::string& out) {
  if (is_decimal_text(j)) {
    const auto& bytes = j.get_binary();
    out.append(bytes.begin(), bytes.end());
  } else if (j.is_object()) {
    out += '{';
    bool first = true;
    for (auto it = j.begin(); it != j.end(); ++it) {
      if (!first) out += ',';
      first = false;
      out += json(it.key()).dump();
      out += ':';
      dump_into(it.value(), out);
    }
    out += '}';
  } else if (j.is_array()) {
    out += '[';
    for (std::size_t i = 0; i < j.size(); ++i) {
      if (i > 0) out += ',';
      dump_into(j[i], out);
    }
    out += ']';
  } else {
    out += j.dump();
  }
}

}  // namespace

Result<json> parse_exact(std::string_view text) {
  json root;
  ExactDomBuilder builder(root);
  if (!json::sax_parse(text, &builder)) {
    return make_error(Errc::invalid_argument, builder.error().empty() ? "malformed JSON" : builder.error());
  }
  return root;
}

json decimal_text(std::string_view number_text) {
  return json::binary(json::binary_t::container_type(number_text.begin(), number_text.end()), kDecimalTextSubtype);
}

bool is_decimal_text(const json& j) noexcept {
  return j.is_binary() && j.get_binary().has_subtype() && j.get_binary().subtype() == kDecimalTextSubtype;
}

std::optional<std::string> number_text(const json& j) {
  if (j.is_number_unsigned()) return std::to_string(j.get<std::uint64_t>());
  if (j.is_number_integer()) return std::to_string(j.get<std::int64_t>());
  if (is_decimal_text(j)) {
    const auto& bytes = j.get_binary();
    return std::string(bytes.begin(), bytes.end());
  }
  return std::nullopt;
}

std::string dump_exact(const json& j) {
  std::string out;
  dump_into(j, out);
  return out;
}

}  // namespace trueup::connectors
