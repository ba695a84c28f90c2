#include "trueup/inventory/erp_documents.hpp"

#include <algorithm>
#include <ctime>
#include <set>
#include <utility>

#include "trueup/core/digest.hpp"
#include "trueup/core/time.hpp"

namespace trueup::inventory {
namespace {

using nlohmann::json;

constexpr std::string_view kBatchGroup = "sale_batch|";
constexpr std::string_view kReturnGroup = "return|";

// The local date a record states ("2026-11-26T10:00:00+01:00" -> "2026-11-26").
std::string local_date(const model::Timestamp& t) { return t.to_string().substr(0, 10); }

// One record's line before it is summed (erp_document_line).
struct PendingLine {
  std::string member_key;
  std::string order_id;
  std::string sku;
  std::int64_t quantity_e5 = 0;
  std::optional<std::int64_t> unit_price_minor;
};

// What a record brings to its group.
struct Join {
  ErpDocumentKind kind = ErpDocumentKind::sale_batch;
  std::string group_key;
  std::string location;
  std::optional<std::string> currency;
  std::string posting_date;
  std::vector<PendingLine> lines;
  // The document of `seq`: its id, external document number and the order id its entries carry.
  std::function<std::string(std::int64_t)> id;
  std::function<std::string(std::int64_t)> external_document_number;
  std::function<std::string(const std::string& id)> booked_order_id;
};

std::optional<std::string> text(const store::Row& row, std::size_t i) { return i < row.size() ? row[i] : std::nullopt; }

// Whether the open document `id` can take `join`'s lines: same location, no
// other currency, and at most `max_lines` (SKU, price) lines afterwards (an
// empty document takes any record).
Result<bool> fits(store::Transaction& tx, const std::string& id, const Join& join, std::size_t max_lines) {
  auto doc = tx.exec("SELECT location, currency FROM erp_document WHERE id = $1", {id});
  if (!doc) return std::move(doc).error();
  if (doc->rows.empty()) return false;
  if (text(doc->rows[0], 0).value_or("") != join.location) return false;
  const auto currency = text(doc->rows[0], 1);
  if (currency && join.currency && *currency != *join.currency) return false;
  auto lines = tx.exec("SELECT DISTINCT sku, unit_price_minor FROM erp_document_line WHERE document_id = $1", {id});
  if (!lines) return std::move(lines).error();
  if (lines->rows.empty()) return true;
  std::set<std::pair<std::string, std::string>> distinct;
  for (const auto& row : lines->rows) distinct.emplace(text(row, 0).value_or(""), text(row, 1).value_or("-"));
  for (const auto& l : join.lines)
    distinct.emplace(l.sku, l.unit_price_minor ? std::to_string(*l.unit_price_minor) : "-");
  return distinct.size() <= max_lines;
}

// A group's row, locked (created when new): every join and close of its
// documents takes turns here.
struct Group {
  std::optional<std::string> open;  // the open document
  std::int64_t documents = 0;
};
Result<Group> lock_group(store::Transaction& tx, const std::string& group_key) {
  auto group = tx.exec(
      "INSERT INTO erp_document_group (group_key, open_document, documents) VALUES ($1, NULL, 0) ON CONFLICT "
      "(group_key) DO UPDATE SET group_key = excluded.group_key RETURNING open_document, documents",
      {group_key});
  if (!group) return std::move(group).error();
  if (group->rows.empty()) return make_error(Errc::internal, "erp_document_group row not returned");
  return Group{text(group->rows[0], 0), std::stoll(text(group->rows[0], 1).value_or("0"))};
}

// With the group locked: finds or opens the document that takes `join`, and
// writes its lines there. Returns the document id.
Result<std::string> join_document(store::Transaction& tx, workflow::Engine& engine, const ErpDocumentSettings& settings,
                                  const Join& join, const Group& group, workflow::TimePoint now) {
  const std::optional<std::string>& open = group.open;
  const std::int64_t documents = group.documents;
  std::string id;
  if (open) {
    auto ok = fits(tx, *open, join, settings.max_lines);
    if (!ok) return std::move(ok).error();
    if (*ok) id = *open;
  }
  if (id.empty()) {
    if (open) {
      // Sealed: nothing joins it any more, so it need not wait for its window.
      auto sealed = engine.signal(tx, *open, kErpDocumentSealed);
      if (!sealed) return std::move(sealed).error();
    }
    const std::int64_t seq = documents + 1;
    id = join.id(seq);
    const auto closes_at = now + settings.window;
    auto made = tx.exec(
        "INSERT INTO erp_document (id, kind, group_key, seq, booked_order_id, external_document_number, location, "
        "currency, posting_date, status, opened_at, closes_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'open', "
        "$10, $11)",
        {id, std::string(to_string(join.kind)), join.group_key, seq, join.booked_order_id(id),
         join.external_document_number(seq), join.location,
         join.currency ? store::Param(*join.currency) : store::Param(std::monostate{}), join.posting_date,
         format_utc(now), format_utc(closes_at)});
    if (!made) return std::move(made).error();
    auto pointed = tx.exec("UPDATE erp_document_group SET open_document = $2, documents = $3 WHERE group_key = $1",
                           {join.group_key, id, seq});
    if (!pointed) return std::move(pointed).error();
    auto started = engine.start(tx, kErpDocumentWorkflow, id,
                                json{{"document_id", id}, {"closes_at_ms", workflow::epoch_ms(closes_at)}}, id);
    if (!started) return std::move(started).error();
  } else if (join.currency) {
    // The first priced record names the currency of a document opened without one.
    auto named =
        tx.exec("UPDATE erp_document SET currency = $2 WHERE id = $1 AND currency IS NULL", {id, *join.currency});
    if (!named) return std::move(named).error();
  }
  for (const auto& l : join.lines) {
    auto r = tx.exec(
        "INSERT INTO erp_document_line (document_id, member_key, order_id, sku, quantity_e5, unit_price_minor) VALUES "
        "($1, $2, $3, $4, $5, $6) ON CONFLICT (document_id, member_key) DO NOTHING",
        {id, l.member_key, l.order_id, l.sku, l.quantity_e5,
         l.unit_price_minor ? store::Param(*l.unit_price_minor) : store::Param(std::monostate{})});
    if (!r) return std::move(r).error();
  }
  return id;
}

}  // namespace

std::string_view to_string(ErpDocumentKind kind) noexcept {
  return kind == ErpDocumentKind::return_ ? "return" : "sale_batch";
}

std::string erp_external_document_number(std::string_view text, std::string_view suffix) {
  if (text.size() + suffix.size() <= kMaxExternalDocumentNumber) return std::string(text) + std::string(suffix);
  const std::string hash = "~" + sha256_hex(text).substr(0, 8);
  const std::size_t room = kMaxExternalDocumentNumber - std::min(suffix.size(), kMaxExternalDocumentNumber - 9) - 9;
  std::size_t cut = std::min(room, text.size());
  // Not inside a UTF-8 sequence: back up over continuation bytes.
  while (cut > 0 && cut < text.size() && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  std::string out = std::string(text.substr(0, cut)) + hash + std::string(suffix);
  return out.substr(0, kMaxExternalDocumentNumber);
}

std::string batch_external_document_number(std::string_view location, workflow::TimePoint opened_at, std::int64_t seq) {
  const std::time_t t = std::chrono::system_clock::to_time_t(opened_at);
  std::tm utc{};
  ::gmtime_r(&t, &utc);
  char date[16];
  std::strftime(date, sizeof date, "%Y%m%d", &utc);
  return erp_external_document_number(location, "-" + std::string(date) + "-" + std::to_string(seq));
}

std::string_view order_channel(std::string_view order_id) noexcept {
  const auto colon = order_id.find(':');
  return colon == std::string_view::npos ? std::string_view() : order_id.substr(0, colon);
}

std::string return_external_document_number(std::string_view order_id, std::int64_t seq) {
  const auto colon = order_id.find(':');
  const std::string_view external = colon == std::string_view::npos ? order_id : order_id.substr(colon + 1);
  return erp_external_document_number(external, seq > 1 ? "-" + std::to_string(seq) : std::string());
}

Result<bool> claim_sale_booking(store::Transaction& tx, const std::string& order_id) {
  auto r =
      tx.exec("INSERT INTO erp_booked_order (order_id, document_id) VALUES ($1, $1) ON CONFLICT (order_id) DO NOTHING",
              {order_id});
  if (!r) return std::move(r).error();
  return r->affected == 1;
}

Result<std::optional<std::string>> join_sale_batch(store::Transaction& tx, workflow::Engine& engine,
                                                   const ErpDocumentSettings& settings, const model::Order& order,
                                                   workflow::TimePoint now) {
  if (!order.location)
    return make_error(Errc::invalid_argument, "order " + order.id + " has no location; the ERP document needs one");
  if (order.lines.empty()) return make_error(Errc::invalid_argument, "order " + order.id + " has no lines");
  Join join;
  join.kind = ErpDocumentKind::sale_batch;
  join.group_key = std::string(kBatchGroup) + *order.location;
  join.location = *order.location;
  join.currency = std::string(order.currency.code());
  join.posting_date = local_date(order.placed_at);
  for (const auto& line : order.lines) {
    PendingLine l{order.id + "|" + line.line_id, order.id, line.sku, line.quantity.scaled(), std::nullopt};
    if (line.unit_price && line.unit_price->currency() == order.currency) l.unit_price_minor = line.unit_price->minor();
    join.lines.push_back(std::move(l));
  }
  const std::string location = *order.location;
  join.id = [location](std::int64_t seq) { return "erp-batch:" + location + ":" + std::to_string(seq); };
  join.external_document_number = [location, now](std::int64_t seq) {
    return batch_external_document_number(location, now, seq);
  };
  join.booked_order_id = [](const std::string& id) { return id; };

  // The group first: two versions of one order recorded at once take turns
  // there, and the second sees the first's booking.
  auto group = lock_group(tx, join.group_key);
  if (!group) return std::move(group).error();
  auto member =
      tx.exec("INSERT INTO erp_booked_order (order_id, document_id) VALUES ($1, '') ON CONFLICT (order_id) DO NOTHING",
              {order.id});
  if (!member) return std::move(member).error();
  if (member->affected == 0) return std::optional<std::string>();  // booked before, in whatever document
  auto id = join_document(tx, engine, settings, join, *group, now);
  if (!id) return std::move(id).error();
  auto named = tx.exec("UPDATE erp_booked_order SET document_id = $2 WHERE order_id = $1", {order.id, *id});
  if (!named) return std::move(named).error();
  return std::optional<std::string>(*id);
}

Result<std::string> join_return(store::Transaction& tx, workflow::Engine& engine, const ErpDocumentSettings& settings,
                                const model::InventoryMovement& movement, workflow::TimePoint now) {
  if (movement.kind != model::MovementKind::return_ || !movement.order_id || !movement.quantity_delta ||
      movement.quantity_delta->scaled() <= 0)
    return make_error(Errc::invalid_argument,
                      "movement " + movement.movement_id + " is not a return of an order (kind return, quantity > 0)");
  const std::string order_id = *movement.order_id;
  Join join;
  join.kind = ErpDocumentKind::return_;
  join.group_key = std::string(kReturnGroup) + order_id;
  join.location = movement.location;
  join.posting_date = local_date(movement.occurred_at);
  join.lines.push_back(
      PendingLine{movement.movement_id, order_id, movement.sku, movement.quantity_delta->scaled(), std::nullopt});
  join.id = [order_id](std::int64_t seq) { return "erp-return:" + order_id + ":" + std::to_string(seq); };
  join.external_document_number = [order_id](std::int64_t seq) {
    return return_external_document_number(order_id, seq);
  };
  join.booked_order_id = [order_id](const std::string&) { return order_id; };
  auto group = lock_group(tx, join.group_key);
  if (!group) return std::move(group).error();
  return join_document(tx, engine, settings, join, *group, now);
}

Result<std::optional<ClosedErpDocument>> close_erp_document(store::Transaction& tx, const std::string& id,
                                                            workflow::TimePoint now) {
  auto doc = tx.exec(
      "SELECT kind, group_key, booked_order_id, external_document_number, location, currency, posting_date, status "
      "FROM erp_document WHERE id = $1",
      {id});
  if (!doc) return std::move(doc).error();
  if (doc->rows.empty()) return make_error(Errc::not_found, "erp document " + id + " does not exist");
  const store::Row row = doc->rows[0];
  const std::string group_key = text(row, 1).value_or("");
  // Every record that joined it holds the group's row until it commits; after
  // this, none can join it.
  auto unpointed = tx.exec(
      "UPDATE erp_document_group SET open_document = CASE WHEN open_document = $2 THEN NULL ELSE open_document END "
      "WHERE group_key = $1",
      {group_key, id});
  if (!unpointed) return std::move(unpointed).error();
  auto closed = tx.exec("UPDATE erp_document SET status = 'closed', closed_at = $2 WHERE id = $1 AND status = 'open'",
                        {id, format_utc(now)});
  if (!closed) return std::move(closed).error();
  if (closed->affected == 0) return std::optional<ClosedErpDocument>();

  // The currency may have been named after the first read: read it again.
  auto currency = tx.exec("SELECT currency FROM erp_document WHERE id = $1", {id});
  if (!currency) return std::move(currency).error();
  ClosedErpDocument out;
  out.id = id;
  out.kind = text(row, 0).value_or("") == "return" ? ErpDocumentKind::return_ : ErpDocumentKind::sale_batch;
  out.booked_order_id = text(row, 2).value_or("");
  out.external_document_number = text(row, 3).value_or("");
  out.location = text(row, 4).value_or("");
  out.currency = currency->rows.empty() ? std::nullopt : text(currency->rows[0], 0);
  out.posting_date = text(row, 6).value_or("");
  auto lines = tx.exec(
      "SELECT sku, unit_price_minor, SUM(quantity_e5) FROM erp_document_line WHERE document_id = $1 GROUP BY sku, "
      "unit_price_minor ORDER BY sku, COALESCE(unit_price_minor, -1)",
      {id});
  if (!lines) return std::move(lines).error();
  for (const auto& l : lines->rows) {
    const std::int64_t quantity = std::stoll(text(l, 2).value_or("0"));
    if (quantity == 0) continue;
    ErpDocumentLine line{text(l, 0).value_or(""), Quantity::from_scaled(quantity), std::nullopt};
    if (auto price = text(l, 1)) line.unit_price_minor = std::stoll(*price);
    out.lines.push_back(std::move(line));
  }
  if (out.lines.empty()) return std::optional<ClosedErpDocument>();
  return std::optional<ClosedErpDocument>(std::move(out));
}

workflow::WorkflowType erp_document_workflow(PostErpDocument post) {
  workflow::Step close;
  close.name = "close";
  close.run = [post](workflow::StepContext& ctx) -> workflow::StepResult {
    const json& input = ctx.input();
    if (!input.contains("document_id") || !input["document_id"].is_string() || !input.contains("closes_at_ms") ||
        !input["closes_at_ms"].is_number_integer())
      return make_error(Errc::invalid_argument, "erp_document input is not {document_id, closes_at_ms}");
    const auto closes_at = workflow::from_epoch_ms(input["closes_at_ms"].get<std::int64_t>());
    const bool sealed = ctx.signal(kErpDocumentSealed).has_value();
    if (!sealed && ctx.now() < closes_at)
      return workflow::StepResult::wait_for_signal(
          kErpDocumentSealed, std::chrono::duration_cast<std::chrono::milliseconds>(closes_at - ctx.now()));
    const std::string id = input["document_id"].get<std::string>();
    const auto now = ctx.now();
    ctx.on_commit([post, id, now](store::Transaction& tx) -> Status {
      auto closed = close_erp_document(tx, id, now);
      if (!closed) return std::move(closed).error();
      if (!*closed || !post) return Ok{};
      return post(tx, **closed);
    });
    return workflow::StepResult::done();
  };
  workflow::WorkflowType type{kErpDocumentWorkflow, {std::move(close)}};
  type.signalled_from_steps = true;  // sealed by the join that no longer fits (join_document)
  return type;
}

}  // namespace trueup::inventory
