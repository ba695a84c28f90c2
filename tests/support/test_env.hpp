#pragma once
// Access to the real services a test needs. A test labelled pg/kafka/e2e
// fails (never skips) when its service is not configured: `make test` starts
// them; run scripts/pg-up and scripts/kafka-up to run such tests by hand.

#include <string>

namespace trueup::testing {

// TRUEUP_TEST_PG_URL, or a gtest failure (and "" returned) when unset.
std::string require_pg_url();
// TRUEUP_TEST_KAFKA, or a gtest failure (and "" returned) when unset.
std::string require_kafka();
// Path of the built trueup binary (TRUEUP_BINARY).
std::string trueup_binary();
// The repository root (TRUEUP_SOURCE_DIR).
std::string source_dir();
// The official API fixtures (never copied into the project): $TRUEUP_FIXTURES_DIR
// when set, else the first `shared/fixtures` beside the repository or one of
// its parent directories (the checkout's ../shared/fixtures). A gtest failure
// (and the ../shared/fixtures path returned) when none exists.
std::string fixtures_dir();
// A fresh unique name with the given prefix, e.g. for topics, schemas, groups.
std::string unique_name(const std::string& prefix);

}  // namespace trueup::testing
