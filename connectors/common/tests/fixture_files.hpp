#pragma once
// Test helpers: the official fixtures in ../shared/fixtures (never copied into
// the project) and an in-memory IdResolver.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <utility>

#include "common/id_resolver.hpp"
#include "support/test_env.hpp"

namespace trueup::connectors::testing {

// <fixtures>/<relative> (trueup::testing::fixtures_dir(): the checkout's ../shared/fixtures)
inline std::filesystem::path fixture_path(const std::string& relative) {
  return std::filesystem::path(trueup::testing::fixtures_dir()) / relative;
}

inline std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot read " << path;
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

inline std::string read_fixture(const std::string& relative) { return read_file(fixture_path(relative)); }

// Answers from a map of (entity, external id); `fallback`, when set, maps
// every other id to fallback(entity, id).
class MapResolver : public IdResolver {
 public:
  using Fallback = std::string (*)(std::string_view entity, std::string_view external_id);
  explicit MapResolver(Fallback fallback = nullptr) : fallback_(fallback) {}
  void add(std::string entity, std::string external_id, std::string canonical) {
    map_[{std::move(entity), std::move(external_id)}] = std::move(canonical);
  }
  std::optional<std::string> lookup(std::string_view entity, std::string_view external_id) const override {
    auto it = map_.find({std::string(entity), std::string(external_id)});
    if (it != map_.end()) return it->second;
    if (fallback_ != nullptr) return fallback_(entity, external_id);
    return std::nullopt;
  }

 private:
  std::map<std::pair<std::string, std::string>, std::string> map_;
  Fallback fallback_;
};

// Maps every id: locations to "LOC-<id>" (made a valid code), everything
// else to "SKU-<id>".
inline std::string map_everything(std::string_view entity, std::string_view external_id) {
  std::string out = entity == "location" ? "LOC-" : "SKU-";
  for (char c : external_id) {
    const bool plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                       c == '_' || c == '.' || c == ':';
    out += plain || entity != "location" ? c : '_';
  }
  return out;
}

// How a contract test records a rejection: the decoder's message, or the
// mapping error's kind and message.
inline std::string reason_of(const Error& e) { return e.message; }
inline std::string reason_of(const MappingError& e) { return std::string(to_string(e.kind)) + ": " + e.message; }

}  // namespace trueup::connectors::testing
