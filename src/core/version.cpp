#include "trueup/core/version.hpp"

namespace trueup {
std::string_view version() noexcept { return TRUEUP_VERSION; }
std::string_view compiler() noexcept { return "gcc " __VERSION__; }
}  // namespace trueup
