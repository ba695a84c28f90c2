#pragma once
// Webhook signatures: verification of what Shopify and Square send, and the
// signing their simulators do.
//
// Verification runs on the raw body bytes exactly as received, before any
// parsing. The MAC is computed with every secret in the set and each result
// is compared in constant time (constant_time_equal), without stopping at the
// first match, so neither timing nor the order of the secrets tells which one
// matched or how much of a signature was right.
//
// Thread-safety: a SecretSet is a value; const use is safe from any thread.
// The functions are pure.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "trueup/connector/headers.hpp"
#include "trueup/core/digest.hpp"

namespace trueup::connector {

// The secrets a webhook may be signed with: the current one first, then
// those still valid after a rotation (Shopify keeps the old app secret valid
// for up to an hour). The values never appear in logs, error messages or
// describe(); the memory is cleansed when a set is destroyed.
class SecretSet {
 public:
  SecretSet() = default;
  // Empty strings are dropped: an empty key would accept forged signatures
  // computed with no secret at all.
  explicit SecretSet(std::vector<std::string> secrets);
  SecretSet(const SecretSet&) = default;
  SecretSet(SecretSet&&) noexcept = default;
  SecretSet& operator=(const SecretSet& other);
  SecretSet& operator=(SecretSet&& other) noexcept;
  ~SecretSet();

  // Adds an older secret after the existing ones (empty: ignored).
  void add(std::string secret);
  bool empty() const noexcept { return secrets_.empty(); }
  std::size_t size() const noexcept { return secrets_.size(); }
  // "2 secrets": what logs may say about the set.
  std::string describe() const;

  // Whether mac(secret) equals `expected` for at least one secret. Every
  // secret is tried and compared in constant time. False for an empty set.
  template <class MacFunction>
  bool any_produces(std::string_view expected, const MacFunction& mac) const {
    bool matched = false;
    for (const auto& secret : secrets_) matched |= constant_time_equal(mac(std::string_view(secret)), expected);
    return matched;
  }

 private:
  void cleanse() noexcept;
  std::vector<std::string> secrets_;
};

enum class SignatureCheck {
  ok,              // a secret of the set produced the signature
  missing_header,  // the signature header is absent or empty
  bad_signature,   // not base64 of a MAC any secret produces (or the set is empty)
};

// "ok", "missing_header", "bad_signature".
std::string_view signature_check_name(SignatureCheck check);

// Header names, lower-cased.
inline constexpr std::string_view kShopifyHmacHeader = "x-shopify-hmac-sha256";
inline constexpr std::string_view kSquareSignatureHeader = "x-square-hmacsha256-signature";

// A Shopify webhook header by its name without prefix ("hmac-sha256",
// "webhook-id", "topic"): `X-Shopify-<name>`, else `Shopify-<name>` (newer
// deliveries drop the X-). `name` is lower-case.
std::optional<std::string_view> shopify_header(const HeaderLookup& headers, std::string_view name);

// The Shopify HMAC header value, whichever of the two names carries it.
std::optional<std::string_view> shopify_hmac_header(const HeaderLookup& headers);

// Shopify: header = base64(HMAC-SHA256(app secret, raw body)).
// `header_value` nullopt or empty: missing_header.
SignatureCheck verify_shopify_webhook(std::string_view raw_body, std::optional<std::string_view> header_value,
                                      const SecretSet& secrets);

// Square: `x-square-hmacsha256-signature` = base64(HMAC-SHA256(signature key,
// notification URL + raw body)). `notification_url` is the URL exactly as it
// is configured in the Square webhook subscription (scheme, host, path and
// query), not as reconstructed from the request, which a proxy may change.
SignatureCheck verify_square_webhook(std::string_view notification_url, std::string_view raw_body,
                                     std::optional<std::string_view> header_value, const SecretSet& secrets);

// The header values the services send, for the simulators.
std::string sign_shopify(std::string_view raw_body, std::string_view secret);
std::string sign_square(std::string_view notification_url, std::string_view raw_body, std::string_view signature_key);

}  // namespace trueup::connector
