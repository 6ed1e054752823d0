-- Dev sample data of the kyc service (docs/contracts.md). Idempotent; development only.
INSERT INTO kyc_records (customer_id, status, tier, full_name, country) VALUES
    ('cust_001', 'VERIFIED', 3, 'John Smith', 'US'),
    ('cust_002', 'UNVERIFIED', 0, 'Jane Doe', 'US'),
    ('cust_003', 'VERIFIED', 2, 'Manuel Antonio Noriega', 'PA')
ON CONFLICT (customer_id) DO NOTHING;
