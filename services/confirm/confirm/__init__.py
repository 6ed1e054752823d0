"""Confirm Service: Payment state machine, idempotency, outbox."""
