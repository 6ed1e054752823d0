-- Event bodies and stored answers are carried, never searched: no query filters, joins or
-- sorts on them, so the planner has no use for their statistics. Computing them was most of
-- each automatic ANALYZE of a busy outbox (every row's JSON detoasted and compared), a burst
-- of CPU taken from the payment path once a minute under load.
ALTER TABLE outbox ALTER COLUMN event SET STATISTICS 0;
ALTER TABLE outbox ALTER COLUMN headers SET STATISTICS 0;
ALTER TABLE idempotency_keys ALTER COLUMN response_body SET STATISTICS 0;
ALTER TABLE idempotency_keys ALTER COLUMN response_headers SET STATISTICS 0;
