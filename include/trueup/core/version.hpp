#pragma once
#include <string_view>

namespace trueup {
// The version of this build ("0.1.0") and the compiler that built it.
std::string_view version() noexcept;
std::string_view compiler() noexcept;
}  // namespace trueup
