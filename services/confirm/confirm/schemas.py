"""Request bodies of the confirm service. Amounts arrive as the seed's decimals and are
converted to integer minor units exactly (paykit.money); anything else is a 422."""

from __future__ import annotations

import re
import secrets
from typing import Annotated, Any, Literal

from paykit.accounts import AccountNumber
from paykit.errors import ProblemError
from paykit.money import MoneyError, parse_amount_minor
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

Identifier = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
]
Currency = Annotated[str, StringConstraints(to_upper=True, pattern=r"^[A-Za-z]{3}$")]
OTP_PATTERN = re.compile(r"^\d{6}$")
PAYMENT_IDS_PER_CALL_MAX = 1_000  # POST /reconciliation/states


class PaymentTerms(BaseModel):
    """The seed's body: `transaction_id, customer_id, amount, from_account, to_account`."""

    model_config = ConfigDict(extra="ignore")

    transaction_id: Identifier
    customer_id: Identifier
    amount: Any = Field(description="Decimal amount, number or string, e.g. 1000.00")
    currency: Currency = "USD"
    from_account: AccountNumber
    to_account: AccountNumber
    amount_minor: int = Field(default=0, exclude=True)

    @model_validator(mode="after")
    def _parse_amount(self) -> PaymentTerms:
        try:
            self.amount_minor = parse_amount_minor(self.amount, self.currency)
        except MoneyError as exc:
            # Not a ValueError: pydantic lets it through, so the client gets the money code.
            raise ProblemError(422, exc.code, f"amount: {exc}", field="amount") from None
        if self.from_account == self.to_account:
            raise ValueError("from_account and to_account must differ")
        return self


class ConfirmRequest(PaymentTerms):
    otp: Annotated[str, StringConstraints(strip_whitespace=True, max_length=16)] | None = None

    @model_validator(mode="after")
    def _check_otp(self) -> ConfirmRequest:
        if self.otp is not None and not OTP_PATTERN.match(self.otp):
            raise ValueError("otp must be 6 digits")
        return self


class CreatePaymentRequest(PaymentTerms):
    """Like the seed's body; the transaction id is made up when the client sends none."""

    transaction_id: Identifier = Field(default_factory=lambda: "txn_" + secrets.token_hex(8))


class ReviewRequest(BaseModel):
    decision: Literal["approve", "decline"]
    reviewer: Annotated[str, StringConstraints(min_length=1, max_length=64)] = "operator"


class PaymentStatesRequest(BaseModel):
    """Payment ids whose states reconciliation compares with the bank's transfers."""

    model_config = ConfigDict(extra="forbid")

    payment_ids: list[Annotated[str, StringConstraints(min_length=1, max_length=64)]] = Field(
        max_length=PAYMENT_IDS_PER_CALL_MAX
    )
