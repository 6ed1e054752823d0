-- The dev inbox can be read by customer id too, not only by phone number or email address.
ALTER TABLE dev_inbox ADD COLUMN IF NOT EXISTS customer_id TEXT;
CREATE INDEX IF NOT EXISTS dev_inbox_customer ON dev_inbox (customer_id, id DESC);
