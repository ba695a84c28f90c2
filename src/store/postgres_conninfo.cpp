#include "postgres_conninfo.hpp"

#include <algorithm>
#include <cctype>
#include <string>
#include <vector>

namespace trueup::store {
namespace {

bool is_url(std::string_view s) { return s.starts_with("postgresql://") || s.starts_with("postgres://"); }

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string percent_decode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && hex_value(s[i + 1]) >= 0 && hex_value(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2])));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

std::string percent_encode(std::string_view s) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kDigits[c >> 4]);
      out.push_back(kDigits[c & 0xf]);
    }
  }
  return out;
}

// The URL's parts that hold secrets: [begin, end) of the userinfo password
// and of each `password=` query value.
struct Span {
  std::size_t begin = 0, end = 0;
};

std::vector<Span> url_password_spans(std::string_view url) {
  std::vector<Span> spans;
  const auto scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return spans;
  const std::size_t authority = scheme_end + 3;
  // As libpq reads it: user info ends at the first '@' seen before any '/'.
  const auto at = url.find_first_of("@/", authority);
  if (at != std::string_view::npos && url[at] == '@') {
    const auto colon = url.find(':', authority);
    if (colon != std::string_view::npos && colon < at) spans.push_back({colon + 1, at});
  }
  const auto query = url.find('?', authority);
  if (query != std::string_view::npos) {
    std::size_t pos = query + 1;
    while (pos < url.size()) {
      std::size_t end = std::min(url.find_first_of("&#", pos), url.size());
      auto param = url.substr(pos, end - pos);
      if (param.starts_with("password=")) spans.push_back({pos + 9, end});
      pos = end + 1;
      if (end < url.size() && url[end] == '#') break;
    }
  }
  return spans;
}

// In "key = value" keyword strings: the value spans of `password`.
std::vector<Span> keyword_password_spans(std::string_view s) {
  std::vector<Span> spans;
  std::size_t i = 0;
  auto skip_space = [&] {
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  };
  while (i < s.size()) {
    skip_space();
    const std::size_t key_begin = i;
    while (i < s.size() && s[i] != '=' && !std::isspace(static_cast<unsigned char>(s[i]))) ++i;
    auto key = s.substr(key_begin, i - key_begin);
    skip_space();
    if (i >= s.size() || s[i] != '=') {
      if (i == key_begin) ++i;
      continue;
    }
    ++i;
    skip_space();
    Span value{i, i};
    if (i < s.size() && s[i] == '\'') {
      ++i;
      value.begin = i;
      while (i < s.size() && s[i] != '\'') i += (s[i] == '\\' && i + 1 < s.size()) ? 2 : 1;
      value.end = std::min(i, s.size());
      if (i < s.size()) ++i;
    } else {
      while (i < s.size() && !std::isspace(static_cast<unsigned char>(s[i])))
        i += (s[i] == '\\' && i + 1 < s.size()) ? 2 : 1;
      value.end = std::min(i, s.size());
    }
    if (key == "password") spans.push_back(value);
  }
  return spans;
}

std::string replace_spans(std::string_view s, const std::vector<Span>& spans) {
  std::string out;
  std::size_t pos = 0;
  for (const auto& span : spans) {
    out.append(s.substr(pos, span.begin - pos));
    out.append("***");
    pos = span.end;
  }
  out.append(s.substr(pos));
  return out;
}

bool has_param(std::string_view conninfo, std::string_view key) {
  if (is_url(conninfo)) {
    const auto query = conninfo.find('?');
    if (query == std::string_view::npos) return false;
    std::size_t pos = query + 1;
    while (pos < conninfo.size()) {
      std::size_t end = std::min(conninfo.find('&', pos), conninfo.size());
      auto param = conninfo.substr(pos, end - pos);
      if (param.starts_with(key) && param.size() > key.size() && param[key.size()] == '=') return true;
      pos = end + 1;
    }
    return false;
  }
  // Keyword form: good enough to look for "key=" or "key =" at a word start.
  for (std::size_t pos = conninfo.find(key); pos != std::string_view::npos; pos = conninfo.find(key, pos + 1)) {
    if (pos > 0 && !std::isspace(static_cast<unsigned char>(conninfo[pos - 1]))) continue;
    std::size_t i = pos + key.size();
    while (i < conninfo.size() && conninfo[i] == ' ') ++i;
    if (i < conninfo.size() && conninfo[i] == '=') return true;
  }
  return false;
}

void add_param(std::string& conninfo, std::string_view key, std::string_view value) {
  if (is_url(conninfo)) {
    conninfo += conninfo.find('?') == std::string::npos ? '?' : '&';
    conninfo += key;
    conninfo += '=';
    conninfo += percent_encode(value);
  } else {
    conninfo += ' ';
    conninfo += key;
    conninfo += "='";
    for (char c : value) {
      if (c == '\'' || c == '\\') conninfo += '\\';
      conninfo += c;
    }
    conninfo += '\'';
  }
}

bool valid_schema(std::string_view s) {
  if (s.empty() || s.size() > 63 || (s[0] >= '0' && s[0] <= '9')) return false;
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  return true;
}

}  // namespace

std::string redact_url(std::string_view url) {
  return replace_spans(url, is_url(url) ? url_password_spans(url) : keyword_password_spans(url));
}

namespace detail {

Result<Conninfo> make_conninfo(const PostgresSettings& settings) {
  if (settings.url.empty()) return make_error(Errc::invalid_argument, "store.postgres.url is empty");
  Conninfo info;
  info.conninfo = settings.url;
  info.redacted = redact_url(settings.url);
  const auto spans = is_url(settings.url) ? url_password_spans(settings.url) : keyword_password_spans(settings.url);
  if (!spans.empty()) {
    auto raw = std::string_view(settings.url).substr(spans.front().begin, spans.front().end - spans.front().begin);
    info.password = is_url(settings.url) ? percent_decode(raw) : std::string(raw);
  }

  if (!has_param(info.conninfo, "connect_timeout")) {
    // libpq takes whole seconds; round up so a short timeout is never zero (= forever).
    auto seconds = (settings.connect_timeout.count() + 999) / 1000;
    if (seconds < 1) seconds = 1;
    add_param(info.conninfo, "connect_timeout", std::to_string(seconds));
  }
  if (!has_param(info.conninfo, "application_name")) add_param(info.conninfo, "application_name", "trueup");
  if (!settings.schema.empty()) {
    if (!valid_schema(settings.schema))
      return make_error(Errc::invalid_argument,
                        "store.postgres.schema '" + settings.schema + "' must be lower-case letters, digits and '_'");
    if (has_param(info.conninfo, "options"))
      return make_error(Errc::invalid_argument,
                        "store.postgres.url sets `options` and store.postgres.schema is set; set "
                        "search_path in `options` yourself or drop `schema`");
    // A connection option, so it holds for every session on it from the start.
    add_param(info.conninfo, "options", "-c search_path=" + settings.schema);
  }
  return info;
}

std::string scrub(std::string text, const Conninfo& info) {
  // Short passwords would mangle ordinary words; libpq never echoes them anyway.
  if (info.password.size() < 3) return text;
  for (auto pos = text.find(info.password); pos != std::string::npos; pos = text.find(info.password, pos + 3))
    text.replace(pos, info.password.size(), "***");
  return text;
}

std::string one_line(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '\n' || c == '\t' || c == '\r') c = ' ';
    if (c == ' ' && (out.empty() || out.back() == ' ')) continue;
    out += c;
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

}  // namespace detail
}  // namespace trueup::store
