-- ERP documents that book several records at once (inventory/erp_documents.hpp):
-- the receipts of one store while its batch is open (erp.posting:
-- per_store_batch), or the return lines of one order (a POS return order, a
-- channel refund's restock). A record joins its document in the transaction
-- that records it; a workflow ("erp_document") closes the document when its
-- window ends and books it once (connector_outbound, dedupe key
-- erp:<document id>).

-- One row per store (batches) or returned order: the document taking records
-- now, and how many documents the group has had (the next one's seq is
-- documents + 1). A join and a close lock this row first.
CREATE TABLE erp_document_group (
    group_key     TEXT PRIMARY KEY,        -- "sale_batch|<location>" or "return|<order id>"
    open_document TEXT,                    -- NULL: none open
    documents     INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE erp_document (
    id                       TEXT PRIMARY KEY,  -- erp-batch:<location>:<seq> or erp-return:<order id>:<seq>
    kind                     TEXT NOT NULL,     -- sale_batch | return
    group_key                TEXT NOT NULL,
    seq                      INTEGER NOT NULL,
    booked_order_id          TEXT NOT NULL,     -- the order id the ERP's ledger entries of it carry
    external_document_number TEXT NOT NULL,
    location                 TEXT NOT NULL,
    currency                 TEXT,              -- NULL: no line has a price
    posting_date             TEXT NOT NULL,     -- YYYY-MM-DD
    status                   TEXT NOT NULL,     -- open | closed
    opened_at                TEXT NOT NULL,     -- UTC, RFC 3339
    closes_at                TEXT NOT NULL,
    closed_at                TEXT,
    UNIQUE (group_key, seq)
);

-- What each record put into its document; summed per SKU and unit price
-- when the document closes.
CREATE TABLE erp_document_line (
    document_id      TEXT NOT NULL,
    member_key       TEXT NOT NULL,        -- "<order id>|<line id>" (batches), the movement id (returns)
    order_id         TEXT NOT NULL,
    sku              TEXT NOT NULL,
    quantity_e5      INTEGER NOT NULL,
    unit_price_minor INTEGER,               -- in the document's currency; NULL: none given
    PRIMARY KEY (document_id, member_key)
);

-- The ERP document each booked sale is in: its own id (erp.posting:
-- per_receipt) or its batch's. The stock ledger matches an ERP entry that
-- carries a document id with the provisional movements of the document's
-- orders, and a sale is booked in one document only, whatever the posting
-- mode was when it came.
CREATE TABLE erp_booked_order (
    order_id    TEXT PRIMARY KEY,
    document_id TEXT NOT NULL
);
CREATE INDEX erp_booked_order_document_idx ON erp_booked_order (document_id);

-- Sales booked before this table existed were booked per receipt.
INSERT INTO erp_booked_order (order_id, document_id)
SELECT substr(dedupe_key, 5), substr(dedupe_key, 5) FROM trueup_workflow
WHERE type = 'connector_outbound' AND dedupe_key LIKE 'erp:%'
ON CONFLICT (order_id) DO NOTHING;
