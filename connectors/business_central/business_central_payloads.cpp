#include "business_central_payloads.hpp"

#include <algorithm>
#include <utility>

#include "common/exact_json.hpp"
#include "common/payload_reader.hpp"

namespace trueup::connectors::business_central {
namespace {

using nlohmann::json;

// A JSON number's exact text (strings are refused: BC writes numbers).
std::optional<DecimalText> decimal(PayloadReader& r, std::string_view key, Need need) {
  const json* v = r.member(key, need);
  if (v == nullptr) return std::nullopt;
  auto text = number_text(*v);
  if (!text) r.fail(key, "expected a JSON number (read exactly from its text)");
  return text;
}

std::optional<std::string> enum_value(PayloadReader& r, std::string_view key, Need need) {
  auto raw = r.text(key, need);
  if (!raw) return std::nullopt;
  return decode_enum_value(*raw);
}

std::optional<std::string> etag(PayloadReader& r) { return r.text("@odata.etag", Need::optional); }

// One entity or {"value": [...], "@odata.nextLink": "..."}.
template <class T, class F>
Result<Page<T>> decode_page(std::string_view body, F&& read) {
  return read_body<Page<T>>(body, [&](PayloadReader& r, Page<T>& page) {
    if (r.member("value", Need::optional) != nullptr) {
      r.objects("value", Need::required, page.value, read);
      page.next_link = r.text("@odata.nextLink", Need::optional);
      return;
    }
    T one{};
    read(r, one);
    page.value.push_back(std::move(one));
  });
}

void read_line(PayloadReader& r, SalesDocumentLine& l) {
  l.id = r.id("id", Need::required).value_or("");
  l.document_id = r.id("documentId", Need::optional);
  l.sequence = r.integer("sequence", Need::optional);
  l.line_type = enum_value(r, "lineType", Need::required).value_or("");
  l.line_object_number = r.text("lineObjectNumber", Need::optional);
  l.description = r.text("description", Need::optional);
  l.quantity = decimal(r, "quantity", Need::optional);
  l.unit_price = decimal(r, "unitPrice", Need::optional);
  l.discount_amount = decimal(r, "discountAmount", Need::optional);
  l.amount_excluding_tax = decimal(r, "amountExcludingTax", Need::optional);
  l.total_tax_amount = decimal(r, "totalTaxAmount", Need::optional);
  l.amount_including_tax = decimal(r, "amountIncludingTax", Need::optional);
  l.location_id = r.id("locationId", Need::optional);
  l.etag = etag(r);
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

void append_utf8(std::string& out, unsigned code) {
  if (code < 0x80) {
    out += static_cast<char>(code);
  } else if (code < 0x800) {
    out += static_cast<char>(0xC0 | (code >> 6));
    out += static_cast<char>(0x80 | (code & 0x3F));
  } else {
    out += static_cast<char>(0xE0 | (code >> 12));
    out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (code & 0x3F));
  }
}

bool is_guid_char(char c) { return hex_digit(c) >= 0 || c == '-'; }

// "name(<key>)" -> key, when `segment` is exactly that.
std::optional<std::string> key_of(std::string_view segment, std::string_view name) {
  if (!segment.starts_with(name) || segment.size() < name.size() + 2 || segment[name.size()] != '(' ||
      segment.back() != ')')
    return std::nullopt;
  return std::string(segment.substr(name.size() + 1, segment.size() - name.size() - 2));
}

}  // namespace

std::string decode_enum_value(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    // _xHHHH_ : 7 characters.
    if (s[i] == '_' && i + 6 < s.size() && s[i + 1] == 'x' && s[i + 6] == '_') {
      unsigned code = 0;
      bool hex = true;
      for (std::size_t k = 2; k < 6 && hex; ++k) {
        const int d = hex_digit(s[i + k]);
        hex = d >= 0;
        code = code * 16 + static_cast<unsigned>(d < 0 ? 0 : d);
      }
      if (hex) {
        append_utf8(out, code);
        i += 6;
        continue;
      }
    }
    out += s[i];
  }
  return out;
}

Result<Page<Item>> decode_items(std::string_view body) {
  return decode_page<Item>(body, [](PayloadReader& r, Item& i) {
    i.id = r.id("id", Need::required).value_or("");
    i.number = r.text("number", Need::required).value_or("");
    i.display_name = r.text("displayName", Need::optional);
    i.type = enum_value(r, "type", Need::optional);
    i.blocked = r.boolean("blocked", Need::optional);
    i.inventory = decimal(r, "inventory", Need::optional);
    i.unit_price = decimal(r, "unitPrice", Need::optional);
    i.base_unit_of_measure_code = r.text("baseUnitOfMeasureCode", Need::optional);
    i.last_modified = r.timestamp("lastModifiedDateTime", Need::optional);
    i.etag = etag(r);
  });
}

Result<Page<Location>> decode_locations(std::string_view body) {
  return decode_page<Location>(body, [](PayloadReader& r, Location& l) {
    l.id = r.id("id", Need::required).value_or("");
    l.code = r.text("code", Need::required).value_or("");
    l.display_name = r.text("displayName", Need::optional);
    l.etag = etag(r);
  });
}

Result<Page<ItemLedgerEntry>> decode_item_ledger_entries(std::string_view body) {
  return decode_page<ItemLedgerEntry>(body, [](PayloadReader& r, ItemLedgerEntry& e) {
    e.id = r.id("id", Need::required).value_or("");
    e.entry_number = r.integer("entryNumber", Need::required).value_or(0);
    e.item_number = r.text("itemNumber", Need::required).value_or("");
    e.posting_date = r.text("postingDate", Need::required).value_or("");
    e.entry_type = enum_value(r, "entryType", Need::required).value_or("");
    e.source_type = enum_value(r, "sourceType", Need::optional);
    e.document_type = enum_value(r, "documentType", Need::optional);
    e.document_number = r.text("documentNumber", Need::optional);
    e.location_code = r.text("locationCode", Need::optional);
    e.quantity = decimal(r, "quantity", Need::required).value_or("");
    e.sales_amount_actual = decimal(r, "salesAmountActual", Need::optional);
    e.cost_amount_actual = decimal(r, "costAmountActual", Need::optional);
    e.last_modified = r.timestamp("lastModifiedDateTime", Need::optional);
  });
}

Result<Page<SalesDocumentLine>> decode_sales_document_lines(std::string_view body) {
  return decode_page<SalesDocumentLine>(body, read_line);
}

Result<Page<SalesDocument>> decode_sales_documents(std::string_view body, SalesDocumentKind kind) {
  const bool order = kind == SalesDocumentKind::order;
  return decode_page<SalesDocument>(body, [order](PayloadReader& r, SalesDocument& d) {
    d.id = r.id("id", Need::required).value_or("");
    d.number = r.text("number", Need::optional);
    d.external_document_number = r.text("externalDocumentNumber", Need::optional).value_or("");
    d.document_date = r.text(order ? "orderDate" : "invoiceDate", Need::optional);
    d.posting_date = r.text("postingDate", Need::optional);
    d.customer_number = r.text("customerNumber", Need::optional);
    d.currency_code = r.text("currencyCode", Need::optional).value_or("");
    d.prices_include_tax = r.boolean("pricesIncludeTax", Need::optional);
    d.discount_amount = decimal(r, "discountAmount", Need::optional);
    d.total_amount_excluding_tax = decimal(r, "totalAmountExcludingTax", Need::optional);
    d.total_tax_amount = decimal(r, "totalTaxAmount", Need::optional);
    d.total_amount_including_tax = decimal(r, "totalAmountIncludingTax", Need::optional);
    d.status = enum_value(r, "status", Need::optional);
    d.last_modified = r.timestamp("lastModifiedDateTime", Need::optional);
    d.etag = etag(r);
    r.objects(order ? "salesOrderLines" : "salesInvoiceLines", Need::optional, d.lines, read_line);
  });
}

Result<std::string> build_sales_document(const SalesDocumentDraft& draft) {
  const auto& edn = draft.external_document_number;
  if (edn.empty() || edn.size() > 35)
    return make_error(Errc::invalid_argument, "externalDocumentNumber must be 1 to 35 characters, got \"" + edn + "\"");
  if (draft.customer_number.empty()) return make_error(Errc::invalid_argument, "customerNumber is required");
  const bool order = draft.kind == SalesDocumentKind::order;
  json body = {{"externalDocumentNumber", edn}, {"customerNumber", draft.customer_number}};
  if (draft.document_date) body[order ? "orderDate" : "invoiceDate"] = *draft.document_date;
  if (draft.currency_code) body["currencyCode"] = *draft.currency_code;
  json lines = json::array();
  for (std::size_t i = 0; i < draft.lines.size(); ++i) {
    const auto& l = draft.lines[i];
    const std::string at = "lines/" + std::to_string(i) + "/";
    // Numbers go out as the exact text given; check it is one.
    auto number = [&](const DecimalText& text, const char* name) -> Result<json> {
      auto parsed = parse_exact(text);
      if (!parsed || !number_text(*parsed))
        return make_error(Errc::invalid_argument, at + name + ": expected a JSON number, got \"" + text + "\"");
      return *parsed;
    };
    json line = {{"lineType", "Item"}, {"lineObjectNumber", l.item_number}};
    auto quantity = number(l.quantity, "quantity");
    if (!quantity) return std::move(quantity).error();
    line["quantity"] = *quantity;
    if (l.unit_price) {
      auto price = number(*l.unit_price, "unitPrice");
      if (!price) return std::move(price).error();
      line["unitPrice"] = *price;
    }
    if (l.discount_amount) {
      auto discount = number(*l.discount_amount, "discountAmount");
      if (!discount) return std::move(discount).error();
      line["discountAmount"] = *discount;
    }
    if (l.description) line["description"] = *l.description;
    lines.push_back(std::move(line));
  }
  body[order ? "salesOrderLines" : "salesInvoiceLines"] = std::move(lines);
  return dump_exact(body);
}

std::string odata_string(std::string_view text) {
  std::string out = "'";
  for (char c : text) {
    out += c;
    if (c == '\'') out += '\'';
  }
  return out + "'";
}

std::string external_document_number_filter(std::string_view edn) {
  return "$filter=externalDocumentNumber eq " + odata_string(edn);
}

Result<Page<Subscription>> decode_subscriptions(std::string_view body) {
  return decode_page<Subscription>(body, [](PayloadReader& r, Subscription& s) {
    s.subscription_id = r.id("subscriptionId", Need::optional);
    s.notification_url = r.text("notificationUrl", Need::required).value_or("");
    s.resource = r.text("resource", Need::required).value_or("");
    s.client_state = r.text("clientState", Need::optional);
    s.expiration = r.timestamp("expirationDateTime", Need::optional);
    s.etag = etag(r);
  });
}

json build_subscription(const Subscription& s) {
  json body = {{"notificationUrl", s.notification_url}, {"resource", s.resource}};
  if (s.client_state) body["clientState"] = *s.client_state;
  return body;
}

std::optional<std::string> validation_token(std::string_view query) {
  if (query.starts_with('?')) query.remove_prefix(1);
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    constexpr std::string_view kKey = "validationToken=";
    if (!pair.starts_with(kKey)) continue;
    std::string out;
    const std::string_view value = pair.substr(kKey.size());
    for (std::size_t i = 0; i < value.size(); ++i) {
      if (value[i] == '+') {
        out += ' ';
      } else if (value[i] == '%' && i + 2 < value.size() && hex_digit(value[i + 1]) >= 0 &&
                 hex_digit(value[i + 2]) >= 0) {
        out += static_cast<char>(hex_digit(value[i + 1]) * 16 + hex_digit(value[i + 2]));
        i += 2;
      } else {
        out += value[i];
      }
    }
    return out;
  }
  return std::nullopt;
}

Result<std::vector<Notification>> decode_notifications(std::string_view body) {
  return read_body<std::vector<Notification>>(body, [](PayloadReader& r, std::vector<Notification>& out) {
    r.objects("value", Need::required, out, [](PayloadReader& n, Notification& x) {
      x.subscription_id = n.id("subscriptionId", Need::required).value_or("");
      x.client_state = n.text("clientState", Need::optional);
      x.expiration = n.timestamp("expirationDateTime", Need::optional);
      x.resource = n.text("resource", Need::required).value_or("");
      x.change_type = n.text("changeType", Need::required).value_or("");
      x.last_modified = n.timestamp("lastModifiedDateTime", Need::optional);
    });
  });
}

Status check_client_state(const Notification& notification, const std::vector<std::string>& accepted) {
  const std::string given = notification.client_state.value_or("");
  bool match = false;
  for (const auto& secret : accepted) {
    // Constant time for equal lengths; the length of a secret is not the secret.
    unsigned diff = given.size() == secret.size() ? 0u : 1u;
    for (std::size_t i = 0; i < secret.size(); ++i) {
      diff |= static_cast<unsigned char>(secret[i]) ^ static_cast<unsigned char>(i < given.size() ? given[i] : 0);
    }
    match |= (diff == 0 && !secret.empty());
  }
  if (!match)
    return make_error(Errc::invalid_argument, "client_state_mismatch: the notification's clientState is not ours");
  return Ok{};
}

Result<ResourceRef> parse_resource(std::string_view resource) {
  const std::string_view original = resource;
  auto fail = [&] {
    return make_error(Errc::invalid_argument,
                      "unrecognised_resource: expected api/v2.0/companies(<id>)/<entitySet>[(<id>)], got \"" +
                          std::string(original) + "\"");
  };
  if (resource.starts_with('/')) resource.remove_prefix(1);
  const auto query = resource.find('?');
  if (query != std::string_view::npos) resource = resource.substr(0, query);
  constexpr std::string_view kPrefix = "api/v2.0/";
  if (!resource.starts_with(kPrefix)) return fail();
  resource.remove_prefix(kPrefix.size());
  const auto slash = resource.find('/');
  if (slash == std::string_view::npos) return fail();
  auto company = key_of(resource.substr(0, slash), "companies");
  if (!company || company->empty()) return fail();
  std::string_view entity = resource.substr(slash + 1);
  if (entity.empty() || entity.find('/') != std::string_view::npos) return fail();
  ResourceRef ref;
  ref.company_id = *company;
  const auto paren = entity.find('(');
  ref.entity_set = std::string(entity.substr(0, paren));
  if (paren != std::string_view::npos) {
    auto id = key_of(entity, ref.entity_set);
    if (!id || id->empty() || !std::all_of(id->begin(), id->end(), is_guid_char)) return fail();
    ref.entity_id = *id;
  }
  return ref;
}

}  // namespace trueup::connectors::business_central
