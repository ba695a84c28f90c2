-- With an ERP configured as authoritative for on-hand (erp.connector), a
-- movement seen first at a POS or channel counts as provisional until the
-- ERP's ledger shows it (same order, SKU and location: match_key); then the
-- ERP's figure replaces it and it is never counted twice. ERP counts win over
-- the provisional movements that happened before them. on_hand_e5 stays the
-- effective figure: confirmed_e5 + provisional_e5.
--
-- inventory_ledger.status:
--   applied            counted into confirmed (the ERP's, or every movement when no ERP is set)
--   provisional        counted into provisional, waiting for the ERP
--   matched            was provisional; the ERP's movement with its match_key replaced it
--   superseded         was provisional; an ERP count that happened after it replaced it
--   already_confirmed  arrived after its ERP twin: recorded, not counted
--   observed           a count from another system while the ERP is authoritative: recorded, not counted
ALTER TABLE inventory_ledger ADD COLUMN status TEXT NOT NULL DEFAULT 'applied';
ALTER TABLE inventory_ledger ADD COLUMN source_system TEXT NOT NULL DEFAULT '';
ALTER TABLE inventory_ledger ADD COLUMN match_key TEXT;
CREATE INDEX inventory_ledger_match_idx ON inventory_ledger (match_key) WHERE match_key IS NOT NULL;
CREATE INDEX inventory_ledger_provisional_idx ON inventory_ledger (sku, location) WHERE status = 'provisional';

ALTER TABLE stock_position ADD COLUMN confirmed_e5 BIGINT NOT NULL DEFAULT 0;
ALTER TABLE stock_position ADD COLUMN provisional_e5 BIGINT NOT NULL DEFAULT 0;
UPDATE stock_position SET confirmed_e5 = on_hand_e5;
