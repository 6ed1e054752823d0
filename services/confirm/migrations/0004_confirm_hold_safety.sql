-- When the customer (a valid OTP) or an operator (review approval) authorized the payment:
-- from then on the resolver may finish it without them if an answer was lost on the way.
ALTER TABLE payments ADD COLUMN authorized_at TIMESTAMPTZ;
-- Who holds the lease: only its owner may renew or release it, so a stale worker whose lease
-- ran out cannot clear the lease of the one that took over.
ALTER TABLE payments ADD COLUMN lease_owner TEXT;
-- Payments waiting on a person, for the resolver's expiry pass.
CREATE INDEX payments_waiting ON payments (created_at) WHERE state IN ('REQUIRES_OTP', 'UNDER_REVIEW');
