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

}  // namespace trueup::store
