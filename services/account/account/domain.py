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
    "PAYMENT_STATE_MISMATCH",
    "PAYMENT_WITHOUT_TRANSFER",
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
    id: int = 0
    processed_at: datetime | None = None

    def effect_on(self, account_number: str) -> int:
        """What this transfer did to the account's balance at the bank."""
        if self.status != "COMPLETED":
            return 0
        if account_number == self.from_account:
            return -self.amount_minor
        return self.amount_minor if account_number == self.to_account else 0


def split_at_cutoff(
    transfers: Sequence[BankTransfer], cutoff: datetime
) -> tuple[list[BankTransfer], list[BankTransfer]]:
    """(settled, in flight), in id order: settled ends before the first transfer the cutoff has
    not passed, so the cursor never skips one that is still within the grace window."""
    for index, transfer in enumerate(transfers):
        if transfer.processed_at is None or transfer.processed_at > cutoff:
            return list(transfers[:index]), list(transfers[index:])
    return list(transfers), []


def transfer_breaks(transfer: BankTransfer, capture: Hold | None) -> list[Break]:
    """A transfer the cutoff has passed, against our capture under its reference."""
    ours = None if capture is None else {"status": capture.status, "captured_minor": capture.captured_minor}
    if transfer.status == "COMPLETED" and capture is None:
        return [
            Break(
                "MISSING_IN_LEDGER",
                account_number=transfer.from_account,
                reference=transfer.reference,
                bank=_transfer_view(transfer),
                detail="The bank executed a transfer our ledger never captured",
            )
        ]
    if capture is None:
        return []
    if transfer.status != "COMPLETED":
        detail = "We captured a transfer the bank did not complete"
        return [
            Break(
                "STATUS_MISMATCH",
                capture.account_number,
                transfer.reference,
                ours,
                _transfer_view(transfer),
                detail,
            )
        ]
    if (transfer.amount_minor, transfer.currency) != (capture.captured_minor, capture.currency):
        detail = "Captured amount differs from the bank's"
        return [
            Break(
                "AMOUNT_MISMATCH",
                capture.account_number,
                transfer.reference,
                ours,
                _transfer_view(transfer),
                detail,
            )
        ]
    return []


def payment_breaks(transfer: BankTransfer | None, reference: str, payment_state: str | None) -> list[Break]:
    """Confirm's word on the payment against the bank's transfer under the same reference."""
    bank = None if transfer is None else _transfer_view(transfer)
    ours = {"payment_state": payment_state}
    if transfer is None:
        if payment_state == "COMPLETED":
            detail = "A COMPLETED payment has no transfer at the bank"
            return [Break("PAYMENT_WITHOUT_TRANSFER", reference=reference, ours=ours, detail=detail)]
        return []
    expected = {"COMPLETED": "COMPLETED", "REJECTED": "FAILED"}.get(transfer.status)
    if payment_state is not None and expected is not None and payment_state != expected:
        detail = f"The bank says {transfer.status}; the payment is {payment_state}"
        return [Break("PAYMENT_STATE_MISMATCH", transfer.from_account, reference, ours, bank, detail)]
    return []


def balances_as_of_cutoff(
    ours: dict[str, tuple[int, str]],
    bank: dict[str, tuple[int, str] | None],
    transfers_read: Sequence[BankTransfer],
    in_flight_bank: Sequence[BankTransfer],
    in_flight_ours: Sequence[Hold],
    unsure: set[str],
) -> list[Break]:
    """Balances with every payment the cutoff has not passed on EITHER side taken out of
    BOTH sides, so a payment in flight is no break. Accounts in `unsure` (moved while the
    bank was being read) wait for the next run."""
    excluded = {t.reference for t in in_flight_bank} | {h.hold_id for h in in_flight_ours}
    adjusted_ours = {k: v for k, v in ours.items() if k not in unsure}
    for hold in in_flight_ours:
        for account, amount in capture_postings(hold, hold.captured_minor):
            if account in adjusted_ours:
                balance, currency = adjusted_ours[account]
                adjusted_ours[account] = (balance - amount, currency)
    adjusted_bank = dict(bank)
    for transfer in transfers_read:
        if transfer.reference not in excluded:
            continue
        for moved in {transfer.from_account, transfer.to_account} - {None}:
            number = str(moved)
            known = adjusted_bank.get(number)
            if known is not None:
                adjusted_bank[number] = (known[0] - transfer.effect_on(number), known[1])
    return list(_balance_breaks(LedgerSnapshot(adjusted_ours, {}), BankSnapshot(adjusted_bank)))


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
