#include "trueup/config/schema.hpp"

#include "trueup/log/log.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace trueup::config {
namespace {

using nlohmann::json;

Key make_key(std::string name, Type type, std::string description) {
  Key k;
  k.name = std::move(name);
  k.type = type;
  k.description = std::move(description);
  return k;
}

std::string join_path(const std::string& parent, std::string_view name) {
  return parent.empty() ? std::string(name) : parent + "." + std::string(name);
}

// Levenshtein distance, for "did you mean" hints on unknown keys.
std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::optional<std::int64_t> parse_int(std::string_view s) {
  std::int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

class Validator {
 public:
  Validator(std::string file, std::vector<Diagnostic>& diags, std::vector<std::string>& secrets)
      : file_(std::move(file)), diags_(diags), secrets_(secrets) {}

  void section(const Key& schema, const YAML::Node& node, const std::string& path, json& out) {
    out = json::object();
    if (!node.IsDefined() || node.IsNull()) {
      missing_required(schema, node, path);
      return;
    }
    if (!node.IsMap()) {
      report(node, path.empty() ? "(top level)" : path, "expected a mapping of keys");
      return;
    }
    json written = json::object();  // keys present in the file, valid or not
    for (const auto& item : node) {
      const std::string name = item.first.IsScalar() ? item.first.Scalar() : std::string("?");
      if (written.contains(name)) {
        report(item.first, join_path(path, name), "key given twice");
        continue;
      }
      written[name] = true;
      auto it =
          std::find_if(schema.children.begin(), schema.children.end(), [&](const Key& k) { return k.name == name; });
      const std::string key_path = join_path(path, name);
      if (it == schema.children.end()) {
        report(item.first, key_path, "unknown key" + suggestion(schema, name));
        continue;
      }
      json v;
      if (value(*it, item.second, key_path, v)) out[name] = std::move(v);
    }
    missing_required(schema, node, path, &written);
  }

 private:
  void missing_required(const Key& schema, const YAML::Node& node, const std::string& path,
                        const json* present = nullptr) {
    for (const auto& child : schema.children) {
      if (child.required && (present == nullptr || !present->contains(child.name))) {
        report(node, join_path(path, child.name), "required key is missing (" + child.description + ")");
      }
    }
  }

  std::string suggestion(const Key& schema, const std::string& name) {
    const Key* best = nullptr;
    std::size_t best_d = 3;
    for (const auto& k : schema.children) {
      auto d = edit_distance(name, k.name);
      if (d < best_d) {
        best_d = d;
        best = &k;
      }
    }
    std::string known;
    for (const auto& k : schema.children) known += (known.empty() ? "" : ", ") + k.name;
    if (best != nullptr) return "; did you mean '" + best->name + "'?";
    return "; expected one of: " + known;
  }

  void report(const YAML::Node& node, const std::string& path, std::string message) {
    Diagnostic d;
    d.file = file_;
    if (node.IsDefined()) {
      auto m = node.Mark();
      if (!m.is_null()) {
        d.line = m.line + 1;
        d.column = m.column + 1;
      }
    }
    d.path = path;
    d.message = std::move(message);
    diags_.push_back(std::move(d));
  }

  // Expands ${VAR} and ${VAR:-default}. `from_env` tells whether any part came
  // from the environment.
  std::optional<std::string> expand(const YAML::Node& node, const std::string& path, const std::string& in,
                                    bool& from_env) {
    std::string out;
    std::size_t i = 0;
    while (i < in.size()) {
      auto start = in.find("${", i);
      if (start == std::string::npos) {
        out.append(in, i, std::string::npos);
        break;
      }
      out.append(in, i, start - i);
      auto end = in.find('}', start);
      if (end == std::string::npos) {
        report(node, path, "unterminated ${ in value");
        return std::nullopt;
      }
      std::string expr = in.substr(start + 2, end - start - 2);
      std::string name = expr, fallback;
      bool has_fallback = false;
      if (auto p = expr.find(":-"); p != std::string::npos) {
        name = expr.substr(0, p);
        fallback = expr.substr(p + 2);
        has_fallback = true;
      }
      const char* v = std::getenv(name.c_str());
      if (v != nullptr && *v != '\0') {
        out += v;
        from_env = true;
      } else if (has_fallback) {
        out += fallback;
      } else {
        report(node, path, "environment variable " + name + " is not set");
        return std::nullopt;
      }
      i = end + 1;
    }
    return out;
  }

  // Resolves a secret-capable scalar: file:/path reads the file; ${ENV} expands.
  std::optional<std::string> resolve_reference(const YAML::Node& node, const std::string& path, const std::string& raw,
                                               bool& referenced) {
    if (raw.rfind("file:", 0) == 0) {
      referenced = true;
      std::string file_path = raw.substr(5);
      std::ifstream f(file_path, std::ios::binary);
      if (!f) {
        report(node, path, "cannot read secret file " + file_path);
        return std::nullopt;
      }
      std::stringstream ss;
      ss << f.rdbuf();
      std::string content = ss.str();
      while (!content.empty() && (content.back() == '\n' || content.back() == '\r')) content.pop_back();
      return content;
    }
    return expand(node, path, raw, referenced);
  }

  bool scalar(const YAML::Node& node, const std::string& path, std::string& out) {
    if (!node.IsScalar()) {
      report(node, path, node.IsNull() ? "a value is required here" : "expected a single value, not a list or mapping");
      return false;
    }
    out = node.Scalar();
    return true;
  }

  bool bounds(const Key& key, const YAML::Node& node, const std::string& path, std::int64_t v,
              const std::string& unit) {
    if (key.min && v < *key.min) {
      report(node, path,
             "must be at least " + std::to_string(*key.min) + unit + " (got " + std::to_string(v) + unit + ")");
      return false;
    }
    if (key.max && v > *key.max) {
      report(node, path,
             "must be at most " + std::to_string(*key.max) + unit + " (got " + std::to_string(v) + unit + ")");
      return false;
    }
    return true;
  }

 public:
  bool value(const Key& key, const YAML::Node& node, const std::string& path, json& out) {
    std::string raw;
    bool from_env = false;
    switch (key.type) {
      case Type::section:
        section(key, node, path, out);
        return true;
      case Type::section_list: {
        if (node.IsNull()) {
          out = json::array();
          return true;
        }
        if (!node.IsSequence()) {
          report(node, path, "expected a list");
          return false;
        }
        out = json::array();
        for (std::size_t i = 0; i < node.size(); ++i) {
          json item;
          section(key, node[i], path + "[" + std::to_string(i) + "]", item);
          out.push_back(std::move(item));
        }
        return true;
      }
      case Type::string_list: {
        if (!node.IsSequence()) {
          report(node, path, "expected a list of values");
          return false;
        }
        out = json::array();
        for (std::size_t i = 0; i < node.size(); ++i) {
          std::string s;
          std::string item_path = path + "[" + std::to_string(i) + "]";
          if (!scalar(node[i], item_path, s)) continue;
          bool env = false;
          if (auto e = expand(node[i], item_path, s, env)) out.push_back(*e);
        }
        return true;
      }
      case Type::string_map: {
        if (node.IsNull()) {
          out = json::object();
          return true;
        }
        if (!node.IsMap()) {
          report(node, path, "expected a mapping of names to values");
          return false;
        }
        out = json::object();
        for (const auto& item : node) {
          std::string name = item.first.Scalar();
          std::string s;
          std::string item_path = path + "." + name;
          if (!scalar(item.second, item_path, s)) continue;
          bool referenced = false;
          if (auto e = resolve_reference(item.second, item_path, s, referenced)) {
            // Values taken from the environment or files may be credentials.
            if (referenced) secrets_.push_back(*e);
            out[name] = *e;
          }
        }
        return true;
      }
      case Type::secret: {
        if (!scalar(node, path, raw)) return false;
        bool referenced = false;
        auto e = resolve_reference(node, path, raw, referenced);
        if (!e) return false;
        if (!referenced) {
          report(node, path, "secrets must not be written in the file: use ${ENV_VAR} or file:/path/to/secret");
          return false;
        }
        secrets_.push_back(*e);
        out = *e;
        return true;
      }
      default:
        break;
    }
    if (!scalar(node, path, raw)) return false;
    auto expanded = expand(node, path, raw, from_env);
    if (!expanded) return false;
    return convert(key, *expanded, node, path, out);
  }

  bool convert(const Key& key, const std::string& text, const YAML::Node& node, const std::string& path, json& out) {
    switch (key.type) {
      case Type::string:
        out = text;
        return true;
      case Type::integer: {
        auto v = parse_int(text);
        if (!v) {
          report(node, path, "expected an integer (got '" + text + "')");
          return false;
        }
        if (!bounds(key, node, path, *v, "")) return false;
        out = *v;
        return true;
      }
      case Type::boolean:
        if (text == "true" || text == "false") {
          out = text == "true";
          return true;
        }
        report(node, path, "expected true or false (got '" + text + "')");
        return false;
      case Type::duration: {
        auto d = parse_duration(text);
        if (!d) {
          report(node, path, "expected a duration such as 250ms, 10s, 5m or 1h (got '" + text + "')");
          return false;
        }
        if (!bounds(key, node, path, d->count(), "ms")) return false;
        out = d->count();
        return true;
      }
      case Type::choice:
        if (std::find(key.choices.begin(), key.choices.end(), text) == key.choices.end()) {
          std::string list;
          for (const auto& c : key.choices) list += (list.empty() ? "" : ", ") + c;
          report(node, path, "expected one of " + list + " (got '" + text + "')");
          return false;
        }
        out = text;
        return true;
      default:
        report(node, path, "internal: unexpected scalar type");
        return false;
    }
  }

 private:
  std::string file_;
  std::vector<Diagnostic>& diags_;
  std::vector<std::string>& secrets_;
};

// The typed value of a key's default, or null when it has none.
json default_json(const Key& key) {
  if (!key.default_value) {
    if (key.type == Type::section) return json::object();
    if (key.type == Type::section_list || key.type == Type::string_list) return json::array();
    if (key.type == Type::string_map) return json::object();
    return nullptr;
  }
  std::vector<Diagnostic> diags;
  std::vector<std::string> secrets;
  Validator v("<schema>", diags, secrets);
  json out;
  YAML::Node node(*key.default_value);
  if (key.type == Type::string_list || key.type == Type::string_map) node = YAML::Load(*key.default_value);
  if (!v.value(key, node, key.name, out) || !diags.empty()) {
    throw std::logic_error("schema default for " + key.name + " does not validate: " + *key.default_value);
  }
  return out;
}

void collect_paths(const Key& key, const std::string& prefix, std::vector<std::string>& out) {
  for (const auto& c : key.children) {
    std::string p = join_path(prefix, c.name);
    out.push_back(p);
    if (c.type == Type::section) collect_paths(c, p, out);
    if (c.type == Type::section_list) collect_paths(c, p + "[]", out);
  }
}

std::string default_text(const Key& k) {
  if (k.required) return "required";
  if (k.default_value) return "`" + *k.default_value + "`";
  if (k.type == Type::section || k.type == Type::section_list) return "";
  return "not set";
}

std::string bounds_text(const Key& k) {
  std::string unit = k.type == Type::duration ? " ms" : "";
  std::string s;
  if (k.min) s += "≥ " + std::to_string(*k.min) + unit;
  if (k.max) s += std::string(s.empty() ? "" : ", ") + "≤ " + std::to_string(*k.max) + unit;
  if (!k.choices.empty()) {
    for (const auto& c : k.choices) s += std::string(s.empty() ? "" : ", ") + "`" + c + "`";
  }
  return s;
}

void reference_section(const Key& key, const std::string& prefix, std::string& out) {
  std::vector<const Key*> subsections;
  if (!key.children.empty()) {
    out += "| key | type | default | allowed | description |\n|---|---|---|---|---|\n";
    for (const auto& c : key.children) {
      std::string p = join_path(prefix, c.name);
      if (c.type == Type::section || c.type == Type::section_list) subsections.push_back(&c);
      out += "| `" + p + "` | " + std::string(type_name(c.type)) + " | " + default_text(c) + " | " + bounds_text(c) +
             " | " + c.description + " |\n";
    }
    out += "\n";
  }
  for (const Key* s : subsections) {
    std::string p = join_path(prefix, s->name) + (s->type == Type::section_list ? "[]" : "");
    out += "### `" + p + "`\n\n" + s->description + "\n\n";
    reference_section(*s, p, out);
  }
}

void fill_effective(const Key& schema, const json& present, json& out, bool mask_secrets) {
  out = json::object();
  for (const auto& c : schema.children) {
    auto it = present.find(c.name);
    if (c.type == Type::section) {
      if (it != present.end()) fill_effective(c, *it, out[c.name], mask_secrets);
      continue;
    }
    if (c.type == Type::section_list) {
      if (it == present.end()) continue;
      auto& arr = out[c.name] = json::array();
      for (const auto& item : *it) {
        json e;
        fill_effective(c, item, e, mask_secrets);
        arr.push_back(std::move(e));
      }
      continue;
    }
    json v = it != present.end() ? *it : c.parsed_default;
    if (v.is_null()) continue;
    if (mask_secrets && c.type == Type::secret) v = "[REDACTED]";
    if (mask_secrets && c.type == Type::string_map && it != present.end()) v = *it;  // literal-only values shown
    out[c.name] = std::move(v);
  }
}

const json& empty_object() {
  static const json e = json::object();
  return e;
}

}  // namespace

std::string_view type_name(Type t) {
  switch (t) {
    case Type::string:
      return "string";
    case Type::secret:
      return "secret";
    case Type::integer:
      return "integer";
    case Type::boolean:
      return "boolean";
    case Type::duration:
      return "duration";
    case Type::choice:
      return "choice";
    case Type::string_map:
      return "map";
    case Type::string_list:
      return "list";
    case Type::section:
      return "section";
    case Type::section_list:
      return "list of sections";
  }
  return "?";
}

Key section(std::string name, std::string description, std::vector<Key> children) {
  Key k = make_key(std::move(name), Type::section, std::move(description));
  k.children = std::move(children);
  return k;
}

Key section_list(std::string name, std::string description, std::vector<Key> children) {
  Key k = make_key(std::move(name), Type::section_list, std::move(description));
  k.children = std::move(children);
  return k;
}

Key required(std::string name, Type type, std::string description) {
  Key k = make_key(std::move(name), type, std::move(description));
  k.required = true;
  return k;
}

Key optional(std::string name, Type type, std::string description) {
  return make_key(std::move(name), type, std::move(description));
}

Key with_default(std::string name, Type type, std::string default_value, std::string description) {
  Key k = make_key(std::move(name), type, std::move(description));
  k.default_value = std::move(default_value);
  return k;
}

Key bounded(Key key, std::optional<std::int64_t> min, std::optional<std::int64_t> max) {
  key.min = min;
  key.max = max;
  return key;
}

Key choice(std::string name, std::vector<std::string> choices, std::string default_value, std::string description) {
  Key k = make_key(std::move(name), Type::choice, std::move(description));
  k.choices = std::move(choices);
  k.default_value = std::move(default_value);
  return k;
}

std::string Diagnostic::format() const {
  std::string s = file;
  if (line > 0) s += ":" + std::to_string(line) + ":" + std::to_string(column);
  s += ": ";
  if (!path.empty()) s += path + ": ";
  return s + message;
}

std::optional<std::chrono::milliseconds> parse_duration(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9') ++i;
  if (i == 0) return std::nullopt;
  auto n = parse_int(text.substr(0, i));
  if (!n) return std::nullopt;
  auto unit = text.substr(i);
  std::int64_t factor = 0;
  if (unit == "ms")
    factor = 1;
  else if (unit == "s")
    factor = 1000;
  else if (unit == "m")
    factor = 60'000;
  else if (unit == "h")
    factor = 3'600'000;
  else if (unit == "d")
    factor = 86'400'000;
  else
    return std::nullopt;
  if (*n > INT64_MAX / factor) return std::nullopt;
  return std::chrono::milliseconds(*n * factor);
}

Section::Section(const Key* schema, const nlohmann::json* values, std::string path)
    : schema_(schema), values_(values != nullptr ? values : &empty_object()), path_(std::move(path)) {}

const Key& Section::key(std::string_view name) const {
  for (const auto& k : schema_->children)
    if (k.name == name) return k;
  throw std::logic_error("config key " + join_path(path_, name) + " is not declared in the schema");
}

bool Section::has(std::string_view name) const {
  const Key& k = key(name);
  return values_->contains(std::string(name)) || k.default_value.has_value();
}

bool Section::present(std::string_view name) const {
  (void)key(name);
  return values_->contains(std::string(name));
}

const json& Section::value(std::string_view name, Type expected) const {
  const Key& k = key(name);
  if (k.type != expected)
    throw std::logic_error("config key " + join_path(path_, name) + " is a " + std::string(type_name(k.type)));
  auto it = values_->find(std::string(name));
  if (it != values_->end()) return *it;
  // Defaults are computed once per key and kept with the schema's lifetime.
  if (k.parsed_default.is_null())
    throw std::logic_error("config key " + join_path(path_, name) +
                           " is not set and has no default; check has() first");
  return k.parsed_default;
}

std::string Section::string(std::string_view name) const {
  const Key& k = key(name);
  Type t = k.type == Type::secret || k.type == Type::choice ? k.type : Type::string;
  return value(name, t).get<std::string>();
}
std::int64_t Section::integer(std::string_view name) const { return value(name, Type::integer).get<std::int64_t>(); }
bool Section::boolean(std::string_view name) const { return value(name, Type::boolean).get<bool>(); }
std::chrono::milliseconds Section::duration(std::string_view name) const {
  return std::chrono::milliseconds(value(name, Type::duration).get<std::int64_t>());
}
std::map<std::string, std::string> Section::string_map(std::string_view name) const {
  return value(name, Type::string_map).get<std::map<std::string, std::string>>();
}
std::vector<std::string> Section::string_list(std::string_view name) const {
  return value(name, Type::string_list).get<std::vector<std::string>>();
}
Section Section::section(std::string_view name) const {
  const Key& k = key(name);
  if (k.type != Type::section) throw std::logic_error("config key " + join_path(path_, name) + " is not a section");
  auto it = values_->find(std::string(name));
  return Section(&k, it != values_->end() ? &*it : nullptr, join_path(path_, name));
}
std::vector<Section> Section::sections(std::string_view name) const {
  const Key& k = key(name);
  if (k.type != Type::section_list) throw std::logic_error("config key " + join_path(path_, name) + " is not a list");
  std::vector<Section> out;
  auto it = values_->find(std::string(name));
  if (it == values_->end()) return out;
  for (std::size_t i = 0; i < it->size(); ++i)
    out.emplace_back(&k, &(*it)[i], join_path(path_, name) + "[" + std::to_string(i) + "]");
  return out;
}

Schema::Schema(std::vector<Key> top_level) : root_(section("", "", std::move(top_level))) {
  // Parse every default once, now: a broken default is a programming error.
  std::function<void(Key&)> parse = [&](Key& k) {
    for (auto& c : k.children) {
      if (c.type != Type::section && c.type != Type::section_list) c.parsed_default = default_json(c);
      parse(c);
    }
  };
  parse(root_);
}

std::vector<std::string> Schema::key_paths() const {
  std::vector<std::string> out;
  collect_paths(root_, "", out);
  return out;
}

std::string Schema::reference_markdown() const {
  std::string out;
  reference_section(root_, "", out);
  return out;
}

Config::Config(std::shared_ptr<const Schema> schema, nlohmann::json values, std::vector<std::string> secrets,
               std::string source)
    : schema_(std::move(schema)),
      values_(std::move(values)),
      secrets_(std::move(secrets)),
      source_(std::move(source)) {}

nlohmann::json Config::redacted() const {
  json out;
  fill_effective(schema_->root(), values_, out, true);
  std::string text = out.dump();
  // Map values and strings may embed secrets (e.g. ${ENV} inside a URL):
  // masked the way log lines are.
  log::Redactor redactor;
  for (const auto& secret : secrets_) redactor.add(secret);
  redactor.apply(text);
  return json::parse(text);
}

LoadResult load_text(std::shared_ptr<const Schema> schema, const std::string& yaml, const std::string& file) {
  LoadResult result;
  YAML::Node doc;
  try {
    doc = YAML::Load(yaml);
  } catch (const YAML::ParserException& e) {
    Diagnostic d;
    d.file = file;
    d.line = e.mark.line + 1;
    d.column = e.mark.column + 1;
    d.message = "YAML syntax error: " + e.msg;
    result.diagnostics.push_back(std::move(d));
    return result;
  }
  std::vector<std::string> secrets;
  json values;
  Validator v(file, result.diagnostics, secrets);
  v.section(schema->root(), doc, "", values);
  if (result.diagnostics.empty()) result.config.emplace(std::move(schema), std::move(values), std::move(secrets), file);
  return result;
}

LoadResult load_file(std::shared_ptr<const Schema> schema, const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) {
    LoadResult r;
    r.diagnostics.push_back(Diagnostic{path, 0, 0, "", "cannot open the configuration file"});
    return r;
  }
  std::stringstream ss;
  ss << f.rdbuf();
  return load_text(std::move(schema), ss.str(), path);
}

}  // namespace trueup::config
