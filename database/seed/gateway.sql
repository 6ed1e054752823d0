-- Dev logins (password123 for all, argon2id). Never loaded in production.
INSERT INTO users (username, password_hash, customer_id, roles) VALUES
    ('demo',     '$argon2id$v=19$m=65536,t=3,p=4$j6cqQFyVavD6fMfS6qfoFw$U4fOqiLTOgPhHRjxrZn2ZFsjK8/sZ0XZiOAGTcxppyg', 'cust_001', '{customer}'),
    ('jane',     '$argon2id$v=19$m=65536,t=3,p=4$j6cqQFyVavD6fMfS6qfoFw$U4fOqiLTOgPhHRjxrZn2ZFsjK8/sZ0XZiOAGTcxppyg', 'cust_002', '{customer}'),
    ('noriega',  '$argon2id$v=19$m=65536,t=3,p=4$j6cqQFyVavD6fMfS6qfoFw$U4fOqiLTOgPhHRjxrZn2ZFsjK8/sZ0XZiOAGTcxppyg', 'cust_003', '{customer}'),
    ('operator', '$argon2id$v=19$m=65536,t=3,p=4$j6cqQFyVavD6fMfS6qfoFw$U4fOqiLTOgPhHRjxrZn2ZFsjK8/sZ0XZiOAGTcxppyg', 'ops_001', '{operator}')
ON CONFLICT (username) DO NOTHING;
