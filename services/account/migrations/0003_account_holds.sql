-- Two-phase holds (TigerBeetle pending -> posted | voided), keyed by the caller's payment id.
CREATE TABLE holds (
    hold_id        TEXT        PRIMARY KEY,
    account_number TEXT        NOT NULL REFERENCES accounts (account_number),
    to_account     TEXT        NOT NULL REFERENCES accounts (account_number),
    amount_minor   BIGINT      NOT NULL CHECK (amount_minor > 0),
    currency       CHAR(3)     NOT NULL,
    customer_id    TEXT,
    status         TEXT        NOT NULL
                   CHECK (status IN ('PENDING', 'POSTED', 'VOIDED', 'EXPIRED', 'FAILED')),
    failure_code   TEXT,
    captured_minor BIGINT      NOT NULL DEFAULT 0,
    entry_id       TEXT        REFERENCES journal_entries (entry_id),
    expires_at     TIMESTAMPTZ NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    resolved_at    TIMESTAMPTZ,
    CONSTRAINT holds_captured_within_amount CHECK (captured_minor >= 0 AND captured_minor <= amount_minor),
    CONSTRAINT holds_failure_code CHECK ((status = 'FAILED') = (failure_code IS NOT NULL)),
    CONSTRAINT holds_posted_has_entry CHECK ((status = 'POSTED') = (entry_id IS NOT NULL)),
    CONSTRAINT holds_posted_captured CHECK ((status = 'POSTED') = (captured_minor > 0)),
    CONSTRAINT holds_resolved_at CHECK ((status = 'PENDING') = (resolved_at IS NULL))
);
CREATE INDEX holds_pending_expiry ON holds (expires_at) WHERE status = 'PENDING';
CREATE INDEX holds_account ON holds (account_number, status);
