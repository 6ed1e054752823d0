-- The common capture in one statement (one implicit transaction) instead of BEGIN, lock and
-- release, post, COMMIT: a PENDING hold not yet expired, captured whole or in part. Its
-- steps are those of store.lock_and_release_hold and store.post_capture, in the same order
-- and as separate statements, so locks, triggers and the deferred balance check behave as
-- they do in that transaction: the hold, then its two accounts in account-number order
-- (NO KEY UPDATE, as store.lock_accounts), the hold's amount released from the payer's held
-- amount, the CAPTURE entry with its two legs (domain.capture_postings), the hold POSTED.
-- Anything else (unknown, already resolved, expired, an amount the domain refuses) returns
-- no row and changes nothing, and the caller's transaction answers it with its own errors.
-- PL/pgSQL on purpose: the hot payer's row is locked for one statement and its commit only,
-- not across the service's round trips.
CREATE FUNCTION capture_pending_hold(p_hold_id TEXT, p_captured_minor BIGINT)
RETURNS SETOF holds LANGUAGE plpgsql AS $$
DECLARE
    hold holds%ROWTYPE;
    captured BIGINT;
    entry TEXT;
BEGIN
    SELECT * INTO hold FROM holds WHERE hold_id = p_hold_id FOR UPDATE;
    IF NOT FOUND OR hold.status <> 'PENDING' OR hold.expires_at <= now() THEN
        RETURN;
    END IF;
    captured := coalesce(p_captured_minor, hold.amount_minor);
    IF captured <= 0 OR captured > hold.amount_minor THEN
        RETURN;
    END IF;
    PERFORM 1 FROM accounts WHERE account_number IN (hold.account_number, hold.to_account)
        ORDER BY account_number FOR NO KEY UPDATE;
    UPDATE accounts SET held_minor = held_minor - hold.amount_minor, updated_at = now()
     WHERE account_number = hold.account_number AND held_minor >= hold.amount_minor;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'held amount of % is smaller than pending hold %', hold.account_number, hold.hold_id;
    END IF;
    INSERT INTO journal_entries (entry_id, kind, reference, description)
    VALUES (gen_random_uuid()::text, 'CAPTURE', hold.hold_id, 'Payment ' || hold.hold_id)
    RETURNING entry_id INTO entry;
    INSERT INTO postings (entry_id, account_number, amount_minor, currency)
    VALUES (entry, hold.account_number, -captured, hold.currency),
           (entry, hold.to_account, captured, hold.currency);
    RETURN QUERY
        UPDATE holds SET status = 'POSTED', captured_minor = captured, failure_code = NULL,
                         entry_id = entry, resolved_at = now()
         WHERE hold_id = hold.hold_id
        RETURNING *;
END $$;
