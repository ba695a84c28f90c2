// docs/configuration.md documents every key the daemon's schema declares, and
// the embedded `trueup dev` configuration validates.
#include <gtest/gtest.h>

#include "daemon_config.hpp"
#include "support/process.hpp"
#include "support/test_env.hpp"

namespace trueup::app {
namespace {

TEST(ConfigReference, EveryKeyIsDocumented) {
  const std::string doc = trueup::testing::read_file(trueup::testing::source_dir() + "/docs/configuration.md");
  ASSERT_FALSE(doc.empty());
  auto paths = daemon_schema()->key_paths();
  ASSERT_GT(paths.size(), 30u);
  for (const auto& p : paths)
    EXPECT_NE(doc.find("`" + p + "`"), std::string::npos) << p << " is not in docs/configuration.md";
}

TEST(ConfigReference, DevConfigurationValidates) {
  auto r = config::load_text(daemon_schema(), dev_config_yaml(), "<trueup dev>");
  ASSERT_TRUE(r.config) << (r.diagnostics.empty() ? "" : r.diagnostics[0].format());
  auto s = daemon_settings(*r.config);
  ASSERT_TRUE(s.ok());
  EXPECT_FALSE(s->postgres);
  EXPECT_FALSE(s->kafka);
  EXPECT_EQ(s->topics.front().name, kSystemTopic);
}

TEST(ConfigReference, PostgresSettingsAreRead) {
  ::setenv("TRUEUP_TEST_URL", "postgresql://u:p@h/d", 1);
  auto r = config::load_text(daemon_schema(),
                             "store:\n  postgres:\n    url: ${TRUEUP_TEST_URL}\n    pool_size: 6\n"
                             "    prepared_statements: false\n    yield_above: 15ms\n",
                             "t.yaml");
  ASSERT_TRUE(r.config) << (r.diagnostics.empty() ? "" : r.diagnostics[0].format());
  auto s = daemon_settings(*r.config);
  ASSERT_TRUE(s.ok()) << s.error().describe();
  ASSERT_TRUE(s->postgres);
  EXPECT_EQ(s->postgres->pool_size, 6);
  EXPECT_FALSE(s->postgres->prepared_statements);
  EXPECT_EQ(s->postgres->yield_above, std::chrono::milliseconds(15));
  // Unset, background work never yields.
  auto d = config::load_text(daemon_schema(), "store:\n  postgres:\n    url: ${TRUEUP_TEST_URL}\n", "t.yaml");
  ASSERT_TRUE(d.config);
  auto ds = daemon_settings(*d.config);
  ASSERT_TRUE(ds.ok());
  EXPECT_EQ(ds->postgres->yield_above, std::chrono::milliseconds(0));
}

TEST(ConfigReference, EngineSectionsAreExclusive) {
  ::setenv("TRUEUP_TEST_URL", "postgresql://u:p@h/d", 1);
  auto r = config::load_text(daemon_schema(),
                             "store:\n  postgres:\n    url: ${TRUEUP_TEST_URL}\n  sqlite:\n    path: x.db\n", "t.yaml");
  ASSERT_TRUE(r.config);
  auto s = daemon_settings(*r.config);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("store.postgres and store.sqlite are both set"), std::string::npos);
  auto dup = config::load_text(daemon_schema(), "bus:\n  topics:\n    - name: trueup.system.v1\n", "t.yaml");
  ASSERT_TRUE(dup.config);
  EXPECT_FALSE(daemon_settings(*dup.config).ok());
}

}  // namespace
}  // namespace trueup::app
