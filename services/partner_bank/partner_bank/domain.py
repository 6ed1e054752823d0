"""The bank's rules, without I/O: which transfer it refuses and why, and the fault schedule.

A transfer is screened in this order, the first failing rule naming the rejection:
unknown payer or payee -> ACCOUNT_NOT_FOUND, currencies differ -> CURRENCY_MISMATCH,
amount at or over the limit -> AMOUNT_EXCEEDS_LIMIT (the seed's `amount < 50000` rule),
an injected decline -> its code, not enough money -> INSUFFICIENT_FUNDS. The store's
conditional debit re-checks the last rule, so a race can never overdraw an account.

The bank applies these rules inside its one-statement transfer (migration 0002's
`process_transfer`, next to the accounts it reads under the transfers lock); this module is
their specification, and the tests check that the two refuse the same transfers with the
same codes and messages.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

TransferStatus = Literal["COMPLETED", "REJECTED"]
FaultMode = Literal["latency", "error_5xx", "timeout_after_execute", "decline"]
FAULT_MODES: frozenset[str] = frozenset(get_args(FaultMode))

# Defaults when a fault does not say: how long to stall, and the code a decline carries.
DEFAULT_FAULT_LATENCY_MS: dict[str, int] = {"latency": 1_000, "timeout_after_execute": 10_000}
DEFAULT_DECLINE_CODE = "TRANSFER_DECLINED"
FAULT_COUNT_MAX = 1_000
FAULT_LATENCY_MS_MAX = 600_000


@dataclass(frozen=True, slots=True)
class BankPolicy:
    """What the bank's operator configures (see PartnerBankSettings)."""

    transfer_limit_minor: int
    processing_fee_minor: int
    base_latency_ms: int
    settlement_delay_s: int


@dataclass(frozen=True, slots=True)
class TransferCommand:
    """A validated request to move `amount_minor` from one account to another, once."""

    reference: str
    from_account: str
    to_account: str
    amount_minor: int
    currency: str

    def __post_init__(self) -> None:
        if self.amount_minor <= 0:
            raise ValueError("a transfer moves a positive amount")
        if self.from_account == self.to_account:
            raise ValueError("a transfer needs two different accounts")

    def matches(self, from_account: str, to_account: str, amount_minor: int, currency: str) -> bool:
        """Whether a stored transfer with these fields is this same request."""
        return (self.from_account, self.to_account, self.amount_minor, self.currency) == (
            from_account,
            to_account,
            amount_minor,
            currency,
        )


@dataclass(frozen=True, slots=True)
class AccountSnapshot:
    account_number: str
    currency: str
    balance_minor: int


@dataclass(frozen=True, slots=True)
class Rejection:
    code: str
    message: str


INSUFFICIENT_FUNDS = Rejection("INSUFFICIENT_FUNDS", "The debit account has insufficient funds")


def screen_transfer(
    command: TransferCommand,
    payer: AccountSnapshot | None,
    payee: AccountSnapshot | None,
    policy: BankPolicy,
    decline_code: str | None = None,
) -> Rejection | None:
    """The reason the bank refuses this transfer, or None when it may execute."""
    if payer is None or payee is None:
        side = "debit" if payer is None else "credit"
        return Rejection("ACCOUNT_NOT_FOUND", f"The {side} account is not held at this bank")
    if not (payer.currency == payee.currency == command.currency):
        return Rejection("CURRENCY_MISMATCH", "Both accounts must hold the transfer's currency")
    if command.amount_minor >= policy.transfer_limit_minor:
        return Rejection("AMOUNT_EXCEEDS_LIMIT", "Transfer amount exceeds daily limit")
    if decline_code is not None:
        return Rejection(decline_code, "The bank declined the transfer")
    if payer.balance_minor < command.amount_minor:
        return INSUFFICIENT_FUNDS
    return None


@dataclass(frozen=True, slots=True)
class FaultSpec:
    """`count` consecutive process-transfer calls misbehave in `mode`."""

    mode: str
    count: int = 1
    latency_ms: int = 0
    error_code: str | None = None

    def __post_init__(self) -> None:
        if self.mode not in FAULT_MODES:
            raise ValueError(f"unknown fault mode {self.mode!r}")
        if not 1 <= self.count <= FAULT_COUNT_MAX:
            raise ValueError(f"fault count must be within 1..{FAULT_COUNT_MAX}")
        if not 0 <= self.latency_ms <= FAULT_LATENCY_MS_MAX:
            raise ValueError(f"fault latency_ms must be within 0..{FAULT_LATENCY_MS_MAX}")


def make_fault(
    mode: str, count: int = 1, latency_ms: int | None = None, error_code: str | None = None
) -> FaultSpec:
    """A fault with the defaults of its mode filled in."""
    if latency_ms is None:
        latency_ms = DEFAULT_FAULT_LATENCY_MS.get(mode, 0)
    if mode == "decline" and error_code is None:
        error_code = DEFAULT_DECLINE_CODE
    return FaultSpec(mode, count, latency_ms, error_code if mode == "decline" else None)


def parse_fault_schedule(text: str) -> list[FaultSpec]:
    """`BANK_FAULT_SCHEDULE`: comma-separated `mode[:count[:latency_ms[:error_code]]]`,
    e.g. `error_5xx:2,timeout_after_execute:1:3000,decline:1:0:DO_NOT_HONOR`."""
    faults = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        mode, *rest = item.split(":")
        if len(rest) > 3:
            raise ValueError(f"fault {item!r} has too many fields")
        try:
            count = int(rest[0]) if len(rest) > 0 else 1
            latency_ms = int(rest[1]) if len(rest) > 1 else None
        except ValueError:
            raise ValueError(f"fault {item!r} has a non-integer count or latency") from None
        code = rest[2] if len(rest) > 2 else None
        faults.append(make_fault(mode.strip(), count, latency_ms, code))
    return faults
