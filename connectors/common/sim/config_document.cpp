#include "common/sim/config_document.hpp"

#include <yaml-cpp/yaml.h>

#include <charconv>
#include <fstream>
#include <regex>
#include <sstream>

namespace trueup::connectors::sim {
namespace {

nlohmann::json scalar(const YAML::Node& node) {
  const std::string& text = node.Scalar();
  if (node.Tag() == "!") return text;  // quoted: always text
  if (text.empty() || text == "~" || text == "null" || text == "Null" || text == "NULL") return nullptr;
  if (text == "true" || text == "True") return true;
  if (text == "false" || text == "False") return false;
  const char* end = text.data() + text.size();
  if (text.front() == '-') {
    std::int64_t v = 0;
    auto r = std::from_chars(text.data(), end, v);
    if (r.ec == std::errc() && r.ptr == end) return v;
  } else {
    std::uint64_t v = 0;
    auto r = std::from_chars(text.data(), end, v);
    if (r.ec == std::errc() && r.ptr == end) return v;
  }
  static const std::regex number(R"(-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?)");
  if (std::regex_match(text, number)) return std::stod(text);
  return text;
}

nlohmann::json to_json(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      return nullptr;
    case YAML::NodeType::Scalar:
      return scalar(node);
    case YAML::NodeType::Sequence: {
      auto out = nlohmann::json::array();
      for (const auto& item : node) out.push_back(to_json(item));
      return out;
    }
    case YAML::NodeType::Map: {
      auto out = nlohmann::json::object();
      for (const auto& kv : node) out[kv.first.as<std::string>()] = to_json(kv.second);
      return out;
    }
  }
  return nullptr;
}

}  // namespace

Result<std::string> read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(Errc::not_found, path + ": cannot open the file");
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

Result<nlohmann::json> parse_config_text(const std::string& text, const std::string& name) {
  try {
    return to_json(YAML::Load(text));
  } catch (const YAML::Exception& e) {
    return make_error(Errc::invalid_argument, name + ":" + std::to_string(e.mark.line + 1) + ":" +
                                                  std::to_string(e.mark.column + 1) + ": " + e.msg);
  }
}

Result<nlohmann::json> load_config_file(const std::string& path) {
  auto text = read_text_file(path);
  if (!text) return text.error();
  return parse_config_text(*text, path);
}

Status for_each_seed_entry(const nlohmann::json& seed, const std::string& name,
                           const std::function<Status(const nlohmann::json&, const std::string&)>& load) {
  auto it = seed.find(name);
  if (it == seed.end()) return Ok{};
  if (!it->is_array()) return make_error(Errc::invalid_argument, "/" + name + ": expected an array");
  for (std::size_t i = 0; i < it->size(); ++i)
    if (auto st = load((*it)[i], "/" + name + "/" + std::to_string(i)); !st) return st;
  return Ok{};
}

}  // namespace trueup::connectors::sim
