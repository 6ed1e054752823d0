"""Pure OTP rules: the code, its keyed hash bound to the payment, and the verdicts.

A challenge is bound to (customer, transaction, amount, currency, payee): the HMAC covers all
of them with the code, so a code for one payment, amount or payee never verifies another.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from paykit.masking import Masked

CODE_DIGITS = 6


class Verdict(StrEnum):
    VALID = "valid"
    INVALID = "invalid"
    EXPIRED = "expired"
    LOCKED = "locked"
    NOT_FOUND = "not_found"


Reason = Literal["INVALID_OTP", "OTP_EXPIRED", "OTP_NOT_FOUND", "OTP_LOCKED"]
# The reason a client sees for each failed verdict (contract: docs/contracts.md "otp").
REASONS: dict[Verdict, Reason] = {
    Verdict.INVALID: "INVALID_OTP",
    Verdict.EXPIRED: "OTP_EXPIRED",
    Verdict.LOCKED: "OTP_LOCKED",
    Verdict.NOT_FOUND: "OTP_NOT_FOUND",
}


@dataclass(frozen=True, slots=True)
class Binding:
    """What a code is valid for: one payment of one amount to one payee, for one customer.
    A client of the seed's API names only customer and transaction; then amount and payee
    are None at issue and must be None at verification too."""

    customer_id: str
    transaction_id: str
    amount_minor: int | None
    currency: str
    payee: str | None


def new_code() -> Masked:
    """A uniformly random 6-digit code from the OS CSPRNG, masked so it cannot be logged."""
    return Masked(f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}")


def code_hash(secret: bytes, binding: Binding, code: str) -> str:
    """HMAC-SHA256 over an unambiguous encoding of the binding and the code."""
    message = json.dumps(
        [
            binding.customer_id,
            binding.transaction_id,
            binding.amount_minor,
            binding.currency,
            binding.payee,
            str.__str__(code),
        ],
        separators=(",", ":"),
    ).encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def matches(stored_hash: str, candidate_hash: str) -> bool:
    return hmac.compare_digest(stored_hash.encode(), candidate_hash.encode())


def attempts_remaining(attempts_used: int, attempts_max: int) -> int:
    return max(attempts_max - attempts_used, 0)
