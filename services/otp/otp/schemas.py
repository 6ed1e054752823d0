"""Request and response bodies of the otp service (docs/contracts.md "otp")."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from paykit.money import AMOUNT_MINOR_MAX, CURRENCY_EXPONENTS
from pydantic import BaseModel, ConfigDict, Field, field_validator

from .domain import Reason

# Ids become part of Redis keys, so they are kept to a small safe alphabet.
Identifier = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]
Payee = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:@ -]+$")]
AmountMinor = Annotated[int, Field(gt=0, le=AMOUNT_MINOR_MAX, strict=True)]


class _Bound(BaseModel):
    model_config = ConfigDict(extra="ignore")

    customer_id: Identifier
    transaction_id: Identifier
    # Optional for the seed's body ({customer_id, transaction_id}); the payment flow sends both.
    amount_minor: AmountMinor | None = None
    currency: str = "USD"
    payee: Payee | None = None

    @field_validator("currency")
    @classmethod
    def _known_currency(cls, value: str) -> str:
        if value not in CURRENCY_EXPONENTS:
            raise ValueError(f"unsupported currency {value!r}")
        return value


class GenerateOtpRequest(_Bound):
    pass


class GenerateOtpResponse(BaseModel):
    success: Literal[True] = True
    challenge_id: str
    expires_at: datetime
    expires_in_s: int
    resend_available_at: datetime
    message: str = "OTP sent successfully"


class VerifyOtpRequest(_Bound):
    # Digits only, but length is not checked here: a wrong-length guess is a wrong guess.
    otp: Annotated[str, Field(min_length=1, max_length=12, pattern=r"^[0-9]+$")]


class VerifyOtpResponse(BaseModel):
    valid: bool
    reason: Reason | None = None
    attempts_remaining: int | None = None
