#pragma once
// For connector tests: the crosswalk of one system in memory, both as the
// connector's ExternalIds and as the mapping's IdResolver. Every call checks
// that it names `system`; learn() also records "entity/external=canonical"
// in `learned`.

#include <gtest/gtest.h>

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/id_resolver.hpp"
#include "trueup/connector/connector.hpp"

namespace trueup::connectors::testing {

class MemoryIds final : public connector::ExternalIds, public IdResolver {
 public:
  explicit MemoryIds(std::string system) : system_(std::move(system)) {}

  void add(const std::string& entity, const std::string& external, const std::string& canonical) {
    std::lock_guard lock(mu_);
    map_[{entity, external}] = canonical;
  }
  Result<std::optional<std::string>> external_id(std::string_view system, std::string_view entity,
                                                 std::string_view canonical_id) override {
    EXPECT_EQ(system, system_);
    std::lock_guard lock(mu_);
    for (const auto& [key, value] : map_)
      if (key.first == entity && value == canonical_id) return std::optional<std::string>(key.second);
    return std::optional<std::string>();
  }
  Result<std::optional<std::string>> canonical_id(std::string_view system, std::string_view entity,
                                                  std::string_view external_id) override {
    EXPECT_EQ(system, system_);
    return lookup(entity, external_id);
  }
  Status learn(std::string_view system, std::string_view entity, std::string_view external_id,
               std::string_view canonical_id) override {
    EXPECT_EQ(system, system_);
    add(std::string(entity), std::string(external_id), std::string(canonical_id));
    std::lock_guard lock(mu_);
    learned.push_back(std::string(entity) + "/" + std::string(external_id) + "=" + std::string(canonical_id));
    return Ok{};
  }
  std::optional<std::string> lookup(std::string_view entity, std::string_view external_id) const override {
    std::lock_guard lock(mu_);
    auto it = map_.find({std::string(entity), std::string(external_id)});
    if (it == map_.end()) return std::nullopt;
    return it->second;
  }

  std::vector<std::string> learned;

 private:
  const std::string system_;
  mutable std::mutex mu_;
  std::map<std::pair<std::string, std::string>, std::string> map_;  // (entity, external) -> canonical
};

}  // namespace trueup::connectors::testing
