#include "trueup/model/identifiers.hpp"

namespace trueup::model {

bool is_identifier(std::string_view s) noexcept {
  if (s.empty() || s.size() > 255) return false;
  if (s.front() == ' ' || s.back() == ' ') return false;
  for (unsigned char c : s)
    if (c < 0x20 || c == 0x7f) return false;
  return true;
}

bool is_code(std::string_view s) noexcept {
  if (s.empty() || s.size() > 64) return false;
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); };
  if (!alnum(s.front())) return false;
  for (char c : s)
    if (!alnum(c) && c != '.' && c != '_' && c != ':' && c != '-') return false;
  return true;
}

}  // namespace trueup::model
