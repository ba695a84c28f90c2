#include "trueup/core/error.hpp"

namespace trueup {
namespace {

class TrueupCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "trueup"; }
  std::string message(int ev) const override {
    switch (static_cast<Errc>(ev)) {
      case Errc::ok:
        return "ok";
      case Errc::unavailable:
        return "unavailable";
      case Errc::timeout:
        return "timeout";
      case Errc::overloaded:
        return "overloaded";
      case Errc::conflict:
        return "conflict";
      case Errc::not_found:
        return "not found";
      case Errc::invalid_argument:
        return "invalid argument";
      case Errc::already_exists:
        return "already exists";
      case Errc::checksum_mismatch:
        return "checksum mismatch";
      case Errc::unsupported:
        return "unsupported";
      case Errc::unauthenticated:
        return "unauthenticated";
      case Errc::internal:
        return "internal error";
    }
    return "unknown";
  }
};

}  // namespace

const std::error_category& trueup_category() noexcept {
  static const TrueupCategory category;
  return category;
}

std::error_code make_error_code(Errc e) noexcept { return {static_cast<int>(e), trueup_category()}; }

std::string Error::describe() const { return make_error_code(code).message() + ": " + message; }

}  // namespace trueup
