-- The simulated sponsor bank's own books: its accounts, the transfers it executed or
-- rejected, and the deterministic fault schedule tests use to make it misbehave.

CREATE TABLE bank_accounts (
    account_number TEXT        PRIMARY KEY,
    holder_name    TEXT        NOT NULL,
    currency       CHAR(3)     NOT NULL,
    balance_minor  BIGINT      NOT NULL CHECK (balance_minor >= 0),
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at     TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- One row per reference (the caller's idempotency key), whatever the outcome, so a retry
-- is answered from here and never executes twice. `id` is the paging cursor: rows are
-- inserted under a transaction-scoped advisory lock, so ids commit in order and a reader
-- paging by `id > after_id` never skips a row that commits late.
CREATE TABLE transfers (
    id                   BIGSERIAL   PRIMARY KEY,
    reference            TEXT        NOT NULL UNIQUE,
    reference_number     TEXT        NOT NULL UNIQUE,
    from_account         TEXT        NOT NULL,
    to_account           TEXT        NOT NULL,
    amount_minor         BIGINT      NOT NULL CHECK (amount_minor > 0),
    currency             CHAR(3)     NOT NULL,
    status               TEXT        NOT NULL CHECK (status IN ('COMPLETED', 'REJECTED')),
    error_code           TEXT,
    message              TEXT,
    processing_fee_minor BIGINT      NOT NULL DEFAULT 0 CHECK (processing_fee_minor >= 0),
    created_at           TIMESTAMPTZ NOT NULL DEFAULT now(),
    processed_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK ((status = 'COMPLETED') = (error_code IS NULL))
);

-- Injected faults, consumed in id order, `remaining` calls each. Kept in the database so
-- the schedule is shared by every worker of the bank and survives a restart.
CREATE TABLE fault_schedule (
    id         BIGSERIAL   PRIMARY KEY,
    mode       TEXT        NOT NULL
               CHECK (mode IN ('latency', 'error_5xx', 'timeout_after_execute', 'decline')),
    remaining  INTEGER     NOT NULL CHECK (remaining >= 0),
    latency_ms INTEGER     NOT NULL DEFAULT 0 CHECK (latency_ms >= 0),
    error_code TEXT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX fault_schedule_pending ON fault_schedule (id) WHERE remaining > 0;
