#pragma once
// Internal: turning PostgresSettings into a libpq connection string, and
// keeping passwords out of messages.

#include <string>
#include <string_view>

#include "trueup/store/store.hpp"

namespace trueup::store::detail {

struct Conninfo {
  std::string conninfo;  // for libpq: the URL or keywords plus our parameters
  std::string redacted;  // for messages
  std::string password;  // as libpq will see it (decoded), to scrub from messages
};

Result<Conninfo> make_conninfo(const PostgresSettings& settings);

// `text` with every occurrence of the password replaced by "***".
std::string scrub(std::string text, const Conninfo& info);

// libpq's messages span lines ("...\n\tIs the server running..."): one line for logs.
std::string one_line(std::string_view s);

}  // namespace trueup::store::detail
