#include "sql_support.hpp"

#include <charconv>
#include <cstdlib>

#include "trueup/core/digest.hpp"
#include "trueup/core/time.hpp"

namespace trueup::messaging::detail {

// Built with append(): GCC 12 reports a false -Wrestrict for
// `"literal" + std::string` chains when inlined at -O2/-O3.
namespace {
std::string param(int n) {
  std::string out("$");
  out.append(std::to_string(n));
  return out;
}
std::string wrap(std::string_view before, std::string_view middle, std::string_view after) {
  std::string out;
  out.reserve(before.size() + middle.size() + after.size());
  out.append(before).append(middle).append(after);
  return out;
}
}  // namespace

std::string Dialect::ts(int n) const { return postgres ? wrap("", param(n), "::timestamptz") : param(n); }

std::string Dialect::bytes_in(int n) const { return postgres ? wrap("decode(", param(n), ", 'hex')") : param(n); }

std::string Dialect::bytes_out(std::string_view column) const {
  return postgres ? wrap("encode(", column, ", 'hex')") : std::string(column);
}

std::string Dialect::epoch(std::string_view column) const {
  return postgres ? wrap("EXTRACT(EPOCH FROM ", column, ")")
                  : wrap("((julianday(", column, ") - 2440587.5) * 86400.0)");
}

std::string Dialect::in_list(std::string_view column, int n) const {
  std::string out(column);
  if (postgres)
    out.append(" = ANY(").append(param(n)).append("::bigint[])");
  else
    out.append(" IN (SELECT value FROM json_each(").append(param(n)).append("))");
  return out;
}

store::Param Dialect::bytes_param(std::string_view raw) const { return postgres ? hex_encode(raw) : std::string(raw); }

Result<std::string> Dialect::bytes_value(const std::optional<std::string>& v) const {
  if (!v) return std::string();
  if (!postgres) return *v;
  auto raw = hex_decode(*v);
  if (!raw) return make_error(Errc::internal, "bytes column is not hex");
  return std::move(*raw);
}

std::string Dialect::int_list(const std::vector<std::int64_t>& values) const {
  std::string out = postgres ? "{" : "[";
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i) out += ',';
    out += std::to_string(values[i]);
  }
  out += postgres ? "}" : "]";
  return out;
}

Dialect dialect_of(const store::Store& store) { return Dialect{store.engine() == "postgres"}; }

std::string timestamp(std::chrono::system_clock::time_point t) { return format_utc(t, 6); }

std::string sha256_hex(std::string_view data) { return trueup::sha256_hex(data); }

std::string hex_encode(std::string_view raw) { return trueup::hex_encode(raw); }

std::optional<std::string> hex_decode(std::string_view hex) {
  if (hex.starts_with("\\x")) hex.remove_prefix(2);  // bytea_output=hex without encode()
  if (hex.size() % 2) return std::nullopt;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.resize(hex.size() / 2);
  for (std::size_t i = 0; i < out.size(); ++i) {
    const int hi = nibble(hex[2 * i]);
    const int lo = nibble(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out[i] = static_cast<char>((hi << 4) | lo);
  }
  return out;
}

std::optional<std::int64_t> to_int(const std::optional<std::string>& v) {
  if (!v) return std::nullopt;
  std::int64_t out = 0;
  auto [p, ec] = std::from_chars(v->data(), v->data() + v->size(), out);
  if (ec != std::errc() || p != v->data() + v->size()) return std::nullopt;
  return out;
}

std::optional<double> to_double(const std::optional<std::string>& v) {
  if (!v) return std::nullopt;
  char* end = nullptr;
  const double d = std::strtod(v->c_str(), &end);
  if (end == v->c_str()) return std::nullopt;
  return d;
}

}  // namespace trueup::messaging::detail
