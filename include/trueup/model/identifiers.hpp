#pragma once
// Canonical identifiers are strings, never numbers: external ids (Shopify's
// int64 ids beyond 2^53, Amazon order numbers) pass through JSON as text.
//
//  identifier  SKUs, order/line/movement ids, external references:
//              1..255 bytes, no control characters (U+0000..U+001F, U+007F),
//              no leading or trailing space.
//  code        location, channel and system codes, exception kinds:
//              1..64 of [A-Za-z0-9._:-], starting with a letter or digit.
//
// Thread-safety: pure functions.

#include <string>
#include <string_view>

namespace trueup::model {

using Sku = std::string;           // canonical SKU (identifier)
using LocationCode = std::string;  // canonical location code (code)
using ChannelCode = std::string;   // canonical channel code, e.g. "shopify-eu" (code)
using SystemCode = std::string;    // a connected system, e.g. "business-central" (code)

bool is_identifier(std::string_view s) noexcept;
bool is_code(std::string_view s) noexcept;

}  // namespace trueup::model
