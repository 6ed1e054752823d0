-- Hits of re-screening: when a sanctions list gains or changes parties, the ofac service
-- screens every customer against the changes and records each hit here (one row per list
-- version and listed party, so a retried call records nothing twice). The customer's record
-- goes to MANUAL_REVIEW in the same transaction.
CREATE TABLE IF NOT EXISTS kyc_sanctions_hits (
    customer_id   TEXT         NOT NULL REFERENCES kyc_records (customer_id),
    list_name     TEXT         NOT NULL,
    list_version  TEXT         NOT NULL,
    entity_id     TEXT         NOT NULL,
    entity_name   TEXT         NOT NULL,
    score         NUMERIC(5,4) NOT NULL CHECK (score BETWEEN 0 AND 1),
    band          TEXT         NOT NULL CHECK (band IN ('BLOCK', 'REVIEW')),
    screened_name TEXT         NOT NULL,
    created_at    TIMESTAMPTZ  NOT NULL DEFAULT now(),
    PRIMARY KEY (customer_id, list_name, list_version, entity_id)
);
