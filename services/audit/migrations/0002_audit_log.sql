-- The append-only audit log. Rows are never changed or removed: a trigger refuses UPDATE,
-- DELETE and TRUNCATE, and each row carries sha256(prev_hash || canonical JSON of the row)
-- so an edit made behind the trigger's back (a superuser disabling it) is detectable by
-- GET /audit/verify. ids are the chain's positions: 1, 2, 3... with no gaps.
CREATE TABLE IF NOT EXISTS audit_log (
    id             BIGINT      PRIMARY KEY CHECK (id > 0),
    event_id       TEXT        NOT NULL UNIQUE,
    topic          TEXT        NOT NULL,
    event_type     TEXT        NOT NULL,
    source         TEXT        NOT NULL,
    subject        TEXT,
    transaction_id TEXT,
    customer_id    TEXT,
    data           JSONB       NOT NULL,
    event_time     TIMESTAMPTZ,
    recorded_at    TIMESTAMPTZ NOT NULL,
    prev_hash      TEXT        NOT NULL CHECK (prev_hash ~ '^[0-9a-f]{64}$'),
    hash           TEXT        NOT NULL UNIQUE CHECK (hash ~ '^[0-9a-f]{64}$')
);
CREATE INDEX IF NOT EXISTS audit_log_transaction ON audit_log (transaction_id, id) WHERE transaction_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS audit_log_customer ON audit_log (customer_id, id) WHERE customer_id IS NOT NULL;

CREATE OR REPLACE FUNCTION audit_log_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log;
CREATE TRIGGER audit_log_append_only
    BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_refuse_change();

DROP TRIGGER IF EXISTS audit_log_no_truncate ON audit_log;
CREATE TRIGGER audit_log_no_truncate
    BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse_change();
