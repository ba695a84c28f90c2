// docs/openapi.yaml describes exactly the routes the daemon serves.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>

#include "application.hpp"
#include "support/process.hpp"

namespace trueup::app {
namespace {

TEST(OpenApi, EveryServedRouteIsDescribedAndNothingElse) {
  auto dir = trueup::testing::make_temp_dir("trueup-openapi-");
  auto loaded = config::load_text(
      daemon_schema(),
      "http:\n  port: 0\napi:\n  allow_anonymous: true\nstore:\n  sqlite:\n    path: " + dir + "/t.db\n", "t.yaml");
  ASSERT_TRUE(loaded.config);
  auto settings = daemon_settings(*loaded.config);
  ASSERT_TRUE(settings.ok());
  Application app(std::move(settings).value());
  ASSERT_TRUE(app.start().ok());
  std::set<std::string> served;
  for (const auto& r : app.routes()) served.insert(r);
  app.stop();

  auto spec = nlohmann::json::parse(api::openapi_json());
  std::set<std::string> described;
  for (const auto& [path, item] : spec["paths"].items()) {
    for (const auto& [method, op] : item.items()) {
      std::string m = method;
      for (auto& c : m) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      if (m == "GET" || m == "POST" || m == "PUT" || m == "DELETE" || m == "PATCH") described.insert(m + " " + path);
    }
  }
  EXPECT_EQ(served, described);
}

}  // namespace
}  // namespace trueup::app
