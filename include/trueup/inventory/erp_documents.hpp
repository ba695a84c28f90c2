#pragma once
// ERP documents that book several records at once, with their membership
// decided in the transaction that records each record:
//
// - a per-store batch (erp.posting: per_store_batch): the POS receipts and
//   channel sales of one location recorded while its document is open, booked
//   as ONE sales document with the lines summed per SKU and unit price;
// - a return: the return movements of one order (a POS return order, a
//   channel refund's restock) recorded while its document is open, booked as
//   one credit memo.
//
// Tables: migrations/*/0011_erp_documents.sql. A record joins the open
// document of its group ("sale_batch|<location>", "return|<order id>") after
// locking the group's row, so joins and the close are serialised (PostgreSQL
// READ COMMITTED included). The first record of a group opens a document:
// seq = the group's documents + 1, closes_at = now + the window, and an
// "erp_document" workflow (correlation and dedupe key = the document id).
// A record the open document cannot take (another location or currency, or
// past max_lines different SKU-and-price lines) seals it (the sealed document
// is closed at once) and opens the next one.
//
// The workflow's one step waits until closes_at (or the seal signal), then,
// in the transaction that completes it, closes the document (no record joins
// it any more), sums its lines and hands them to `post` (the daemon starts
// the connector_outbound post_sale / post_return workflow there, dedupe key
// "erp:<document id>"): booked exactly once.
//
// Numbers (erp_external_document_number: at most 35 characters, BC's limit):
//   batch   id "erp-batch:<location>:<seq>"; external document number
//           "<location>-<yyyymmdd>-<seq>" (the opening date, UTC); the ERP's
//           ledger entries carry the document id as their order id, and the
//           ledger matches them with the provisional movements of every order
//           in the batch (erp_booked_order; ledger.hpp).
//   return  id "erp-return:<order id>:<seq>"; external document number = the
//           order's external id (the canonical "<channel>:<external id>"
//           without the channel; Square: the return order's id), "-<seq>"
//           from the second document of the order on; the entries carry the
//           order id the return movements have.
//
// Every booked sale is recorded in erp_booked_order (per receipt: under its
// own id), so a sale is booked in one document whatever the posting mode was.
//
// Thread-safety: free functions over the caller's transaction; the workflow
// type's callbacks run on engine threads.

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "trueup/core/money.hpp"
#include "trueup/model/inventory_movement.hpp"
#include "trueup/model/order.hpp"
#include "trueup/store/store.hpp"
#include "trueup/workflow/definition.hpp"
#include "trueup/workflow/engine.hpp"

namespace trueup::inventory {

inline constexpr const char* kErpDocumentWorkflow = "erp_document";
// The signal that closes a sealed document before its window ends.
inline constexpr const char* kErpDocumentSealed = "erp_document_sealed";
inline constexpr std::size_t kMaxExternalDocumentNumber = 35;

enum class ErpDocumentKind { sale_batch, return_ };
std::string_view to_string(ErpDocumentKind kind) noexcept;  // "sale_batch", "return"

struct ErpDocumentSettings {
  std::chrono::milliseconds window{900000};  // how long a document stays open after its first record
  std::size_t max_lines = 500;               // different (SKU, unit price) lines a document takes
};

// A closed document's summed line.
struct ErpDocumentLine {
  std::string sku;
  Quantity quantity;
  std::optional<std::int64_t> unit_price_minor;  // in the document's currency; absent: none given

  friend bool operator==(const ErpDocumentLine&, const ErpDocumentLine&) = default;
};

// What a closed document books.
struct ClosedErpDocument {
  std::string id;
  ErpDocumentKind kind = ErpDocumentKind::sale_batch;
  std::string booked_order_id;  // the order id the ERP's ledger entries must carry
  std::string external_document_number;
  std::string location;
  std::string posting_date;             // YYYY-MM-DD
  std::optional<std::string> currency;  // ISO 4217; absent: no line has a price
  std::vector<ErpDocumentLine> lines;   // summed per (sku, unit price), ordered by them; quantities != 0
};

// ---- Numbers ------------------------------------------------------------------

// `text` if it has at most 35 bytes; else its start (cut at a UTF-8 boundary),
// "~" and 8 hex digits of its SHA-256, then `suffix` kept whole, 35 bytes at
// most in all. Deterministic: every retry computes the same number.
std::string erp_external_document_number(std::string_view text, std::string_view suffix = {});
// "<location>-<yyyymmdd>-<seq>" (the location shortened when needed).
std::string batch_external_document_number(std::string_view location, workflow::TimePoint opened_at, std::int64_t seq);
// The order's external id (after the first ':' of a canonical order id; the
// whole id without one), with "-<seq>" when seq > 1.
std::string return_external_document_number(std::string_view order_id, std::int64_t seq);
// The channel of a canonical order id ("<channel>:<external id>"); "" without ':'.
std::string_view order_channel(std::string_view order_id) noexcept;

// ---- Joining ------------------------------------------------------------------

// The order version's lines join its location's open batch (one membership
// per order: a sale already in erp_booked_order joins nothing). Returns the
// document id, or nullopt when the order was booked before.
// invalid_argument: no location or no lines (the caller reports it).
Result<std::optional<std::string>> join_sale_batch(store::Transaction& tx, workflow::Engine& engine,
                                                   const ErpDocumentSettings& settings, const model::Order& order,
                                                   workflow::TimePoint now);

// A sale booked in a document of its own (per receipt): recorded in
// erp_booked_order under its own id. False when it was booked before (in any
// document): then nothing is to be booked.
Result<bool> claim_sale_booking(store::Transaction& tx, const std::string& order_id);

// A return movement (kind return, quantity > 0, an order id) joins its
// order's open return document. Returns the document id.
Result<std::string> join_return(store::Transaction& tx, workflow::Engine& engine, const ErpDocumentSettings& settings,
                                const model::InventoryMovement& movement, workflow::TimePoint now);

// ---- Closing ------------------------------------------------------------------

// Called in the transaction that closes a document with lines; an error
// rolls the close back (the workflow retries it when retryable).
using PostErpDocument = std::function<Status(store::Transaction&, const ClosedErpDocument&)>;

// Closes document `id` if still open (locks its group, so every record that
// joined it has committed) and returns it summed; nullopt when it was closed
// already or holds no line.
Result<std::optional<ClosedErpDocument>> close_erp_document(store::Transaction& tx, const std::string& id,
                                                            workflow::TimePoint now);

// The "erp_document" workflow type (see above). `post` must outlive it.
workflow::WorkflowType erp_document_workflow(PostErpDocument post);

}  // namespace trueup::inventory
