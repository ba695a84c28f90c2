#pragma once
// How the connector SDK reads a message's header fields without depending on
// an HTTP library: a lookup by lower-cased name.
//
// The string_view a lookup returns points into the caller's storage and is
// valid as long as that storage is.

#include <concepts>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace trueup::connector {

// The value of the header field `lower_name`, or nullopt when absent.
using HeaderLookup = std::function<std::optional<std::string_view>(std::string_view lower_name)>;

// `value` without the optional whitespace (spaces, tabs) around it.
constexpr std::string_view trim_header_value(std::string_view value) {
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  return value;
}

// A lookup over the caller's header storage, which must outlive it: a map
// keyed by lower-cased names (the http module's request headers), or a type
// whose `find(name)` returns `const std::string*` (http::HeaderFields, which
// ignores case).
template <class Fields>
HeaderLookup header_lookup(const Fields& headers) {
  return [&headers](std::string_view lower_name) -> std::optional<std::string_view> {
    if constexpr (requires {
                    { headers.find(lower_name) } -> std::convertible_to<const std::string*>;
                  }) {
      const std::string* value = headers.find(lower_name);
      if (value == nullptr) return std::nullopt;
      return std::string_view(*value);
    } else {
      auto it = [&] {
        if constexpr (requires { headers.find(lower_name); })
          return headers.find(lower_name);
        else
          return headers.find(std::string(lower_name));
      }();
      if (it == headers.end()) return std::nullopt;
      return std::string_view(it->second);
    }
  };
}

}  // namespace trueup::connector
