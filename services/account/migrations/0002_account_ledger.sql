-- Customers, accounts and the double-entry journal (DESIGN §2).
-- Money is BIGINT minor units + ISO 4217 currency. A posting's sign is its direction:
-- positive credits (raises) the account's balance, negative debits it. Every journal entry
-- sums to zero per currency, checked at commit by a deferred constraint trigger.

CREATE TABLE customers (
    customer_id TEXT        PRIMARY KEY,
    full_name   TEXT        NOT NULL,
    email       TEXT,
    phone       TEXT,
    country     CHAR(2),
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- balance_minor and held_minor are caches of the postings and of the pending holds; they are
-- only ever changed in the transaction that changes what they cache (the posting trigger
-- below, and the hold use cases), and `store.integrity_problems` checks them.
CREATE TABLE accounts (
    account_number TEXT        PRIMARY KEY,
    customer_id    TEXT        REFERENCES customers (customer_id),
    currency       CHAR(3)     NOT NULL,
    account_type   TEXT        NOT NULL DEFAULT 'CHECKING'
                   CHECK (account_type IN ('CHECKING', 'SAVINGS', 'SYSTEM')),
    status         TEXT        NOT NULL DEFAULT 'ACTIVE' CHECK (status IN ('ACTIVE', 'FROZEN', 'CLOSED')),
    balance_minor  BIGINT      NOT NULL DEFAULT 0,
    held_minor     BIGINT      NOT NULL DEFAULT 0 CHECK (held_minor >= 0),
    -- Only system accounts (funding, settlement) may go below zero.
    allow_negative BOOLEAN     NOT NULL DEFAULT FALSE,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT accounts_available_not_negative CHECK (allow_negative OR balance_minor - held_minor >= 0),
    CONSTRAINT accounts_system_has_no_owner CHECK ((account_type = 'SYSTEM') = (customer_id IS NULL))
);
CREATE INDEX accounts_customer ON accounts (customer_id);

CREATE TABLE journal_entries (
    entry_id    TEXT        PRIMARY KEY DEFAULT gen_random_uuid()::text,
    kind        TEXT        NOT NULL CHECK (kind IN ('FUNDING', 'CAPTURE', 'ADJUSTMENT')),
    -- The payment / hold id a capture settles; the bank transfer carries the same reference.
    reference   TEXT,
    description TEXT        NOT NULL DEFAULT '',
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX journal_entries_capture_reference ON journal_entries (reference) WHERE kind = 'CAPTURE';

CREATE TABLE postings (
    posting_id     BIGSERIAL   PRIMARY KEY,
    entry_id       TEXT        NOT NULL REFERENCES journal_entries (entry_id),
    account_number TEXT        NOT NULL REFERENCES accounts (account_number),
    amount_minor   BIGINT      NOT NULL CHECK (amount_minor <> 0),
    currency       CHAR(3)     NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX postings_entry ON postings (entry_id);
CREATE INDEX postings_account_statement ON postings (account_number, posting_id DESC);

-- A posting moves its account's cached balance in the same statement, in the account's currency.
CREATE FUNCTION postings_apply() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    account_currency CHAR(3);
BEGIN
    UPDATE accounts
       SET balance_minor = balance_minor + NEW.amount_minor, updated_at = now()
     WHERE account_number = NEW.account_number
    RETURNING currency INTO account_currency;
    IF account_currency IS DISTINCT FROM NEW.currency THEN
        RAISE EXCEPTION 'posting in % on account % held in %',
            NEW.currency, NEW.account_number, account_currency USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER postings_apply BEFORE INSERT ON postings FOR EACH ROW EXECUTE FUNCTION postings_apply();

-- At commit: the entry has at least two postings and sums to zero in every currency.
CREATE FUNCTION journal_entry_balances() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    legs INTEGER;
    unbalanced CHAR(3);
BEGIN
    SELECT count(*) INTO legs FROM postings WHERE entry_id = NEW.entry_id;
    IF legs < 2 THEN
        RAISE EXCEPTION 'journal entry % has % posting(s)', NEW.entry_id, legs
            USING ERRCODE = 'check_violation';
    END IF;
    SELECT currency INTO unbalanced FROM postings WHERE entry_id = NEW.entry_id
     GROUP BY currency HAVING sum(amount_minor) <> 0 LIMIT 1;
    IF unbalanced IS NOT NULL THEN
        RAISE EXCEPTION 'journal entry % does not balance in %', NEW.entry_id, unbalanced
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END;
$$;

CREATE CONSTRAINT TRIGGER postings_balance AFTER INSERT ON postings
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION journal_entry_balances();

-- The journal is append-only: a mistake is corrected by a new entry, never by an edit.
CREATE FUNCTION journal_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER postings_append_only BEFORE UPDATE OR DELETE ON postings
    FOR EACH ROW EXECUTE FUNCTION journal_append_only();
CREATE TRIGGER journal_entries_append_only BEFORE UPDATE OR DELETE ON journal_entries
    FOR EACH ROW EXECUTE FUNCTION journal_append_only();

-- Per-currency system accounts: funding (where opening balances come from) and settlement
-- (the payee of a hold placed without one, e.g. a seed `reserve-funds` call).
INSERT INTO accounts (account_number, customer_id, currency, account_type, allow_negative)
VALUES ('SYS-FUNDING-USD', NULL, 'USD', 'SYSTEM', TRUE),
       ('SYS-SETTLEMENT-USD', NULL, 'USD', 'SYSTEM', TRUE)
ON CONFLICT (account_number) DO NOTHING;
