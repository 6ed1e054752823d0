-- Payments and their state machine, enforced by the database (DESIGN §3).
CREATE TABLE payment_states (state TEXT PRIMARY KEY, terminal BOOLEAN NOT NULL);
INSERT INTO payment_states VALUES
    ('REQUIRES_CONFIRMATION', false), ('REQUIRES_OTP', false), ('UNDER_REVIEW', false),
    ('FUNDS_HELD', false), ('PROCESSING', false),
    ('COMPLETED', true), ('FAILED', true), ('DECLINED', true);

CREATE TABLE payment_state_transitions (
    from_state TEXT NOT NULL REFERENCES payment_states,
    to_state   TEXT NOT NULL REFERENCES payment_states,
    PRIMARY KEY (from_state, to_state)
);
INSERT INTO payment_state_transitions VALUES
    ('REQUIRES_CONFIRMATION', 'DECLINED'), ('REQUIRES_CONFIRMATION', 'UNDER_REVIEW'),
    ('REQUIRES_CONFIRMATION', 'REQUIRES_OTP'), ('REQUIRES_CONFIRMATION', 'FUNDS_HELD'),
    ('REQUIRES_CONFIRMATION', 'FAILED'),
    ('REQUIRES_OTP', 'FUNDS_HELD'), ('REQUIRES_OTP', 'FAILED'),
    ('UNDER_REVIEW', 'FUNDS_HELD'), ('UNDER_REVIEW', 'DECLINED'), ('UNDER_REVIEW', 'FAILED'),
    ('FUNDS_HELD', 'PROCESSING'), ('FUNDS_HELD', 'FAILED'),
    ('PROCESSING', 'COMPLETED'), ('PROCESSING', 'FAILED');

CREATE TABLE payments (
    payment_id     TEXT PRIMARY KEY,
    transaction_id TEXT        NOT NULL,
    customer_id    TEXT        NOT NULL,
    amount_minor   BIGINT      NOT NULL CHECK (amount_minor > 0),
    currency       CHAR(3)     NOT NULL,
    from_account   TEXT        NOT NULL,
    to_account     TEXT        NOT NULL CHECK (to_account <> from_account),
    state          TEXT        NOT NULL DEFAULT 'REQUIRES_CONFIRMATION' REFERENCES payment_states,
    risk_decision  TEXT,
    risk_score     INTEGER,
    risk_reasons   JSONB,
    failure_code   TEXT,
    failure_detail TEXT,
    bank_reference TEXT,
    bank_status    TEXT,
    lease_until    TIMESTAMPTZ,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    confirmed_at   TIMESTAMPTZ,
    completed_at   TIMESTAMPTZ,
    UNIQUE (customer_id, transaction_id)
);
CREATE INDEX payments_unresolved ON payments (state, updated_at)
    WHERE state IN ('FUNDS_HELD', 'PROCESSING');

CREATE TABLE payment_history (
    id         BIGSERIAL PRIMARY KEY,
    payment_id TEXT        NOT NULL REFERENCES payments,
    from_state TEXT,
    to_state   TEXT        NOT NULL,
    reason     TEXT,
    at         TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE FUNCTION check_payment_transition() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.state IS DISTINCT FROM OLD.state THEN
        IF NOT EXISTS (SELECT 1 FROM payment_state_transitions
                       WHERE from_state = OLD.state AND to_state = NEW.state) THEN
            RAISE EXCEPTION 'illegal payment transition % -> %', OLD.state, NEW.state
                USING ERRCODE = 'check_violation';
        END IF;
        INSERT INTO payment_history (payment_id, from_state, to_state, reason)
            VALUES (NEW.payment_id, OLD.state, NEW.state, NEW.failure_code);
    END IF;
    IF NEW.amount_minor <> OLD.amount_minor OR NEW.currency <> OLD.currency
       OR NEW.from_account <> OLD.from_account OR NEW.to_account <> OLD.to_account
       OR NEW.customer_id <> OLD.customer_id THEN
        RAISE EXCEPTION 'payment terms are immutable' USING ERRCODE = 'check_violation';
    END IF;
    NEW.updated_at := now();
    RETURN NEW;
END $$;
CREATE TRIGGER payments_transition BEFORE UPDATE ON payments
    FOR EACH ROW EXECUTE FUNCTION check_payment_transition();

CREATE FUNCTION record_payment_creation() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO payment_history (payment_id, from_state, to_state) VALUES (NEW.payment_id, NULL, NEW.state);
    RETURN NEW;
END $$;
CREATE TRIGGER payments_created AFTER INSERT ON payments
    FOR EACH ROW EXECUTE FUNCTION record_payment_creation();
