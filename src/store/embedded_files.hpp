#pragma once
// Internal: the migration files compiled in by embed_migrations.cmake.

#include <string_view>
#include <vector>

namespace trueup::store::detail {

struct EmbeddedFile {
  std::string_view engine;  // the folder under migrations/: "postgres", "sqlite"
  std::string_view name;    // the file name: "0001_init.sql"
  std::string_view text;    // the file's bytes
};

// Defined in the generated embedded_migrations.cpp.
std::vector<EmbeddedFile> embedded_files();

}  // namespace trueup::store::detail
