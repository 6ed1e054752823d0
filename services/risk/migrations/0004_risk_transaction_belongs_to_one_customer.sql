-- A transaction id belongs to the customer it was first assessed for. The customer's lock
-- alone let two customers' first assessments of one transaction id both find no owner and
-- both be recorded: `record_assessment` now also takes the transaction id's lock (always
-- after the customer's, as store.lock_customer does, so none waits in a cycle); the second
-- then sees the first's row, records nothing, and its locked re-evaluation refuses it.
CREATE OR REPLACE FUNCTION record_assessment(
    p_expected_owner TEXT, p_expected_transactions BIGINT, p_expected_spent_minor NUMERIC,
    p_window_h INTEGER, p_spending TEXT[],
    p_assessment_id UUID, p_transaction_id TEXT, p_customer_id TEXT, p_amount_minor BIGINT,
    p_currency TEXT, p_from_account TEXT, p_to_account TEXT, p_decision TEXT,
    p_risk_score INTEGER, p_risk_level TEXT, p_reasons JSONB, p_factors JSONB,
    p_rules_version TEXT
) RETURNS SETOF assessments LANGUAGE plpgsql AS $$
DECLARE
    seen RECORD;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended('risk:' || p_customer_id, 0));
    PERFORM pg_advisory_xact_lock(hashtextextended('risk-transaction:' || p_transaction_id, 0));
    SELECT * INTO seen
        FROM assessment_history(p_customer_id, p_transaction_id, p_currency, p_window_h, p_spending);
    IF seen.owner IS DISTINCT FROM p_expected_owner
       OR seen.transactions <> p_expected_transactions
       OR seen.spent_minor <> p_expected_spent_minor THEN
        RETURN;
    END IF;
    RETURN QUERY
        INSERT INTO assessments (assessment_id, transaction_id, customer_id, amount_minor, currency,
                                 from_account, to_account, decision, risk_score, risk_level,
                                 reasons, factors, rules_version)
        VALUES (p_assessment_id, p_transaction_id, p_customer_id, p_amount_minor, p_currency,
                p_from_account, p_to_account, p_decision, p_risk_score, p_risk_level,
                p_reasons, p_factors, p_rules_version)
        RETURNING *;
END $$;
