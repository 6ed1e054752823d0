-- A transfer in one statement: the pending-fault look, the transfers lock, the replay
-- lookup, the screening (domain.screen_transfer's rules, in its order and with its
-- messages; tests check that they agree), the conditional debit and credit and the row in
-- `transfers`. One round trip and one implicit transaction instead of a fault read, BEGIN,
-- lock, lookup, account read, move, insert and COMMIT; a statement is atomic, so the money
-- moves with its transfer row or neither happens.
--
-- PL/pgSQL, not one SQL statement, on purpose: under READ COMMITTED each statement of a
-- volatile function takes a fresh snapshot, so the lookup and the account reads that follow
-- the lock see every transfer committed by whoever held it before. One statement with the
-- lock in a CTE would read with a snapshot taken before waiting for the lock.
--
-- `outcome`: FAULT_PENDING (nothing done, no transfer: a fault is scheduled and the caller
-- serves it first, then calls again with p_check_faults false), REPLAYED (the stored
-- transfer of this reference, whatever its fields: the caller compares them) or EXECUTED
-- (the new transfer, completed or rejected).
CREATE FUNCTION process_transfer(
    p_lock_key BIGINT, p_check_faults BOOLEAN,
    p_reference TEXT, p_reference_number TEXT, p_from_account TEXT, p_to_account TEXT,
    p_amount_minor BIGINT, p_currency TEXT,
    p_limit_minor BIGINT, p_fee_minor BIGINT, p_decline_code TEXT,
    OUT outcome TEXT, OUT transfer transfers
) LANGUAGE plpgsql AS $$
DECLARE
    payer bank_accounts;
    payee bank_accounts;
    code TEXT;
    message TEXT;
BEGIN
    IF p_from_account = p_to_account OR p_amount_minor <= 0 THEN
        RAISE EXCEPTION 'a transfer moves a positive amount between two accounts';
    END IF;
    -- An unlocked look, as before: a fault scheduled while this call arrives may apply to
    -- it or to the next one.
    IF p_check_faults AND EXISTS (SELECT 1 FROM fault_schedule WHERE remaining > 0) THEN
        outcome := 'FAULT_PENDING';
        RETURN;
    END IF;
    PERFORM pg_advisory_xact_lock(p_lock_key);
    SELECT * INTO transfer FROM transfers WHERE reference = p_reference;
    IF FOUND THEN
        outcome := 'REPLAYED';
        RETURN;
    END IF;
    SELECT * INTO payer FROM bank_accounts WHERE account_number = p_from_account;
    SELECT * INTO payee FROM bank_accounts WHERE account_number = p_to_account;
    IF payer.account_number IS NULL THEN
        code := 'ACCOUNT_NOT_FOUND';
        message := 'The debit account is not held at this bank';
    ELSIF payee.account_number IS NULL THEN
        code := 'ACCOUNT_NOT_FOUND';
        message := 'The credit account is not held at this bank';
    ELSIF NOT (payer.currency::text = p_currency AND payee.currency::text = p_currency) THEN
        code := 'CURRENCY_MISMATCH';
        message := 'Both accounts must hold the transfer''s currency';
    ELSIF p_amount_minor >= p_limit_minor THEN
        code := 'AMOUNT_EXCEEDS_LIMIT';
        message := 'Transfer amount exceeds daily limit';
    ELSIF p_decline_code IS NOT NULL THEN
        code := p_decline_code;
        message := 'The bank declined the transfer';
    ELSE
        -- The debit re-checks the balance itself, so nothing can overdraw the account.
        UPDATE bank_accounts SET balance_minor = balance_minor - p_amount_minor, updated_at = now()
            WHERE account_number = p_from_account AND balance_minor >= p_amount_minor;
        IF NOT FOUND THEN
            code := 'INSUFFICIENT_FUNDS';
            message := 'The debit account has insufficient funds';
        ELSE
            UPDATE bank_accounts SET balance_minor = balance_minor + p_amount_minor, updated_at = now()
                WHERE account_number = p_to_account;
            IF NOT FOUND THEN
                -- The payee was read under the same lock a moment ago: a bug, not a decline.
                RAISE EXCEPTION 'payee % vanished under the transfers lock', p_to_account;
            END IF;
        END IF;
    END IF;
    INSERT INTO transfers (reference, reference_number, from_account, to_account, amount_minor,
                           currency, status, error_code, message, processing_fee_minor)
        VALUES (p_reference, p_reference_number, p_from_account, p_to_account, p_amount_minor,
                p_currency, CASE WHEN code IS NULL THEN 'COMPLETED' ELSE 'REJECTED' END, code,
                message, CASE WHEN code IS NULL THEN p_fee_minor ELSE 0 END)
        RETURNING * INTO transfer;
    outcome := 'EXECUTED';
END $$;
