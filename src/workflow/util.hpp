#pragma once
// Internal helpers shared by the engine and the exception queue.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "trueup/core/error.hpp"
#include "trueup/store/store.hpp"
#include "trueup/workflow/clock.hpp"

namespace trueup::workflow::detail {

// A time-ordered unique id: 12 hex digits of epoch milliseconds, then 20
// random hex digits, in UUID layout (8-4-4-4-12), like UUIDv7.
std::string new_id(TimePoint now);

std::int64_t to_int(const std::optional<std::string>& text, std::int64_t fallback = 0);
std::optional<std::int64_t> to_opt_int(const std::optional<std::string>& text);
std::string text_or(const std::optional<std::string>& text, std::string fallback = {});
// Parses stored JSON; a null value when it is not JSON (never throws).
nlohmann::json parse_json(const std::optional<std::string>& text);
// RFC 3339 text, or null.
nlohmann::json time_json(std::optional<TimePoint> t);

inline bool is_postgres(const store::Store& s) { return s.engine() == "postgres"; }

// Runs a list query that asked for limit + 1 rows and fills a page: items
// (at most `limit`) and next_cursor = the last item's id when more followed.
template <class Page, class FromRow>
Result<Page> query_page(store::Store& store, const std::string& sql, const std::vector<store::Param>& params,
                        std::size_t limit, FromRow from_row) {
  Page page;
  auto s = store.transact([&](store::Transaction& tx) -> Status {
    auto rows = tx.exec(sql, params);
    if (!rows) return std::move(rows).error();
    page.items.clear();
    for (const auto& r : rows->rows) page.items.push_back(from_row(r));
    return Ok{};
  });
  if (!s) return std::move(s).error();
  if (page.items.size() > limit) {
    page.items.resize(limit);
    page.next_cursor = page.items.back().id;
  }
  return page;
}

}  // namespace trueup::workflow::detail
