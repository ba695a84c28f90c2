// Webhook signatures (Shopify, Square): known answers computed independently
// by the openssl command line, tampering, wrong secrets, rotation, header
// names and malformed headers.

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <string>

#include "support/process.hpp"
#include "trueup/connector/signature.hpp"

namespace trueup::connector {
namespace {

// base64(HMAC-SHA256(key, bytes)) as `openssl dgst -sha256 -hmac KEY -binary
// FILE | base64` prints it: an implementation that shares no code with ours.
std::string openssl_hmac_base64(const std::string& key, const std::string& bytes) {
  const std::string dir = testing::make_temp_dir("trueup-signature-");
  const std::string file = dir + "/message";
  testing::write_file(file, bytes);
  auto r = testing::run_process({"sh", "-c", "openssl dgst -sha256 -hmac \"$HMAC_KEY\" -binary \"$MESSAGE\" | base64"},
                                {{"HMAC_KEY", key}, {"MESSAGE", file}});
  std::filesystem::remove_all(dir);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  while (!r.out.empty() && (r.out.back() == '\n' || r.out.back() == '\r')) r.out.pop_back();
  EXPECT_EQ(r.out.size(), 44u) << r.out;  // 32 bytes in base64
  return r.out;
}

const std::string kShopifySecret = "hush-shopify-app-secret-7c2f";
const std::string kSquareKey = "sq0wbs-signature-key-Zx81";
const std::string kSquareUrl = "https://trueup.example.com/v1/webhooks/square-main";

// Real-shaped bodies: JSON with an id beyond 2^53 and non-ASCII text, and one
// that is not text at all.
const std::string kBodies[] = {
    R"({"id":820982911946154508,"email":"jon@example.com","total_price":"598.94","note":"Caf\u00e9 – Größe L"})",
    "{\"merchant_id\":\"6SSW7HV8K2ST5\",\"type\":\"inventory.count.updated\",\"event_id\":"
    "\"df5f3813-a913-45a1-94e9-fdc3f7d5e3b6\",\"data\":{\"object\":{\"inventory_counts\":[{\"quantity\":\"7.5\"}]}}}\n",
    std::string("\x00\xff\xfe binary\r\n\x80", 13),
    "",
};

std::string flip_one_bit(std::string s, std::size_t at) {
  s[at] = static_cast<char>(s[at] ^ 0x01);
  return s;
}

TEST(ShopifySignature, MatchesOpensslAndVerifies) {
  const SecretSet secrets({kShopifySecret});
  for (const auto& body : kBodies) {
    const std::string expected = openssl_hmac_base64(kShopifySecret, body);
    EXPECT_EQ(sign_shopify(body, kShopifySecret), expected) << body;
    EXPECT_EQ(verify_shopify_webhook(body, expected, secrets), SignatureCheck::ok) << body;
  }
}

TEST(SquareSignature, MatchesOpensslOverUrlAndBodyAndVerifies) {
  const SecretSet secrets({kSquareKey});
  for (const auto& body : kBodies) {
    const std::string expected = openssl_hmac_base64(kSquareKey, kSquareUrl + body);
    EXPECT_EQ(sign_square(kSquareUrl, body, kSquareKey), expected) << body;
    EXPECT_EQ(verify_square_webhook(kSquareUrl, body, expected, secrets), SignatureCheck::ok) << body;
  }
}

TEST(ShopifySignature, TamperedBodiesAreRejected) {
  const SecretSet secrets({kShopifySecret});
  const std::string body = kBodies[0];
  const std::string signature = sign_shopify(body, kShopifySecret);
  for (const std::string& tampered : {
           flip_one_bit(body, 0),
           flip_one_bit(body, body.size() / 2),
           flip_one_bit(body, body.size() - 1),
           body + "\n",                                                    // a trailing newline
           body.substr(0, body.size() - 1),                                // truncated
           std::string(R"({"id": 820982911946154508)") + body.substr(24),  // re-serialised with a space
           std::string(),
       }) {
    EXPECT_EQ(verify_shopify_webhook(tampered, signature, secrets), SignatureCheck::bad_signature) << tampered;
  }
}

TEST(SquareSignature, TamperedBodiesAndOtherUrlsAreRejected) {
  const SecretSet secrets({kSquareKey});
  const std::string body = kBodies[1];
  const std::string signature = sign_square(kSquareUrl, body, kSquareKey);
  EXPECT_EQ(verify_square_webhook(kSquareUrl, flip_one_bit(body, 10), signature, secrets),
            SignatureCheck::bad_signature);
  EXPECT_EQ(verify_square_webhook(kSquareUrl, body + " ", signature, secrets), SignatureCheck::bad_signature);
  // The URL is signed too: the one a proxy rewrote is not the configured one.
  for (const std::string& url : {std::string("http://trueup.example.com/v1/webhooks/square-main"), kSquareUrl + "/",
                                 kSquareUrl + "?x=1", std::string()}) {
    EXPECT_EQ(verify_square_webhook(url, body, signature, secrets), SignatureCheck::bad_signature) << url;
  }
  // Moving bytes between URL and body keeps the signed concatenation, which
  // is the scheme's own property: the configured URL is what pins it.
  EXPECT_EQ(verify_square_webhook(kSquareUrl.substr(0, 10), kSquareUrl.substr(10) + body, signature, secrets),
            SignatureCheck::ok);
}

TEST(WebhookSignature, WrongSecretsAreRejected) {
  const std::string body = kBodies[0];
  const std::string shopify = openssl_hmac_base64(kShopifySecret, body);
  const std::string square = openssl_hmac_base64(kSquareKey, kSquareUrl + body);
  for (const std::string& wrong : {kShopifySecret + "x", kShopifySecret.substr(1), std::string("hush")}) {
    const SecretSet secrets({wrong});
    EXPECT_EQ(verify_shopify_webhook(body, shopify, secrets), SignatureCheck::bad_signature) << wrong;
    EXPECT_EQ(verify_square_webhook(kSquareUrl, body, square, secrets), SignatureCheck::bad_signature) << wrong;
  }
  // The other service's key does not verify either.
  EXPECT_EQ(verify_shopify_webhook(body, shopify, SecretSet({kSquareKey})), SignatureCheck::bad_signature);
}

TEST(WebhookSignature, RotationAcceptsEveryListedSecretInAnyOrder) {
  const std::string body = kBodies[0];
  const std::string old_secret = "old-app-secret";
  const std::string new_secret = "new-app-secret";
  const std::string by_old = openssl_hmac_base64(old_secret, body);
  const std::string by_new = openssl_hmac_base64(new_secret, body);
  const std::string by_other = openssl_hmac_base64("retired-app-secret", body);
  for (const SecretSet& secrets : {SecretSet({new_secret, old_secret}), SecretSet({old_secret, new_secret})}) {
    EXPECT_EQ(verify_shopify_webhook(body, by_old, secrets), SignatureCheck::ok);
    EXPECT_EQ(verify_shopify_webhook(body, by_new, secrets), SignatureCheck::ok);
    EXPECT_EQ(verify_shopify_webhook(body, by_other, secrets), SignatureCheck::bad_signature);
  }
  // After the old secret expires only the new one is listed.
  EXPECT_EQ(verify_shopify_webhook(body, by_old, SecretSet({new_secret})), SignatureCheck::bad_signature);

  SecretSet added({new_secret});
  added.add(old_secret);
  EXPECT_EQ(added.size(), 2u);
  EXPECT_EQ(verify_square_webhook(kSquareUrl, body, sign_square(kSquareUrl, body, old_secret), added),
            SignatureCheck::ok);
}

TEST(WebhookSignature, MissingAndMalformedHeaders) {
  const SecretSet secrets({kShopifySecret});
  const std::string body = kBodies[0];
  const std::string good = sign_shopify(body, kShopifySecret);
  EXPECT_EQ(verify_shopify_webhook(body, std::nullopt, secrets), SignatureCheck::missing_header);
  EXPECT_EQ(verify_shopify_webhook(body, "", secrets), SignatureCheck::missing_header);
  EXPECT_EQ(verify_shopify_webhook(body, " \t", secrets), SignatureCheck::missing_header);
  EXPECT_EQ(verify_square_webhook(kSquareUrl, body, std::nullopt, SecretSet({kSquareKey})),
            SignatureCheck::missing_header);
  // Optional whitespace around the value is not part of it.
  EXPECT_EQ(verify_shopify_webhook(body, " " + good + " ", secrets), SignatureCheck::ok);
  for (const std::string& bad : {
           good.substr(0, good.size() - 4),  // a MAC cut short
           good.substr(0, good.size() - 1),  // not base64 any more
           std::string("not base64!"),
           std::string(44, 'A'),                      // base64, but of zeros
           trueup::hex_encode(*base64_decode(good)),  // the right MAC, hex instead of base64
           good + good,
       }) {
    EXPECT_EQ(verify_shopify_webhook(body, bad, secrets), SignatureCheck::bad_signature) << bad;
  }
}

TEST(WebhookSignature, AnEmptySecretSetVerifiesNothing) {
  const std::string body = kBodies[0];
  // An empty key is dropped: otherwise anyone could sign with "".
  const SecretSet only_empty({std::string()});
  EXPECT_TRUE(only_empty.empty());
  EXPECT_EQ(verify_shopify_webhook(body, sign_shopify(body, ""), only_empty), SignatureCheck::bad_signature);
  EXPECT_EQ(verify_shopify_webhook(body, sign_shopify(body, ""), SecretSet()), SignatureCheck::bad_signature);
}

TEST(WebhookSignature, SecretSetNeverShowsItsValues) {
  const SecretSet secrets({kShopifySecret, "second-secret"});
  EXPECT_EQ(secrets.describe(), "2 secrets");
  EXPECT_EQ(SecretSet({"one"}).describe(), "1 secret");
  SecretSet assigned;
  assigned = secrets;
  EXPECT_EQ(assigned.size(), 2u);
  EXPECT_EQ(verify_shopify_webhook("b", sign_shopify("b", "second-secret"), assigned), SignatureCheck::ok);
}

TEST(ShopifyHeaders, EitherNameIsAccepted) {
  const std::string good = sign_shopify("{}", kShopifySecret);
  std::map<std::string, std::string, std::less<>> prefixed{{"x-shopify-hmac-sha256", good},
                                                           {"x-shopify-webhook-id", "b54557e4"}};
  std::map<std::string, std::string, std::less<>> unprefixed{{"shopify-hmac-sha256", good},
                                                             {"shopify-webhook-id", "b54557e4"}};
  std::map<std::string, std::string> neither{{"x-shopify-topic", "orders/create"}};
  // Both present: the X- name wins.
  std::map<std::string, std::string> both{{"x-shopify-hmac-sha256", good}, {"shopify-hmac-sha256", "other"}};

  EXPECT_EQ(shopify_hmac_header(header_lookup(prefixed)), std::optional<std::string_view>(good));
  EXPECT_EQ(shopify_hmac_header(header_lookup(unprefixed)), std::optional<std::string_view>(good));
  EXPECT_EQ(shopify_hmac_header(header_lookup(both)), std::optional<std::string_view>(good));
  EXPECT_EQ(shopify_hmac_header(header_lookup(neither)), std::nullopt);
  EXPECT_EQ(shopify_header(header_lookup(unprefixed), "webhook-id"), std::optional<std::string_view>("b54557e4"));
  EXPECT_EQ(shopify_header(header_lookup(neither), "topic"), std::optional<std::string_view>("orders/create"));

  const SecretSet secrets({kShopifySecret});
  EXPECT_EQ(verify_shopify_webhook("{}", shopify_hmac_header(header_lookup(unprefixed)), secrets), SignatureCheck::ok);
  EXPECT_EQ(verify_shopify_webhook("{}", shopify_hmac_header(header_lookup(neither)), secrets),
            SignatureCheck::missing_header);
}

TEST(WebhookSignature, CheckNames) {
  EXPECT_EQ(signature_check_name(SignatureCheck::ok), "ok");
  EXPECT_EQ(signature_check_name(SignatureCheck::missing_header), "missing_header");
  EXPECT_EQ(signature_check_name(SignatureCheck::bad_signature), "bad_signature");
}

}  // namespace
}  // namespace trueup::connector
