#pragma once
// Internal: what differs between the engines in the messaging SQL, and small
// encoders shared by the module.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "trueup/core/error.hpp"
#include "trueup/store/store.hpp"

namespace trueup::messaging::detail {

struct Dialect {
  bool postgres = false;

  // A timestamp parameter: text written by timestamp() below.
  std::string ts(int n) const;
  // A bytes parameter (raw bytes given as text) and reading a bytes column
  // back as text: PostgreSQL's BYTEA goes through hex (text columns reject
  // NUL and invalid UTF-8); SQLite binds and reads bytes as they are.
  std::string bytes_in(int n) const;
  std::string bytes_out(std::string_view column) const;
  store::Param bytes_param(std::string_view raw) const;
  Result<std::string> bytes_value(const std::optional<std::string>& v) const;
  // Seconds since the epoch of a timestamp column.
  std::string epoch(std::string_view column) const;
  // `column` is one of the integers in parameter n (int_list below).
  std::string in_list(std::string_view column, int n) const;
  std::string int_list(const std::vector<std::int64_t>& values) const;
};

Dialect dialect_of(const store::Store& store);

// RFC 3339 UTC with microseconds: compares as text on SQLite.
std::string timestamp(std::chrono::system_clock::time_point t);

std::string sha256_hex(std::string_view data);
std::string hex_encode(std::string_view raw);
std::optional<std::string> hex_decode(std::string_view hex);

std::optional<std::int64_t> to_int(const std::optional<std::string>& v);
std::optional<double> to_double(const std::optional<std::string>& v);

}  // namespace trueup::messaging::detail
