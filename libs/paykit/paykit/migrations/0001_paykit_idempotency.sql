-- Idempotency keys (Stripe semantics): scoped to principal and route, with a lease so a
-- crashed request does not wedge its key, and the first final response kept for replay.
CREATE TABLE IF NOT EXISTS idempotency_keys (
    principal        TEXT        NOT NULL,
    route            TEXT        NOT NULL,
    idempotency_key  TEXT        NOT NULL,
    fingerprint      TEXT        NOT NULL,
    locked_until     TIMESTAMPTZ,
    response_status  INTEGER,
    response_body    BYTEA,
    response_headers JSONB,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at       TIMESTAMPTZ NOT NULL DEFAULT now() + interval '24 hours',
    PRIMARY KEY (principal, route, idempotency_key)
);
CREATE INDEX IF NOT EXISTS idempotency_keys_expiry ON idempotency_keys (expires_at);
