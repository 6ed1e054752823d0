"""Request and response models of the partner bank (docs/contracts.md "partner_bank")."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Annotated, Literal

import asyncpg
from paykit import MoneyError, format_minor, parse_amount_minor
from paykit.accounts import ACCOUNT_NUMBER_REGEX
from paykit.money import AMOUNT_MINOR_MAX, exponent
from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, StrictStr

from .domain import FAULT_COUNT_MAX, FAULT_LATENCY_MS_MAX, FaultMode, TransferCommand, TransferStatus

AccountNumber = Annotated[str, Field(min_length=1, max_length=34, pattern=ACCOUNT_NUMBER_REGEX)]
REFERENCE_REGEX = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"
REFERENCE_PATTERN = re.compile(REFERENCE_REGEX)
Reference = Annotated[str, Field(min_length=1, max_length=128, pattern=REFERENCE_REGEX)]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$")]


class ProcessTransferRequest(BaseModel):
    """The seed's body plus `reference`, the caller's idempotency key for this transfer
    (or the `Idempotency-Key` header, for clients that send the seed's body as it was)."""

    model_config = ConfigDict(extra="ignore")

    reference: Reference | None = None
    from_account: AccountNumber
    to_account: AccountNumber
    amount: StrictInt | StrictFloat | StrictStr | None = Field(
        None, description="Decimal amount as in the seed (`1000.00`); or give `amount_minor`"
    )
    amount_minor: StrictInt | None = Field(None, description="Amount in minor units")
    currency: Currency = "USD"
    routing_number: str | None = Field(None, max_length=34, description="Seed field; informational")

    def to_command(self, reference: str) -> TransferCommand:
        """The transfer asked for; MoneyError names what is wrong with the amount."""
        if self.amount is None and self.amount_minor is None:
            raise MoneyError("AMOUNT_REQUIRED", "Give `amount` or `amount_minor`")
        minor = None
        if self.amount is not None:
            minor = parse_amount_minor(self.amount, self.currency)
        if self.amount_minor is not None:
            exponent(self.currency)  # an unsupported currency is refused either way
            if not 0 < self.amount_minor <= AMOUNT_MINOR_MAX:
                raise MoneyError("INVALID_AMOUNT", "`amount_minor` must be a positive amount within limits")
            if minor is not None and minor != self.amount_minor:
                raise MoneyError("AMOUNT_MISMATCH", "`amount` and `amount_minor` disagree")
            minor = self.amount_minor
        assert minor is not None
        if self.from_account == self.to_account:
            raise MoneyError("SAME_ACCOUNT", "A transfer needs two different accounts")
        return TransferCommand(reference, self.from_account, self.to_account, minor, self.currency)


class TransferView(BaseModel):
    id: int
    success: bool
    reference: str
    reference_number: str
    status: TransferStatus
    error_code: str | None = None
    message: str | None = None
    from_account: str
    to_account: str
    amount: str
    amount_minor: int
    currency: str
    processed_amount: str | None = None
    processed_amount_minor: int | None = None
    processing_fee: str
    processing_fee_minor: int
    estimated_settlement: datetime | None = None
    created_at: datetime
    processed_at: datetime
    replayed: bool = Field(False, description="True when this answers a repeat of the reference")

    @classmethod
    def of(cls, row: asyncpg.Record, settlement_delay_s: int, replayed: bool = False) -> TransferView:
        currency = row["currency"].strip()
        completed = row["status"] == "COMPLETED"
        amount = format_minor(row["amount_minor"], currency)
        return cls(
            id=row["id"],
            success=completed,
            reference=row["reference"],
            reference_number=row["reference_number"],
            status=row["status"],
            error_code=row["error_code"],
            message=row["message"],
            from_account=row["from_account"],
            to_account=row["to_account"],
            amount=amount,
            amount_minor=row["amount_minor"],
            currency=currency,
            processed_amount=amount if completed else None,
            processed_amount_minor=row["amount_minor"] if completed else None,
            processing_fee=format_minor(row["processing_fee_minor"], currency),
            processing_fee_minor=row["processing_fee_minor"],
            estimated_settlement=(
                row["processed_at"] + timedelta(seconds=settlement_delay_s) if completed else None
            ),
            created_at=row["created_at"],
            processed_at=row["processed_at"],
            replayed=replayed,
        )


class BalancePage(BaseModel):
    balances: list[BalanceView]
    next_after: str | None = Field(
        None, description="Pass as `after` for the next page (account numbers in order); null at the end"
    )


class TransferPage(BaseModel):
    transfers: list[TransferView]
    next_after_id: int | None = Field(
        None, description="Pass as `after_id` for the next page; null at the end"
    )


class CheckBalanceRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    account_number: AccountNumber
    bank_code: str | None = Field(None, max_length=34, description="Seed field; informational")


class BalanceView(BaseModel):
    account_number: str
    balance: str
    available_balance: str
    balance_minor: int
    available_minor: int
    currency: str
    last_updated: datetime

    @classmethod
    def of(cls, row: asyncpg.Record) -> BalanceView:
        currency = row["currency"].strip()
        balance = format_minor(row["balance_minor"], currency)
        # The bank holds nothing back: what it books is what is available.
        return cls(
            account_number=row["account_number"],
            balance=balance,
            available_balance=balance,
            balance_minor=row["balance_minor"],
            available_minor=row["balance_minor"],
            currency=currency,
            last_updated=row["updated_at"],
        )


class FaultRequest(BaseModel):
    mode: FaultMode
    count: int = Field(1, ge=1, le=FAULT_COUNT_MAX, description="How many consecutive calls it hits")
    latency_ms: int | None = Field(
        None,
        ge=0,
        le=FAULT_LATENCY_MS_MAX,
        description="Stall of `latency` and `timeout_after_execute` (defaults 1 s and 10 s)",
    )
    error_code: str | None = Field(
        None, pattern=r"^[A-Z][A-Z0-9_]{0,39}$", description="Code a `decline` rejects with"
    )


class FaultView(BaseModel):
    id: int
    mode: Literal["latency", "error_5xx", "timeout_after_execute", "decline"]
    remaining: int
    latency_ms: int
    error_code: str | None = None


class FaultSchedule(BaseModel):
    faults: list[FaultView]

    @classmethod
    def of(cls, rows: list[asyncpg.Record]) -> FaultSchedule:
        return cls(faults=[FaultView(**dict(row)) for row in rows])


class FaultsCleared(BaseModel):
    cleared: int
