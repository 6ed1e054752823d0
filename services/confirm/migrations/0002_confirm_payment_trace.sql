-- The trace a payment was created in, so work finished later (the resolver) joins it.
ALTER TABLE payments ADD COLUMN traceparent TEXT;
