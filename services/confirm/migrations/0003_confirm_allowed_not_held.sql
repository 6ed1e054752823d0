-- Payments risk allowed but whose hold was never recorded (a crash in between): the resolver
-- finishes them, so a hold placed just before the crash does not sit until it expires.
CREATE INDEX payments_allowed_not_held ON payments (updated_at)
    WHERE state = 'REQUIRES_CONFIRMATION' AND risk_decision = 'ALLOW';
