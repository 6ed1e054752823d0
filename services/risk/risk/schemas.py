"""Request and response bodies of the risk service."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from paykit import Money, MoneyError, ProblemError
from paykit.money import AMOUNT_MINOR_MAX
from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, StrictStr

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:\-]*$"


class AssessRiskRequest(BaseModel):
    """The contract's body; the seed's decimal `amount` is accepted instead of `amount_minor`."""

    model_config = ConfigDict(extra="ignore")

    transaction_id: str = Field(min_length=1, max_length=128, pattern=ID_PATTERN)
    customer_id: str = Field(min_length=1, max_length=64, pattern=ID_PATTERN)
    amount_minor: StrictInt | None = Field(default=None, gt=0, le=AMOUNT_MINOR_MAX)
    amount: StrictInt | StrictFloat | StrictStr | None = Field(
        default=None, description='Decimal amount as in the seed, e.g. 1000.00 or "1000.00"'
    )
    currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")
    from_account: str | None = Field(default=None, max_length=64)
    to_account: str | None = Field(default=None, max_length=64)
    payee_name: str | None = Field(
        default=None, min_length=1, max_length=200, description="The payee's name, when the payment names one"
    )

    def money(self, supported: frozenset[str]) -> Money:
        """The amount as Money; a 422 problem for anything that is not exactly one amount."""
        if self.currency not in supported:
            raise ProblemError(
                422, "UNSUPPORTED_CURRENCY", f"Risk rules do not cover {self.currency}", field="currency"
            )
        if self.amount_minor is None and self.amount is None:
            raise ProblemError(422, "VALIDATION_ERROR", "amount_minor or amount is required", field="amount")
        try:
            parsed = None if self.amount is None else Money.parse(self.amount, self.currency)
            given = None if self.amount_minor is None else Money(self.amount_minor, self.currency)
        except MoneyError as exc:
            raise ProblemError(422, exc.code, str(exc), field="amount") from None
        if parsed is not None and given is not None and parsed != given:
            raise ProblemError(422, "AMOUNT_MISMATCH", "amount and amount_minor disagree", field="amount")
        result = given or parsed
        assert result is not None
        return result


class ReasonOut(BaseModel):
    code: str
    detail: str
    score: int = 0


class AssessmentOut(BaseModel):
    assessment_id: str
    transaction_id: str
    customer_id: str
    decision: Literal["ALLOW", "CHALLENGE", "REVIEW", "DENY"]
    risk_score: int
    risk_level: Literal["LOW", "HIGH"]
    reasons: list[ReasonOut]
    factors: dict[str, Any]
    rules_version: str
    amount_minor: int
    currency: str
    amount: str
    assessed_at: datetime


class AssessmentList(BaseModel):
    assessments: list[AssessmentOut]
