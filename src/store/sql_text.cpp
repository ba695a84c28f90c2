#include <algorithm>
#include <map>
#include <string>

#include "trueup/store/store.hpp"

namespace trueup::store {

std::string values_tuples(std::size_t rows, std::size_t columns, int first,
                          const std::function<std::string(std::size_t, int)>& column) {
  std::string out;
  out.reserve(rows * columns * 6);
  int n = first;
  for (std::size_t r = 0; r < rows; ++r) {
    out.append(r == 0 ? "(" : ", (");
    for (std::size_t c = 0; c < columns; ++c, ++n) {
      if (c) out.append(", ");
      if (column) {
        out.append(column(c, n));
      } else {
        out.push_back('$');
        out.append(std::to_string(n));
      }
    }
    out.push_back(')');
  }
  return out;
}

Result<std::vector<KeyedRow>> insert_unless_present(
    Transaction& tx, const KeyedInsert& spec, const std::vector<std::pair<std::string, std::string>>& keys,
    const std::function<void(std::size_t row, std::vector<Param>& out)>& params_of) {
  using Key = std::pair<std::string, std::string>;
  std::vector<std::size_t> firsts(keys.size());  // one row per distinct key, in key order
  for (std::size_t i = 0; i < firsts.size(); ++i) firsts[i] = i;
  std::stable_sort(firsts.begin(), firsts.end(), [&](std::size_t a, std::size_t b) { return keys[a] < keys[b]; });
  firsts.erase(
      std::unique(firsts.begin(), firsts.end(), [&](std::size_t a, std::size_t b) { return keys[a] == keys[b]; }),
      firsts.end());
  const std::string returning =
      " RETURNING " + spec.id_column + ", " + spec.key_columns.substr(1, spec.key_columns.size() - 2);
  std::map<Key, KeyedRow> found;
  auto take = [&](const Rows& rows, bool inserted) -> Status {
    for (const auto& row : rows.rows) {
      if (row.size() < 3 || !row[0] || !row[1] || !row[2])
        return make_error(Errc::internal, spec.table + ": a batch insert returned no id");
      found[Key{*row[1], *row[2]}] = KeyedRow{*row[0], inserted};
    }
    return Ok{};
  };
  for (std::size_t from = 0; from < firsts.size(); from += kMaxRowsPerStatement) {
    const std::size_t n = std::min(kMaxRowsPerStatement, firsts.size() - from);
    std::vector<Param> params;
    params.reserve(n * spec.columns);
    for (std::size_t k = 0; k < n; ++k) params_of(firsts[from + k], params);
    auto inserted = tx.exec(spec.insert_into + " VALUES " + values_tuples(n, spec.columns, 1, spec.column_sql) +
                                " ON CONFLICT " + spec.key_columns + " DO NOTHING" + returning,
                            params);
    if (!inserted) return std::move(inserted).error();
    if (auto st = take(*inserted, true); !st) return std::move(st).error();
    if (inserted->rows.size() == n) continue;
    std::vector<Param> missing;
    for (std::size_t k = 0; k < n; ++k) {
      const Key& key = keys[firsts[from + k]];
      if (!found.count(key)) missing.insert(missing.end(), {key.first, key.second});
    }
    auto existing = tx.exec("SELECT " + returning.substr(11) + " FROM " + spec.table + " WHERE " + spec.key_columns +
                                " IN (VALUES " + values_tuples(missing.size() / 2, 2) + ")",
                            missing);
    if (!existing) return std::move(existing).error();
    if (auto st = take(*existing, false); !st) return std::move(st).error();
  }
  std::vector<KeyedRow> out;
  out.reserve(keys.size());
  std::map<Key, bool> reported;
  for (const auto& key : keys) {
    auto it = found.find(key);
    if (it == found.end())
      return make_error(Errc::conflict,
                        spec.table + ": a row changed concurrently (" + key.first + ", " + key.second + "); try again");
    out.push_back(KeyedRow{it->second.id, it->second.inserted && reported.emplace(key, true).second});
  }
  return out;
}

}  // namespace trueup::store
