-- Reconciliation asks which payments completed in a time window.
CREATE INDEX payments_completed_at ON payments (completed_at) WHERE state = 'COMPLETED';
