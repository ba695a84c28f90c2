#include "support/test_env.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>

namespace trueup::testing {
namespace {
std::string env_or_fail(const char* name, const char* hint) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') {
    ADD_FAILURE() << name << " is not set: " << hint;
    return {};
  }
  return v;
}
}  // namespace

std::string require_pg_url() {
  return env_or_fail("TRUEUP_TEST_PG_URL", "start PostgreSQL with scripts/pg-up or run `make test`");
}

std::string require_kafka() {
  return env_or_fail("TRUEUP_TEST_KAFKA", "start Kafka with scripts/kafka-up or run `make test`");
}

std::string trueup_binary() { return env_or_fail("TRUEUP_BINARY", "run the test through ctest"); }

std::string source_dir() { return env_or_fail("TRUEUP_SOURCE_DIR", "run the test through ctest"); }

std::string fixtures_dir() {
  if (const char* dir = std::getenv("TRUEUP_FIXTURES_DIR"); dir != nullptr && *dir != '\0') return dir;
  const std::filesystem::path source = std::filesystem::absolute(source_dir());
  for (auto dir = source.parent_path(); !dir.empty(); dir = dir.parent_path()) {
    if (std::filesystem::is_directory(dir / "shared" / "fixtures")) return (dir / "shared" / "fixtures").string();
    if (dir == dir.root_path()) break;
  }
  ADD_FAILURE() << "no shared/fixtures beside " << source.string()
                << " or its parents: set TRUEUP_FIXTURES_DIR to the official fixtures";
  return (source.parent_path() / "shared" / "fixtures").string();
}

std::string unique_name(const std::string& prefix) {
  static std::atomic<int> counter{0};
  auto now = std::chrono::steady_clock::now().time_since_epoch().count();
  return prefix + "_" + std::to_string(::getpid()) + "_" + std::to_string(now % 1000000007) + "_" +
         std::to_string(counter++);
}

}  // namespace trueup::testing
