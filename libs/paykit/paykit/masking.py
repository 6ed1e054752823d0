"""Values that must never appear in logs, reprs or error messages."""

from __future__ import annotations

import re
from typing import Any

_MASK = "***"
# Keys whose values are always masked wherever they appear in a log record.
SENSITIVE_KEYS = frozenset(
    {
        "password",
        "otp",
        "code",
        "secret",
        "token",
        "access_token",
        "refresh_token",
        "authorization",
        "jwt_secret",
        "api_key",
        "document_number",
    }
)
_ACCOUNT_NUMBER = re.compile(r"\b(ACC)(\d{0,})(\d{3})\b")
_BEARER = re.compile(r"(?i)bearer\s+[A-Za-z0-9._~+/=-]+")


class Masked(str):
    """A string that prints as *** in repr and str() of containers; `.reveal()` gives the value."""

    def __repr__(self) -> str:
        return f"Masked({_MASK})"

    def reveal(self) -> str:
        return str.__str__(self)


def mask_account_number(number: str) -> str:
    """Keep the last three characters only: enough for a human to tell accounts apart."""
    if len(number) <= 3:
        return _MASK
    return _MASK + number[-3:]


def scrub_text(text: str) -> str:
    return _BEARER.sub("Bearer ***", text)


def scrub(value: Any, depth: int = 0) -> Any:
    """Return a copy of a log payload with sensitive keys masked (bounded depth)."""
    if depth > 6:
        return _MASK
    if isinstance(value, Masked):
        return _MASK
    if isinstance(value, dict):
        return {
            k: (_MASK if str(k).lower() in SENSITIVE_KEYS else scrub(v, depth + 1)) for k, v in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [scrub(v, depth + 1) for v in value]
    if isinstance(value, str):
        return scrub_text(value)
    return value
