// Validation of YAML against a declared schema: types, bounds, unknown keys,
// required keys, ${ENV} and file: secrets, and every error with its line.
#include <gtest/gtest.h>
#include <stdlib.h>

#include "support/process.hpp"
#include "trueup/config/schema.hpp"

namespace trueup::config {
namespace {

std::shared_ptr<const Schema> test_schema() {
  return std::make_shared<const Schema>(std::vector<Key>{
      optional("name", Type::string, "A name."),
      section("http", "HTTP.",
              {
                  bounded(with_default("port", Type::integer, "8080", "Port."), 0, 65535),
                  with_default("timeout", Type::duration, "10s", "Timeout."),
                  with_default("access_log", Type::boolean, "true", "Access log."),
                  choice("format", {"json", "text"}, "json", "Format."),
              }),
      section("db", "Database.",
              {
                  required("url", Type::secret, "URL."),
                  optional("properties", Type::string_map, "Extra."),
              }),
      section_list("topics", "Topics.",
                   {required("name", Type::string, "Name."),
                    bounded(with_default("partitions", Type::integer, "3", "Partitions."), 1, 100)}),
  });
}

TEST(ConfigSchema, DefaultsApplyWhenKeysAreAbsent) {
  auto r = load_text(test_schema(), "name: x\n", "t.yaml");
  ASSERT_TRUE(r.config) << r.diagnostics.size();
  auto http = r.config->root().section("http");
  EXPECT_EQ(http.integer("port"), 8080);
  EXPECT_EQ(http.duration("timeout"), std::chrono::seconds(10));
  EXPECT_TRUE(http.boolean("access_log"));
  EXPECT_EQ(http.string("format"), "json");
  EXPECT_FALSE(r.config->root().present("db"));
}

TEST(ConfigSchema, ReportsEveryProblemWithLineColumnAndPath) {
  const std::string yaml =
      "name: x\n"                // 1
      "http:\n"                  // 2
      "  port: 70000\n"          // 3  out of bounds
      "  timeout: 10 seconds\n"  // 4  bad duration
      "  acess_log: true\n"      // 5  unknown key (typo)
      "  format: xml\n"          // 6  bad choice
      "db:\n"                    // 7  url missing
      "  properties: {a: b}\n"   // 8
      "topics:\n"                // 9
      "  - partitions: 0\n"      // 10 name missing, partitions < 1
      "extra: 1\n";              // 11 unknown top-level key
  auto r = load_text(test_schema(), yaml, "bad.yaml");
  EXPECT_FALSE(r.config);
  std::vector<std::string> lines;
  for (const auto& d : r.diagnostics) lines.push_back(d.format());
  auto has = [&](const std::string& prefix) {
    for (const auto& l : lines)
      if (l.rfind(prefix, 0) == 0) return true;
    return false;
  };
  EXPECT_TRUE(has("bad.yaml:3:9: http.port: must be at most 65535"));
  EXPECT_TRUE(has("bad.yaml:4:12: http.timeout: expected a duration"));
  EXPECT_TRUE(has("bad.yaml:5:3: http.acess_log: unknown key; did you mean 'access_log'?"));
  EXPECT_TRUE(has("bad.yaml:6:11: http.format: expected one of json, text"));
  EXPECT_TRUE(has("bad.yaml:8:3: db.url: required key is missing"));
  EXPECT_TRUE(has("bad.yaml:10:5: topics[0].name: required key is missing"));
  EXPECT_TRUE(has("bad.yaml:10:17: topics[0].partitions: must be at least 1"));
  EXPECT_TRUE(has("bad.yaml:11:1: extra: unknown key"));
  EXPECT_EQ(r.diagnostics.size(), 8u) << ::testing::PrintToString(lines);
}

TEST(ConfigSchema, SyntaxErrorsNameTheLine) {
  auto r = load_text(test_schema(), "http:\n  port: [1,\n", "s.yaml");
  ASSERT_EQ(r.diagnostics.size(), 1u);
  EXPECT_EQ(r.diagnostics[0].file, "s.yaml");
  EXPECT_GT(r.diagnostics[0].line, 0);
  EXPECT_NE(r.diagnostics[0].message.find("YAML syntax error"), std::string::npos);
}

TEST(ConfigSchema, SecretsComeFromEnvironmentOrFilesNeverLiterals) {
  ::setenv("TRUEUP_TEST_SECRET_URL", "postgresql://u:hunter22@h/db", 1);
  auto ok = load_text(test_schema(), "db:\n  url: ${TRUEUP_TEST_SECRET_URL}\n", "t.yaml");
  ASSERT_TRUE(ok.config);
  EXPECT_EQ(ok.config->root().section("db").string("url"), "postgresql://u:hunter22@h/db");
  ASSERT_EQ(ok.config->secrets().size(), 1u);
  EXPECT_EQ(ok.config->redacted()["db"]["url"], "[REDACTED]");

  auto dir = trueup::testing::make_temp_dir("trueup-cfg-");
  trueup::testing::write_file(dir + "/pw", "from-a-file\n");
  auto file = load_text(test_schema(), "db:\n  url: file:" + dir + "/pw\n", "t.yaml");
  ASSERT_TRUE(file.config);
  EXPECT_EQ(file.config->root().section("db").string("url"), "from-a-file");

  auto literal = load_text(test_schema(), "db:\n  url: postgresql://u:pw@h/db\n", "t.yaml");
  ASSERT_EQ(literal.diagnostics.size(), 1u);
  EXPECT_NE(literal.diagnostics[0].message.find("${ENV_VAR}"), std::string::npos);

  ::unsetenv("TRUEUP_TEST_UNSET_VAR");
  auto unset = load_text(test_schema(), "db:\n  url: ${TRUEUP_TEST_UNSET_VAR}\n", "t.yaml");
  ASSERT_EQ(unset.diagnostics.size(), 1u);
  EXPECT_EQ(unset.diagnostics[0].format(), "t.yaml:2:8: db.url: environment variable TRUEUP_TEST_UNSET_VAR is not set");
}

TEST(ConfigSchema, EnvironmentExpansionInPlainValuesWithFallback) {
  ::setenv("TRUEUP_TEST_PORT", "9090", 1);
  auto r =
      load_text(test_schema(), "http:\n  port: ${TRUEUP_TEST_PORT}\nname: ${TRUEUP_TEST_NOPE:-fallback}\n", "t.yaml");
  ASSERT_TRUE(r.config);
  EXPECT_EQ(r.config->root().section("http").integer("port"), 9090);
  EXPECT_EQ(r.config->root().string("name"), "fallback");
}

TEST(ConfigSchema, ListsOfSections) {
  auto r = load_text(test_schema(), "topics:\n  - name: a\n  - name: b\n    partitions: 7\n", "t.yaml");
  ASSERT_TRUE(r.config);
  auto topics = r.config->root().sections("topics");
  ASSERT_EQ(topics.size(), 2u);
  EXPECT_EQ(topics[0].string("name"), "a");
  EXPECT_EQ(topics[0].integer("partitions"), 3);
  EXPECT_EQ(topics[1].integer("partitions"), 7);
}

TEST(ConfigSchema, DurationsParse) {
  EXPECT_EQ(parse_duration("250ms"), std::chrono::milliseconds(250));
  EXPECT_EQ(parse_duration("5m"), std::chrono::minutes(5));
  EXPECT_EQ(parse_duration("1h"), std::chrono::hours(1));
  EXPECT_FALSE(parse_duration("5"));
  EXPECT_FALSE(parse_duration("-5s"));
  EXPECT_FALSE(parse_duration("1.5s"));
  EXPECT_FALSE(parse_duration("99999999999999999999s"));
}

TEST(ConfigSchema, KeyPathsCoverNestedSections) {
  auto paths = test_schema()->key_paths();
  auto has = [&](const std::string& p) { return std::find(paths.begin(), paths.end(), p) != paths.end(); };
  EXPECT_TRUE(has("http.port"));
  EXPECT_TRUE(has("db.properties"));
  EXPECT_TRUE(has("topics[].partitions"));
}

}  // namespace
}  // namespace trueup::config
