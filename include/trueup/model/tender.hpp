#pragma once
// Tender: one payment (or refund payment) that settles an order: card, cash,
// gift card, marketplace collection. Carries its own currency: a tender may be
// in the presentment currency rather than the order's.
//
// JSON (docs/schemas/tender.schema.json):
//   {"tender_id": "pay_1", "kind": "card", "currency": "EUR", "amount": "59.90",
//    "provider": "stripe", "reference": "ch_3N...", "captured_at": "..."}

#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "trueup/core/money.hpp"
#include "trueup/model/codec.hpp"
#include "trueup/model/timestamp.hpp"

namespace trueup::model {

enum class TenderKind { card, cash, gift_card, store_credit, marketplace, bank_transfer, wallet, other };
std::string_view to_string(TenderKind k) noexcept;

struct Tender {
  std::string tender_id;  // identifier
  TenderKind kind = TenderKind::other;
  Money amount;                          // decimal string in `currency`
  std::optional<std::string> provider;   // free text: "stripe", "shopify_payments"
  std::optional<std::string> reference;  // identifier of the payment at the provider
  std::optional<Timestamp> captured_at;

  friend bool operator==(const Tender&, const Tender&) = default;
};

template <>
Result<Tender> from_json<Tender>(const nlohmann::json& j, std::string_view pointer);
nlohmann::json to_json(const Tender& t);

}  // namespace trueup::model
