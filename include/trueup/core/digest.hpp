#pragma once
// Hashes, MACs and byte encodings over OpenSSL, for checksums, dedupe keys,
// API key hashes and webhook signatures.
//
// Byte strings travel as std::string / std::string_view holding raw bytes
// (any values, NUL included). Digests come back raw; `hex_encode` or
// `base64_encode` them for text.
//
// Thread-safety: pure functions; safe from any thread. An OpenSSL failure
// (which only an unusable crypto library causes) throws std::runtime_error.

#include <string>
#include <string_view>

#include "trueup/core/error.hpp"

namespace trueup {

// SHA-256 of `data`: 32 raw bytes.
std::string sha256(std::string_view data);

// SHA-256 of `data` as 64 lower-case hex digits.
std::string sha256_hex(std::string_view data);

// HMAC-SHA256 (RFC 2104) of `message` under `key`: 32 raw bytes. Any key
// length, empty included.
std::string hmac_sha256(std::string_view key, std::string_view message);

// Lower-case hex of raw bytes, two digits a byte.
std::string hex_encode(std::string_view raw);

// Base64 (RFC 4648 section 4, standard alphabet, '=' padding, no line breaks).
std::string base64_encode(std::string_view raw);

// Strict base64 decoding: the standard alphabet only, a length that is a
// multiple of four, '=' padding only at the end, no whitespace, and zero
// unused bits in the last character (so each byte string has exactly one
// accepted encoding). Anything else is Errc::invalid_argument.
Result<std::string> base64_decode(std::string_view text);

// Whether `a` and `b` hold the same bytes, in time that depends only on their
// lengths (CRYPTO_memcmp), never on where they first differ. For comparing
// secrets, MACs and signatures; lengths are not treated as secret.
bool constant_time_equal(std::string_view a, std::string_view b) noexcept;

}  // namespace trueup
