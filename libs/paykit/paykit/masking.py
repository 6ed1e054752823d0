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
ACCOUNT_KEYS = frozenset({"account_number", "from_account", "to_account", "payee", "account"})
_ACCOUNT_NUMBER = re.compile(r"\bACC\d*(\d{3})\b")
_BEARER = re.compile(r"(?i)bearer\s+[A-Za-z0-9._~+/=-]+")


class Masked(str):
    """A string that prints as *** (repr, str, format, %s); `.reveal()` gives the value."""

    def __repr__(self) -> str:
        return f"Masked({_MASK})"

    def __str__(self) -> str:
        return _MASK

    def __format__(self, spec: str) -> str:
        return _MASK

    def reveal(self) -> str:
        return str.__str__(self)


def mask_account_number(number: str) -> str:
    """Keep the last three characters only: enough for a human to tell accounts apart."""
    if len(number) <= 3:
        return _MASK
    return _MASK + number[-3:]


def scrub_text(text: str) -> str:
    text = _BEARER.sub("Bearer ***", text)
    return _ACCOUNT_NUMBER.sub(lambda m: _MASK + m.group(1), text)


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


def _scrub_item(key: str, value: Any, depth: int) -> Any:
    if key in SENSITIVE_KEYS:
        return _MASK
    if key in ACCOUNT_KEYS and isinstance(value, str):
        return mask_account_number(value)
    return scrub(value, depth + 1)
