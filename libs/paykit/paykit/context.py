"""Per-request context carried across hops: correlation id and the caller's principal."""

from __future__ import annotations

import uuid
from contextvars import ContextVar

correlation_id_var: ContextVar[str | None] = ContextVar("correlation_id", default=None)

CORRELATION_HEADER = "X-Correlation-ID"
REQUEST_ID_HEADER = "X-Request-ID"
IDEMPOTENCY_HEADER = "Idempotency-Key"
HEADER_VALUE_LENGTH_MAX = 128


def clean_header_id(value: str | None) -> str | None:
    """Accept a client-chosen id only if it is short and printable; else make a new one."""
    if not value or len(value) > HEADER_VALUE_LENGTH_MAX or not value.isprintable():
        return None
    return value


def current_correlation_id() -> str:
    value = correlation_id_var.get()
    if value is None:
        value = str(uuid.uuid4())
        correlation_id_var.set(value)
    return value
