// Codecs for SettlementLine and ErpPosting.

#include "codec_parts.hpp"
#include "trueup/model/erp_posting.hpp"
#include "trueup/model/settlement_line.hpp"

namespace trueup::model {
namespace detail {
namespace {

constexpr std::pair<std::string_view, SettlementCategory> kSettlementCategory[] = {
    {"sale", SettlementCategory::sale},
    {"refund", SettlementCategory::refund},
    {"fee", SettlementCategory::fee},
    {"shipping", SettlementCategory::shipping},
    {"tax", SettlementCategory::tax},
    {"promotion", SettlementCategory::promotion},
    {"adjustment", SettlementCategory::adjustment},
    {"reserve", SettlementCategory::reserve},
    {"payout", SettlementCategory::payout},
    {"other", SettlementCategory::other},
};

constexpr std::pair<std::string_view, ErpDocumentType> kErpDocumentType[] = {
    {"sales_order", ErpDocumentType::sales_order}, {"sales_invoice", ErpDocumentType::sales_invoice},
    {"credit_memo", ErpDocumentType::credit_memo}, {"item_journal", ErpDocumentType::item_journal},
    {"payment", ErpDocumentType::payment},         {"general_journal", ErpDocumentType::general_journal},
};

constexpr std::pair<std::string_view, ErpPostingStatus> kErpPostingStatus[] = {
    {"pending", ErpPostingStatus::pending},
    {"posted", ErpPostingStatus::posted},
    {"failed", ErpPostingStatus::failed},
    {"reversed", ErpPostingStatus::reversed},
};

void read_settlement_line(Problems& p, const json& j, const std::string& path, SettlementLine& s) {
  ObjectReader r(p, j, path);
  r.string("settlement_id", s.settlement_id, StringKind::identifier);
  r.string("line_id", s.line_id, StringKind::identifier);
  r.string("channel", s.channel, StringKind::code);
  r.enumeration<SettlementCategory>("category", s.category, kSettlementCategory);
  r.string("description", s.description, StringKind::text);
  r.string("order_id", s.order_id, StringKind::identifier);
  r.string("external_order_reference", s.external_order_reference, StringKind::identifier);
  r.string("sku", s.sku, StringKind::identifier);
  r.quantity("quantity", s.quantity);
  Currency c;
  r.currency("currency", c);
  r.money("amount", s.amount, c);
  r.timestamp("posted_at", s.posted_at);
  r.finish();
}

void read_erp_posting(Problems& p, const json& j, const std::string& path, ErpPosting& e) {
  ObjectReader r(p, j, path);
  r.string("posting_id", e.posting_id, StringKind::identifier);
  r.string("system", e.system, StringKind::code);
  r.enumeration<ErpDocumentType>("document_type", e.document_type, kErpDocumentType);
  r.enumeration<ErpPostingStatus>("status", e.status, kErpPostingStatus);
  r.string("document_number", e.document_number, StringKind::identifier);
  r.string("external_document_number", e.external_document_number, StringKind::identifier);
  r.string("order_id", e.order_id, StringKind::identifier);
  r.timestamp("posted_at", e.posted_at);
  r.currency("currency", e.currency);
  const Currency c = e.currency;
  r.money("amount", e.amount, c);
  r.array("lines", e.lines, false, 0, [c](Problems& p2, const json& el, const std::string& at, ErpPostingLine& l) {
    ObjectReader lr(p2, el, at);
    lr.string("sku", l.sku, StringKind::identifier);
    lr.string("account", l.account, StringKind::identifier);
    lr.string("description", l.description, StringKind::text);
    lr.quantity("quantity", l.quantity);
    lr.money("amount", l.amount, c);
    lr.finish();
  });
  r.finish();
  if (!r.failed() && !e.posted_at && (e.status == ErpPostingStatus::posted || e.status == ErpPostingStatus::reversed))
    r.fail("posted_at", "required when status is posted or reversed");
}

}  // namespace
}  // namespace detail

std::string_view to_string(SettlementCategory c) noexcept {
  return detail::enum_name<SettlementCategory>(detail::kSettlementCategory, c);
}
std::string_view to_string(ErpDocumentType t) noexcept {
  return detail::enum_name<ErpDocumentType>(detail::kErpDocumentType, t);
}
std::string_view to_string(ErpPostingStatus s) noexcept {
  return detail::enum_name<ErpPostingStatus>(detail::kErpPostingStatus, s);
}

template <>
Result<SettlementLine> from_json<SettlementLine>(const nlohmann::json& j, std::string_view pointer) {
  return detail::read_document<SettlementLine>(j, pointer, detail::read_settlement_line);
}

nlohmann::json to_json(const SettlementLine& s) {
  nlohmann::json j = nlohmann::json::object();
  j["settlement_id"] = s.settlement_id;
  j["line_id"] = s.line_id;
  j["channel"] = s.channel;
  j["category"] = to_string(s.category);
  detail::put(j, "description", s.description);
  detail::put(j, "order_id", s.order_id);
  detail::put(j, "external_order_reference", s.external_order_reference);
  detail::put(j, "sku", s.sku);
  if (s.quantity) j["quantity"] = s.quantity->to_string();
  j["currency"] = s.amount.currency().code();
  j["amount"] = s.amount.to_decimal_string();
  j["posted_at"] = s.posted_at.to_string();
  return j;
}

template <>
Result<ErpPosting> from_json<ErpPosting>(const nlohmann::json& j, std::string_view pointer) {
  return detail::read_document<ErpPosting>(j, pointer, detail::read_erp_posting);
}

nlohmann::json to_json(const ErpPosting& e) {
  nlohmann::json j = nlohmann::json::object();
  j["posting_id"] = e.posting_id;
  j["system"] = e.system;
  j["document_type"] = to_string(e.document_type);
  j["status"] = to_string(e.status);
  detail::put(j, "document_number", e.document_number);
  j["external_document_number"] = e.external_document_number;
  detail::put(j, "order_id", e.order_id);
  if (e.posted_at) j["posted_at"] = e.posted_at->to_string();
  j["currency"] = e.currency.code();
  j["amount"] = e.amount.to_decimal_string();
  j["lines"] = detail::array_json(e.lines, [](const ErpPostingLine& l) {
    nlohmann::json o = nlohmann::json::object();
    detail::put(o, "sku", l.sku);
    detail::put(o, "account", l.account);
    detail::put(o, "description", l.description);
    if (l.quantity) o["quantity"] = l.quantity->to_string();
    o["amount"] = l.amount.to_decimal_string();
    return o;
  });
  return j;
}

}  // namespace trueup::model
