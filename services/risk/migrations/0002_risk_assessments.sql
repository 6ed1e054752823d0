-- Every risk assessment, append-only: velocity and the KYC daily limit are computed from
-- this history (never from another service's tables), and it is the record of why a
-- payment was allowed, challenged, reviewed or denied.
CREATE TABLE IF NOT EXISTS assessments (
    id             BIGSERIAL   PRIMARY KEY,
    assessment_id  UUID        NOT NULL UNIQUE,
    transaction_id TEXT        NOT NULL CHECK (length(transaction_id) BETWEEN 1 AND 128),
    customer_id    TEXT        NOT NULL CHECK (length(customer_id) BETWEEN 1 AND 64),
    amount_minor   BIGINT      NOT NULL CHECK (amount_minor > 0),
    currency       CHAR(3)     NOT NULL,
    from_account   TEXT,
    to_account     TEXT,
    decision       TEXT        NOT NULL CHECK (decision IN ('ALLOW', 'CHALLENGE', 'REVIEW', 'DENY')),
    risk_score     INTEGER     NOT NULL CHECK (risk_score >= 0),
    risk_level     TEXT        NOT NULL CHECK (risk_level IN ('LOW', 'HIGH')),
    reasons        JSONB       NOT NULL,
    factors        JSONB       NOT NULL,
    rules_version  TEXT        NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS assessments_customer_time ON assessments (customer_id, created_at DESC);
CREATE INDEX IF NOT EXISTS assessments_transaction ON assessments (transaction_id, created_at DESC);

CREATE OR REPLACE FUNCTION assessments_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'assessments are append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;

DROP TRIGGER IF EXISTS assessments_append_only ON assessments;
CREATE TRIGGER assessments_append_only
    BEFORE UPDATE OR DELETE ON assessments
    FOR EACH ROW EXECUTE FUNCTION assessments_refuse_change();

DROP TRIGGER IF EXISTS assessments_no_truncate ON assessments;
CREATE TRIGGER assessments_no_truncate
    BEFORE TRUNCATE ON assessments
    FOR EACH STATEMENT EXECUTE FUNCTION assessments_refuse_change();
