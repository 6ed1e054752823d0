-- Dev data of the partner bank: the same accounts and opening balances as our ledger
-- (docs/contracts.md sample data). Idempotent; applied after migrations by `make run`.
INSERT INTO bank_accounts (account_number, holder_name, currency, balance_minor) VALUES
    ('ACC001', 'John Smith', 'USD', 1500000),
    ('ACC002', 'Jane Doe', 'USD', 850000),
    ('ACC003', 'Manuel Antonio Noriega', 'USD', 500000)
ON CONFLICT (account_number) DO NOTHING;
