-- Each reconciliation run against the partner bank and the breaks it found.
CREATE TABLE reconciliation_runs (
    run_id      BIGSERIAL   PRIMARY KEY,
    started_at  TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    status      TEXT        NOT NULL CHECK (status IN ('COMPLETED', 'FAILED')),
    error       TEXT,
    open_breaks INTEGER     NOT NULL DEFAULT 0 CHECK (open_breaks >= 0)
);
CREATE INDEX reconciliation_runs_completed ON reconciliation_runs (run_id DESC) WHERE status = 'COMPLETED';

CREATE TABLE reconciliation_breaks (
    break_id       BIGSERIAL PRIMARY KEY,
    run_id         BIGINT    NOT NULL REFERENCES reconciliation_runs (run_id),
    kind           TEXT      NOT NULL,
    account_number TEXT,
    reference      TEXT,
    ours           JSONB,
    bank           JSONB,
    detail         TEXT      NOT NULL DEFAULT ''
);
CREATE INDEX reconciliation_breaks_run ON reconciliation_breaks (run_id);
