#include "trueup/connector/signature.hpp"

#include <openssl/crypto.h>

namespace trueup::connector {
namespace {

// HMAC-SHA256 over `prefix` + `body`: both services' schemes (Shopify with
// no prefix, Square with the notification URL).
std::string hmac_over(std::string_view key, std::string_view prefix, std::string_view body) {
  if (prefix.empty()) return hmac_sha256(key, body);
  std::string message;
  message.reserve(prefix.size() + body.size());
  message.append(prefix).append(body);
  return hmac_sha256(key, message);
}

// The header is not secret, so decoding it first (and rejecting what is not
// strict base64) leaks nothing; the MACs are compared as raw bytes.
SignatureCheck verify_hmac_base64(std::string_view prefix, std::string_view raw_body,
                                  std::optional<std::string_view> header_value, const SecretSet& secrets) {
  if (!header_value || trim_header_value(*header_value).empty()) return SignatureCheck::missing_header;
  auto presented = base64_decode(trim_header_value(*header_value));
  if (!presented) return SignatureCheck::bad_signature;
  const bool ok =
      secrets.any_produces(*presented, [&](std::string_view secret) { return hmac_over(secret, prefix, raw_body); });
  return ok ? SignatureCheck::ok : SignatureCheck::bad_signature;
}

}  // namespace

SecretSet::SecretSet(std::vector<std::string> secrets) {
  for (auto& s : secrets) add(std::move(s));
}

SecretSet& SecretSet::operator=(const SecretSet& other) {
  if (this != &other) {
    cleanse();
    secrets_ = other.secrets_;
  }
  return *this;
}

SecretSet& SecretSet::operator=(SecretSet&& other) noexcept {
  if (this != &other) {
    cleanse();
    secrets_ = std::move(other.secrets_);
    other.secrets_.clear();
  }
  return *this;
}

SecretSet::~SecretSet() { cleanse(); }

void SecretSet::add(std::string secret) {
  if (!secret.empty()) secrets_.push_back(std::move(secret));
}

std::string SecretSet::describe() const {
  return std::to_string(secrets_.size()) + (secrets_.size() == 1 ? " secret" : " secrets");
}

void SecretSet::cleanse() noexcept {
  for (auto& s : secrets_)
    if (!s.empty()) OPENSSL_cleanse(s.data(), s.size());
}

std::string_view signature_check_name(SignatureCheck check) {
  switch (check) {
    case SignatureCheck::ok:
      return "ok";
    case SignatureCheck::missing_header:
      return "missing_header";
    case SignatureCheck::bad_signature:
      return "bad_signature";
  }
  return "?";
}

std::optional<std::string_view> shopify_header(const HeaderLookup& headers, std::string_view name) {
  std::string full = "x-shopify-";
  full.append(name);
  if (auto v = headers(full)) return v;
  return headers(std::string_view(full).substr(2));  // "shopify-<name>"
}

std::optional<std::string_view> shopify_hmac_header(const HeaderLookup& headers) {
  return shopify_header(headers, "hmac-sha256");
}

SignatureCheck verify_shopify_webhook(std::string_view raw_body, std::optional<std::string_view> header_value,
                                      const SecretSet& secrets) {
  return verify_hmac_base64({}, raw_body, header_value, secrets);
}

SignatureCheck verify_square_webhook(std::string_view notification_url, std::string_view raw_body,
                                     std::optional<std::string_view> header_value, const SecretSet& secrets) {
  return verify_hmac_base64(notification_url, raw_body, header_value, secrets);
}

std::string sign_shopify(std::string_view raw_body, std::string_view secret) {
  return base64_encode(hmac_over(secret, {}, raw_body));
}

std::string sign_square(std::string_view notification_url, std::string_view raw_body, std::string_view signature_key) {
  return base64_encode(hmac_over(signature_key, notification_url, raw_body));
}

}  // namespace trueup::connector
