-- Dev sample data of the account service (docs/contracts.md "Sample data"). Idempotent:
-- fixed ids and ON CONFLICT DO NOTHING, so applying it again changes nothing. Opening
-- balances are funding entries from SYS-FUNDING-USD, so every currency still sums to zero;
-- the posting trigger sets the accounts' cached balances.

INSERT INTO customers (customer_id, full_name, email, phone, country) VALUES
    ('cust_001', 'John Smith', 'john@example.com', '+1234567890', 'US'),
    ('cust_002', 'Jane Doe', 'jane@example.com', '+1234567891', 'US'),
    ('cust_003', 'Manuel Antonio Noriega', 'noriega@example.com', '+5075550100', 'PA')
ON CONFLICT (customer_id) DO NOTHING;

INSERT INTO accounts (account_number, customer_id, currency, account_type, allow_negative) VALUES
    ('SYS-FUNDING-USD', NULL, 'USD', 'SYSTEM', TRUE),
    ('ACC001', 'cust_001', 'USD', 'CHECKING', FALSE),
    ('ACC002', 'cust_002', 'USD', 'CHECKING', FALSE),
    ('ACC003', 'cust_003', 'USD', 'CHECKING', FALSE)
ON CONFLICT (account_number) DO NOTHING;

INSERT INTO journal_entries (entry_id, kind, description) VALUES
    ('seed-opening-ACC001', 'FUNDING', 'Opening balance'),
    ('seed-opening-ACC002', 'FUNDING', 'Opening balance'),
    ('seed-opening-ACC003', 'FUNDING', 'Opening balance')
ON CONFLICT (entry_id) DO NOTHING;

-- Postings only for entries that have none yet (a second run inserts nothing).
INSERT INTO postings (entry_id, account_number, amount_minor, currency)
SELECT v.entry_id, v.account_number, v.amount_minor, 'USD'
  FROM (VALUES
        ('seed-opening-ACC001', 'SYS-FUNDING-USD', -1500000),
        ('seed-opening-ACC001', 'ACC001', 1500000),
        ('seed-opening-ACC002', 'SYS-FUNDING-USD', -850000),
        ('seed-opening-ACC002', 'ACC002', 850000),
        ('seed-opening-ACC003', 'SYS-FUNDING-USD', -500000),
        ('seed-opening-ACC003', 'ACC003', 500000)
       ) AS v (entry_id, account_number, amount_minor)
 WHERE NOT EXISTS (SELECT 1 FROM postings p WHERE p.entry_id = v.entry_id);
