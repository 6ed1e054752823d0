"""Pure rules of the ledger: the hold state machine and the reconciliation comparison.

No I/O here. Operating errors (a conflict, a resolved hold) are `ProblemError`s; a broken
invariant (a posting that would not balance) is a bug and raises `LedgerInvariantError`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from paykit import ProblemError

HoldStatus = Literal["PENDING", "POSTED", "VOIDED", "EXPIRED", "FAILED"]
PENDING: HoldStatus = "PENDING"
POSTED: HoldStatus = "POSTED"
VOIDED: HoldStatus = "VOIDED"
EXPIRED: HoldStatus = "EXPIRED"
FAILED: HoldStatus = "FAILED"
# Where a pending hold may go. A resolved hold never moves again.
HOLD_TRANSITIONS: dict[HoldStatus, frozenset[HoldStatus]] = {
    PENDING: frozenset({POSTED, VOIDED, EXPIRED}),
    POSTED: frozenset(),
    VOIDED: frozenset(),
    EXPIRED: frozenset(),
    FAILED: frozenset(),
}
INSUFFICIENT_FUNDS = "INSUFFICIENT_FUNDS"


class LedgerInvariantError(RuntimeError):
    """A rule the ledger guarantees was broken: a bug, never a user error."""


@dataclass(frozen=True, slots=True)
class Hold:
    hold_id: str
    account_number: str
    to_account: str
    amount_minor: int
    currency: str
    customer_id: str | None
    status: HoldStatus
    failure_code: str | None
    captured_minor: int
    entry_id: str | None
    expires_at: datetime
    created_at: datetime
    resolved_at: datetime | None

    @property
    def released_minor(self) -> int:
        """What went back to the payer's available balance when the hold resolved."""
        if self.status in (POSTED, VOIDED, EXPIRED):
            return self.amount_minor - self.captured_minor
        return 0


@dataclass(frozen=True, slots=True)
class HoldRequest:
    hold_id: str
    account_number: str
    to_account: str
    amount_minor: int
    currency: str
    customer_id: str | None
    expires_in_s: int


def check_transition(current: HoldStatus, target: HoldStatus) -> None:
    if target not in HOLD_TRANSITIONS[current]:
        raise LedgerInvariantError(f"hold cannot go from {current} to {target}")


def hold_conflicts(existing: Hold, request: HoldRequest) -> list[str]:
    """The fields in which a retry differs from the hold first placed under that id."""
    pairs = {
        "account_number": (existing.account_number, request.account_number),
        "to_account": (existing.to_account, request.to_account),
        "amount_minor": (existing.amount_minor, request.amount_minor),
        "currency": (existing.currency, request.currency),
    }
    return [name for name, (old, new) in pairs.items() if old != new]


def hold_expiry(now: datetime, expires_in_s: int) -> datetime:
    if expires_in_s <= 0:
        raise LedgerInvariantError("a hold expires in the future")
    return now + timedelta(seconds=expires_in_s)


def capture_amount(hold: Hold, requested_minor: int | None) -> int:
    """A capture posts the whole hold, or a smaller amount and releases the rest."""
    if requested_minor is None:
        return hold.amount_minor
    if requested_minor <= 0:
        raise ProblemError(422, "INVALID_AMOUNT", "A capture amount must be greater than zero")
    if requested_minor > hold.amount_minor:
        raise ProblemError(422, "CAPTURE_EXCEEDS_HOLD", "A capture cannot be larger than the amount on hold")
    return requested_minor


def capture_postings(hold: Hold, captured_minor: int) -> list[tuple[str, int]]:
    """(account, signed amount) legs that move a captured hold from payer to payee."""
    legs = [(hold.account_number, -captured_minor), (hold.to_account, captured_minor)]
    if sum(amount for _, amount in legs) != 0 or captured_minor <= 0:
        raise LedgerInvariantError("capture postings must balance and move money")
    return legs


def is_stale(hold: Hold, now: datetime, stale_after_s: int) -> bool:
    """A pending hold past its expiry (the sweeper missed it) or older than the threshold."""
    if hold.status != PENDING:
        return False
    return hold.expires_at <= now or hold.created_at <= now - timedelta(seconds=stale_after_s)


# --- Reconciliation ---------------------------------------------------------------------

BreakKind = Literal[
    "BALANCE_MISMATCH",
    "ACCOUNT_MISSING_AT_BANK",
    "MISSING_AT_BANK",
    "MISSING_IN_LEDGER",
    "AMOUNT_MISMATCH",
    "STATUS_MISMATCH",
    "STALE_HOLD",
    "LEDGER_INTEGRITY",
]


@dataclass(frozen=True, slots=True)
class Break:
    kind: BreakKind
    account_number: str | None = None
    reference: str | None = None
    ours: dict[str, Any] | None = None
    bank: dict[str, Any] | None = None
    detail: str = ""


@dataclass(frozen=True, slots=True)
class BankTransfer:
    reference: str
    status: str
    amount_minor: int
    currency: str
    from_account: str | None
    to_account: str | None


@dataclass(frozen=True, slots=True)
class LedgerSnapshot:
    balances: dict[str, tuple[int, str]]  # customer account -> (balance_minor, currency)
    captures: dict[str, Hold]  # hold id (= bank reference) -> POSTED hold
    pending: Sequence[Hold] = ()
    integrity_problems: Sequence[str] = ()


@dataclass(frozen=True, slots=True)
class BankSnapshot:
    balances: dict[str, tuple[int, str] | None]  # None: the bank does not know the account
    transfers: dict[str, BankTransfer] = field(default_factory=dict)


def find_breaks(ours: LedgerSnapshot, bank: BankSnapshot, now: datetime, stale_after_s: int) -> list[Break]:
    breaks = list(_balance_breaks(ours, bank))
    breaks.extend(_capture_breaks(ours, bank))
    for ref, transfer in sorted(bank.transfers.items()):
        if transfer.status == "COMPLETED" and ref not in ours.captures:
            breaks.append(
                Break(
                    "MISSING_IN_LEDGER",
                    account_number=transfer.from_account,
                    reference=ref,
                    bank=_transfer_view(transfer),
                    detail="The bank executed a transfer our ledger never captured",
                )
            )
    for hold in ours.pending:
        if is_stale(hold, now, stale_after_s):
            breaks.append(
                Break(
                    "STALE_HOLD",
                    account_number=hold.account_number,
                    reference=hold.hold_id,
                    ours={
                        "status": hold.status,
                        "amount_minor": hold.amount_minor,
                        "expires_at": hold.expires_at.isoformat(),
                    },
                    detail="A hold is still pending past its expiry or the staleness threshold",
                )
            )
    breaks.extend(Break("LEDGER_INTEGRITY", detail=problem) for problem in ours.integrity_problems)
    return breaks


def _balance_breaks(ours: LedgerSnapshot, bank: BankSnapshot) -> Iterable[Break]:
    for number, (balance_minor, currency) in sorted(ours.balances.items()):
        theirs = bank.balances.get(number)
        mine = {"balance_minor": balance_minor, "currency": currency}
        if theirs is None:
            yield Break(
                "ACCOUNT_MISSING_AT_BANK",
                account_number=number,
                ours=mine,
                detail="The bank does not know this account",
            )
        elif theirs != (balance_minor, currency):
            yield Break(
                "BALANCE_MISMATCH",
                account_number=number,
                ours=mine,
                bank={"balance_minor": theirs[0], "currency": theirs[1]},
                detail="Ledger and bank balances differ",
            )


def _capture_breaks(ours: LedgerSnapshot, bank: BankSnapshot) -> Iterable[Break]:
    for ref, hold in sorted(ours.captures.items()):
        mine = {"status": hold.status, "captured_minor": hold.captured_minor, "currency": hold.currency}
        transfer = bank.transfers.get(ref)
        if transfer is None:
            yield Break(
                "MISSING_AT_BANK",
                account_number=hold.account_number,
                reference=ref,
                ours=mine,
                detail="We captured a payment the bank has no transfer for",
            )
        elif transfer.status != "COMPLETED":
            yield Break(
                "STATUS_MISMATCH",
                account_number=hold.account_number,
                reference=ref,
                ours=mine,
                bank=_transfer_view(transfer),
                detail="We captured a transfer the bank did not complete",
            )
        elif (transfer.amount_minor, transfer.currency) != (hold.captured_minor, hold.currency):
            yield Break(
                "AMOUNT_MISMATCH",
                account_number=hold.account_number,
                reference=ref,
                ours=mine,
                bank=_transfer_view(transfer),
                detail="Captured amount differs from the bank's",
            )


def _transfer_view(transfer: BankTransfer) -> dict[str, Any]:
    return {
        "status": transfer.status,
        "amount_minor": transfer.amount_minor,
        "currency": transfer.currency,
        "from_account": transfer.from_account,
        "to_account": transfer.to_account,
    }
