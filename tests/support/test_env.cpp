#include "support/test_env.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>

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

std::string unique_name(const std::string& prefix) {
  static std::atomic<int> counter{0};
  auto now = std::chrono::steady_clock::now().time_since_epoch().count();
  return prefix + "_" + std::to_string(::getpid()) + "_" + std::to_string(now % 1000000007) + "_" +
         std::to_string(counter++);
}

}  // namespace trueup::testing
