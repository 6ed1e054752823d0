-- KYC records, their verification attempts, and the tiers whose limits risk enforces.
-- Tier limits are data: change them here (a new migration) or in the table, not in code.
CREATE TABLE IF NOT EXISTS kyc_tiers (
    tier              SMALLINT PRIMARY KEY CHECK (tier BETWEEN 0 AND 9),
    name              TEXT        NOT NULL,
    currency          CHAR(3)     NOT NULL,
    per_payment_minor BIGINT      NOT NULL CHECK (per_payment_minor > 0),
    daily_minor       BIGINT      NOT NULL CHECK (daily_minor >= per_payment_minor),
    updated_at        TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- USD minor units. Tier 0 still pays the seed's demo amounts (an unverified customer is
-- challenged with an OTP by risk, not refused); limits grow with the tier.
INSERT INTO kyc_tiers (tier, name, currency, per_payment_minor, daily_minor) VALUES
    (0, 'unverified', 'USD', 1000000, 2000000),
    (1, 'verified', 'USD', 2500000, 5000000),
    (2, 'enhanced', 'USD', 5000000, 10000000),
    (3, 'premium', 'USD', 10000000, 25000000)
ON CONFLICT (tier) DO NOTHING;

CREATE TABLE IF NOT EXISTS kyc_records (
    customer_id             TEXT PRIMARY KEY,
    status                  TEXT        NOT NULL DEFAULT 'UNVERIFIED'
        CHECK (status IN ('UNVERIFIED', 'PENDING', 'VERIFIED', 'REJECTED', 'MANUAL_REVIEW')),
    tier                    SMALLINT    NOT NULL DEFAULT 0 REFERENCES kyc_tiers (tier),
    full_name               TEXT,
    date_of_birth           DATE,
    country                 CHAR(2),
    address                 TEXT,
    document_type           TEXT,
    -- Never the whole document number: its last characters and an HMAC fingerprint.
    document_last4          TEXT,
    document_fingerprint    TEXT,
    reasons                 JSONB       NOT NULL DEFAULT '[]'::jsonb,
    current_verification_id UUID,
    reviewed_by             TEXT,
    review_note             TEXT,
    version                 INTEGER     NOT NULL DEFAULT 1,
    created_at              TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at              TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS kyc_records_status ON kyc_records (status, updated_at);

CREATE TABLE IF NOT EXISTS kyc_verifications (
    verification_id UUID PRIMARY KEY,
    customer_id     TEXT        NOT NULL REFERENCES kyc_records (customer_id),
    submitted_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    completed_at    TIMESTAMPTZ,
    outcome         TEXT CHECK (outcome IN ('VERIFIED', 'REJECTED', 'MANUAL_REVIEW')),
    reasons         JSONB       NOT NULL DEFAULT '[]'::jsonb,
    checks          JSONB       NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX IF NOT EXISTS kyc_verifications_customer ON kyc_verifications (customer_id, submitted_at);
