// SHA-256, HMAC-SHA256, hex, base64 and constant-time comparison against
// published vectors (FIPS 180-2 / NIST examples, RFC 4231, RFC 4648).

#include <gtest/gtest.h>

#include <string>

#include "trueup/core/digest.hpp"

namespace trueup {
namespace {

std::string unhex(std::string_view hex) {
  std::string out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2)
    out += static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16));
  return out;
}

TEST(Sha256, NistVectors) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(sha256_hex(std::string(1000000, 'a')), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256, RawDigestIs32BytesAndMatchesHex) {
  const std::string raw = sha256("abc");
  ASSERT_EQ(raw.size(), 32u);
  EXPECT_EQ(hex_encode(raw), sha256_hex("abc"));
  // Bytes beyond text: NUL and high bytes hash as given.
  EXPECT_NE(sha256(std::string("a\0b", 3)), sha256("ab"));
}

struct HmacVector {
  std::string key;
  std::string data;
  std::string_view mac_hex;
};

TEST(HmacSha256, Rfc4231Vectors) {
  const HmacVector vectors[] = {
      // 1
      {std::string(20, '\x0b'), "Hi There", "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
      // 2: a key shorter than the output
      {"Jefe", "what do ya want for nothing?", "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
      // 3
      {std::string(20, '\xaa'), std::string(50, '\xdd'),
       "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"},
      // 4
      {unhex("0102030405060708090a0b0c0d0e0f10111213141516171819"), std::string(50, '\xcd'),
       "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"},
      // 6: a key larger than the block size
      {std::string(131, '\xaa'), "Test Using Larger Than Block-Size Key - Hash Key First",
       "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"},
      // 7: key and data larger than the block size
      {std::string(131, '\xaa'),
       "This is a test using a larger than block-size key and a larger than block-size data. The key needs to be "
       "hashed before being used by the HMAC algorithm.",
       "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"},
  };
  for (const auto& v : vectors) EXPECT_EQ(hex_encode(hmac_sha256(v.key, v.data)), v.mac_hex) << v.data;
}

TEST(HmacSha256, EmptyKeyAndMessageAreAllowed) {
  // HMAC-SHA256("", "") as published by many implementations' test suites.
  EXPECT_EQ(hex_encode(hmac_sha256("", "")), "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
}

TEST(HexEncode, LowerCaseTwoDigitsPerByte) {
  EXPECT_EQ(hex_encode(""), "");
  EXPECT_EQ(hex_encode(std::string("\x00\x01\x7f\x80\xff", 5)), "00017f80ff");
}

TEST(Base64, Rfc4648Vectors) {
  const std::pair<std::string_view, std::string_view> vectors[] = {{"", ""},
                                                                   {"f", "Zg=="},
                                                                   {"fo", "Zm8="},
                                                                   {"foo", "Zm9v"},
                                                                   {"foob", "Zm9vYg=="},
                                                                   {"fooba", "Zm9vYmE="},
                                                                   {"foobar", "Zm9vYmFy"}};
  for (const auto& [raw, text] : vectors) {
    EXPECT_EQ(base64_encode(raw), text);
    auto decoded = base64_decode(text);
    ASSERT_TRUE(decoded.ok()) << text;
    EXPECT_EQ(*decoded, raw);
  }
}

TEST(Base64, RoundTripsEveryByteValueAndEveryTailLength) {
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  for (std::size_t n = 0; n <= all.size(); n += 1) {
    const std::string raw = all.substr(0, n);
    auto decoded = base64_decode(base64_encode(raw));
    ASSERT_TRUE(decoded.ok()) << n;
    ASSERT_EQ(*decoded, raw) << n;
  }
  EXPECT_EQ(base64_encode("\xfb\xff"), "+/8=");
}

TEST(Base64, StrictDecodingRejectsAnythingNonCanonical) {
  for (std::string_view bad : {
           "Zg",        // not a multiple of four
           "Zg=",       // short padding
           "Zm9v\n",    // whitespace
           "Zm 9v",     // whitespace inside
           "Zm9v====",  // a whole group of padding
           "Z===",      // three padding characters
           "Zg==Zg==",  // padding in the middle
           "Zm=v",      // padding before data
           "Zh==",      // non-zero unused bits ("f" is Zg==)
           "Zm9=",      // non-zero unused bits ("fo" is Zm8=)
           "Zm9v-_8=",  // the URL-safe alphabet
       }) {
    auto decoded = base64_decode(bad);
    ASSERT_FALSE(decoded.ok()) << bad;
    EXPECT_EQ(decoded.error().code, Errc::invalid_argument) << bad;
  }
  const std::string with_nul("Zm9v\0Zg=", 8);  // a NUL inside
  EXPECT_FALSE(base64_decode(with_nul).ok());
}

TEST(ConstantTimeEqual, ComparesContentAndLength) {
  EXPECT_TRUE(constant_time_equal("", ""));
  EXPECT_TRUE(constant_time_equal("signature", "signature"));
  EXPECT_FALSE(constant_time_equal("signature", "signaturf"));
  EXPECT_FALSE(constant_time_equal("Signature", "signature"));
  EXPECT_FALSE(constant_time_equal("signature", "signature2"));
  EXPECT_FALSE(constant_time_equal("signature2", "signature"));
  EXPECT_FALSE(constant_time_equal("", "a"));
  EXPECT_TRUE(constant_time_equal(std::string("a\0b", 3), std::string("a\0b", 3)));
  EXPECT_FALSE(constant_time_equal(std::string("a\0b", 3), std::string("a\0c", 3)));
}

}  // namespace
}  // namespace trueup
