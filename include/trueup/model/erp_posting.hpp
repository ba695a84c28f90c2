#pragma once
// ErpPosting: a document Trueup created (or will create) in the ERP, linked
// to the channel order by `external_document_number` (the natural
// idempotency key: look it up before creating).
// JSON: docs/schemas/erp-posting.schema.json.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "trueup/core/money.hpp"
#include "trueup/model/codec.hpp"
#include "trueup/model/identifiers.hpp"
#include "trueup/model/timestamp.hpp"

namespace trueup::model {

enum class ErpDocumentType { sales_order, sales_invoice, credit_memo, item_journal, payment, general_journal };
std::string_view to_string(ErpDocumentType t) noexcept;

enum class ErpPostingStatus { pending, posted, failed, reversed };
std::string_view to_string(ErpPostingStatus s) noexcept;

struct ErpPostingLine {
  std::optional<Sku> sku;
  std::optional<std::string> account;  // ledger account number (identifier)
  std::optional<std::string> description;
  std::optional<Quantity> quantity;
  Money amount;

  friend bool operator==(const ErpPostingLine&, const ErpPostingLine&) = default;
};

struct ErpPosting {
  std::string posting_id;  // canonical id (identifier)
  SystemCode system;       // e.g. "business-central"
  ErpDocumentType document_type = ErpDocumentType::sales_order;
  ErpPostingStatus status = ErpPostingStatus::pending;
  std::optional<std::string> document_number;  // assigned by the ERP
  std::string external_document_number;
  std::optional<std::string> order_id;
  std::optional<Timestamp> posted_at;  // required when status is posted or reversed
  Currency currency;
  Money amount;  // document total
  std::vector<ErpPostingLine> lines;

  friend bool operator==(const ErpPosting&, const ErpPosting&) = default;
};

template <>
Result<ErpPosting> from_json<ErpPosting>(const nlohmann::json& j, std::string_view pointer);
nlohmann::json to_json(const ErpPosting& p);

}  // namespace trueup::model
