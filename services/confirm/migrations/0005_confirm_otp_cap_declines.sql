-- A payment whose customer ran out of one-time codes (the OTP service's challenge caps) is
-- declined: REQUIRES_OTP -> DECLINED. No funds are held while a code is pending.
INSERT INTO payment_state_transitions VALUES ('REQUIRES_OTP', 'DECLINED') ON CONFLICT DO NOTHING;
