"""Request and response bodies of the risk service."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from paykit import Money, MoneyError, ProblemError
from paykit.money import AMOUNT_MINOR_MAX
from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, StrictStr, model_validator

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:\-]*$"
# A party's name as account keeps it; looser than OFAC's own bound (200), so a name OFAC
# refuses is refused there, as when risk reads it from account itself.
PARTY_NAME_CHARS_MAX = 1_000


class PartyCustomerIn(BaseModel):
    """The owner's details as account's GET /payment-parties names them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    customer_id: StrictStr = Field(min_length=1, max_length=64)
    full_name: StrictStr = Field(min_length=1, max_length=PARTY_NAME_CHARS_MAX)
    country: StrictStr | None = Field(default=None, max_length=2)


class PartyIn(BaseModel):
    """One account of the payment and its owner, as account answered them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    account_number: StrictStr = Field(min_length=1, max_length=64)
    customer_id: StrictStr | None = Field(min_length=1, max_length=64)
    customer: PartyCustomerIn | None

    @model_validator(mode="after")
    def _customer_is_the_owner(self) -> PartyIn:
        if self.customer is not None and self.customer.customer_id != self.customer_id:
            raise ValueError("customer must be the account's owner (customer_id)")
        return self


class PartiesIn(BaseModel):
    """Account's answer for both accounts of the payment (null: no such account), read by the
    caller just before it asked; both keys are required, so a party left out is not taken
    for an account that does not exist."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    payer: PartyIn | None
    payee: PartyIn | None


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
    parties: PartiesIn | None = Field(
        default=None,
        description="Both accounts and their owners as the caller has just read them from account "
        "(GET /payment-parties); risk then does not ask account again. Left out: risk asks account.",
    )

    @model_validator(mode="after")
    def _parties_are_the_payments_accounts(self) -> AssessRiskRequest:
        if self.parties is None:
            return self
        for role, party, number in (
            ("payer", self.parties.payer, self.from_account),
            ("payee", self.parties.payee, self.to_account),
        ):
            if party is not None and party.account_number != number:
                raise ValueError(f"parties.{role} is not the payment's {role} account")
        return self

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
