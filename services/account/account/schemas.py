"""Request and response models of the account service (docs/contracts.md "account").

Money goes out as integer minor units plus the seed's decimal strings; it comes in as
`amount_minor` (integer) or, on the seed's routes, a decimal (number or string) that
`paykit.money` parses exactly."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from paykit import format_minor
from paykit.money import AMOUNT_MINOR_MAX
from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, StrictStr

from .domain import Hold

Id = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:\-]*$")]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
AmountMinor = Annotated[StrictInt, Field(gt=0, le=AMOUNT_MINOR_MAX)]
# The seed's decimal amount: a JSON number or string, parsed exactly by paykit.money.
DecimalAmount = StrictInt | StrictFloat | StrictStr
ExpiresIn = Annotated[StrictInt, Field(ge=1, le=7 * 24 * 3600)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CustomerOut(BaseModel):
    customer_id: str
    full_name: str
    email: str | None
    phone: str | None
    country: str | None


class CustomersPage(BaseModel):
    customers: list[CustomerOut]
    # Pass as `after` for the next page; null on the last page.
    next_after: str | None


class AccountOut(BaseModel):
    account_number: str
    customer_id: str | None
    currency: str
    account_type: str
    status: str
    balance: str
    available_balance: str
    held_balance: str
    balance_minor: int
    available_minor: int
    held_minor: int

    @classmethod
    def of(cls, row: Any) -> AccountOut:
        cur = row["currency"]
        return cls(
            account_number=row["account_number"],
            customer_id=row["customer_id"],
            currency=cur,
            account_type=row["account_type"],
            status=row["status"],
            balance=format_minor(row["balance_minor"], cur),
            available_balance=format_minor(row["available_minor"], cur),
            held_balance=format_minor(row["held_minor"], cur),
            balance_minor=row["balance_minor"],
            available_minor=row["available_minor"],
            held_minor=row["held_minor"],
        )


class PartyCustomerOut(BaseModel):
    customer_id: str
    full_name: str
    country: str | None


class PartyOut(BaseModel):
    account_number: str
    customer_id: str | None
    currency: str
    status: str
    # The owner's name and country (for screening); null for an account without a customer.
    customer: PartyCustomerOut | None

    @classmethod
    def of(cls, row: Any) -> PartyOut:
        customer = None
        if row["customer_id"] is not None and row["full_name"] is not None:
            customer = PartyCustomerOut(
                customer_id=row["customer_id"], full_name=row["full_name"], country=row["country"]
            )
        return cls(
            account_number=row["account_number"],
            customer_id=row["customer_id"],
            currency=row["currency"],
            status=row["status"],
            customer=customer,
        )


class PaymentPartiesOut(BaseModel):
    # null when that account does not exist (system accounts are not parties).
    payer: PartyOut | None
    payee: PartyOut | None


class EntryOut(BaseModel):
    posting_id: int
    entry_id: str
    kind: str
    reference: str | None
    description: str
    direction: Literal["CREDIT", "DEBIT"]
    amount_minor: int = Field(description="Signed: positive credits the account, negative debits it")
    amount: str
    currency: str
    created_at: datetime

    @classmethod
    def of(cls, row: Any) -> EntryOut:
        minor = row["amount_minor"]
        return cls(
            posting_id=row["posting_id"],
            entry_id=row["entry_id"],
            kind=row["kind"],
            reference=row["reference"],
            description=row["description"],
            direction="CREDIT" if minor > 0 else "DEBIT",
            amount_minor=minor,
            amount=format_minor(abs(minor), row["currency"]),
            currency=row["currency"],
            created_at=row["created_at"],
        )


class EntriesPage(BaseModel):
    entries: list[EntryOut]
    next_cursor: str | None


class ValidateAccountIn(BaseModel):
    account_number: Annotated[str, Field(min_length=1, max_length=64)]
    customer_id: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    required_amount: DecimalAmount | None = None


class ValidateAccountOut(BaseModel):
    valid: bool
    reason: str | None = None
    account: AccountOut | None = None
    available_balance: str | None = None
    required_amount: str | None = None


class HoldIn(_In):
    hold_id: Id
    account_number: Id
    to_account: Id
    amount_minor: AmountMinor
    currency: Currency = "USD"
    customer_id: Id | None = None
    expires_in_s: ExpiresIn | None = None


class CaptureIn(_In):
    amount_minor: AmountMinor | None = None


class ExtendIn(_In):
    expires_in_s: ExpiresIn


class HoldOut(BaseModel):
    hold_id: str
    status: str
    account_number: str
    to_account: str
    amount_minor: int
    amount: str
    currency: str
    customer_id: str | None
    captured_minor: int
    released_minor: int
    failure_code: str | None
    entry_id: str | None
    expires_at: datetime
    created_at: datetime
    resolved_at: datetime | None

    @classmethod
    def of(cls, hold: Hold) -> HoldOut:
        return cls(
            hold_id=hold.hold_id,
            status=hold.status,
            account_number=hold.account_number,
            to_account=hold.to_account,
            amount_minor=hold.amount_minor,
            amount=format_minor(hold.amount_minor, hold.currency),
            currency=hold.currency,
            customer_id=hold.customer_id,
            captured_minor=hold.captured_minor,
            released_minor=hold.released_minor,
            failure_code=hold.failure_code,
            entry_id=hold.entry_id,
            expires_at=hold.expires_at,
            created_at=hold.created_at,
            resolved_at=hold.resolved_at,
        )


class ReserveFundsIn(BaseModel):
    account_number: Id
    amount: DecimalAmount
    transaction_id: Id
    currency: Currency = "USD"
    customer_id: Id | None = None
    to_account: Id | None = None
    expires_in_s: ExpiresIn | None = None


class ReserveFundsOut(HoldOut):
    success: bool
    transaction_id: str
    reserved_amount: str


class BreakOut(BaseModel):
    kind: str
    account_number: str | None
    reference: str | None
    ours: dict[str, Any] | None
    bank: dict[str, Any] | None
    detail: str


class ReconciliationReport(BaseModel):
    run_id: int
    generated_at: datetime
    started_at: datetime
    open_breaks: int
    breaks: list[BreakOut]
