-- Reconciliation resumes where it stopped instead of rereading the bank's whole history.
-- One row: the last bank transfer id reconciled, and the cutoff up to which our captures
-- were checked against the bank.
CREATE TABLE reconciliation_cursor (
    singleton        BOOLEAN     PRIMARY KEY DEFAULT TRUE CHECK (singleton),
    last_transfer_id BIGINT      NOT NULL DEFAULT 0 CHECK (last_transfer_id >= 0),
    ledger_cutoff    TIMESTAMPTZ,
    updated_at       TIMESTAMPTZ NOT NULL DEFAULT now()
);
INSERT INTO reconciliation_cursor DEFAULT VALUES;

-- Breaks about one transfer or payment stay open (and are re-checked by reference on every
-- run) until both sides agree; the cursor moves on regardless.
CREATE TABLE reconciliation_open_items (
    reference  TEXT        PRIMARY KEY,
    kind       TEXT        NOT NULL,
    first_seen TIMESTAMPTZ NOT NULL DEFAULT now()
);

ALTER TABLE reconciliation_runs ADD COLUMN cutoff TIMESTAMPTZ;
ALTER TABLE reconciliation_runs ADD COLUMN transfers_read INTEGER NOT NULL DEFAULT 0;
