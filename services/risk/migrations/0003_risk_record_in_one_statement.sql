-- The history an assessment is evaluated against: the customer the transaction was first
-- assessed for, if any; the other transactions of the customer in the window (counted once
-- however often they were assessed) and the sum of those whose latest decision lets them be
-- paid. One definition for the read before evaluating and the check when recording. A plain
-- SQL set-returning function, so the planner inlines it where it is called.
CREATE FUNCTION assessment_history(
    p_customer_id TEXT, p_transaction_id TEXT, p_currency TEXT, p_window_h INTEGER,
    p_spending TEXT[]
) RETURNS TABLE (transactions BIGINT, spent_minor NUMERIC, owner TEXT)
LANGUAGE sql STABLE AS $$
    WITH latest AS (
        SELECT DISTINCT ON (transaction_id) transaction_id, amount_minor, currency, decision
        FROM assessments
        WHERE customer_id = p_customer_id
          AND transaction_id <> p_transaction_id
          AND created_at > now() - make_interval(hours => p_window_h)
        ORDER BY transaction_id, id DESC
    )
    SELECT count(*),
           coalesce(sum(amount_minor) FILTER (
               WHERE currency = p_currency AND decision = ANY(p_spending)), 0),
           (SELECT customer_id FROM assessments WHERE transaction_id = p_transaction_id
             ORDER BY id LIMIT 1)
    FROM latest
$$;

-- Record an assessment evaluated against `p_expected_*` (read without the lock), in one
-- statement: under the customer's lock (the key of store.lock_customer), the history is read
-- again and the row is inserted only if it is still what the decision was made from; no
-- row when it changed (another assessment of the customer committed in between, or one left
-- the window), and the caller evaluates again under the lock. The decision recorded is thus
-- exactly the one the locked read-evaluate-insert would have made, in one round trip and one
-- implicit transaction instead of BEGIN, lock, read, insert and COMMIT.
--
-- PL/pgSQL on purpose: under READ COMMITTED each statement of a volatile function takes a
-- fresh snapshot, so the read after the lock sees every assessment committed by whoever held
-- it before. Called again inside a transaction that already holds the lock and read the
-- history, it re-takes the lock (it stacks) and finds the same history (same now()).
CREATE FUNCTION record_assessment(
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
