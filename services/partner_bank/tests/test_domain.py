"""The bank's pure rules: screening and the fault schedule syntax."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from partner_bank.domain import (
    AccountSnapshot,
    BankPolicy,
    FaultSpec,
    TransferCommand,
    make_fault,
    parse_fault_schedule,
    screen_transfer,
)

POLICY = BankPolicy(
    transfer_limit_minor=5_000_000, processing_fee_minor=250, base_latency_ms=0, settlement_delay_s=0
)
amounts = st.integers(min_value=1, max_value=10**13)


def command(amount_minor: int, currency: str = "USD") -> TransferCommand:
    return TransferCommand("ref", "A", "B", amount_minor, currency)


@given(amount=amounts, balance=st.integers(min_value=0, max_value=10**13))
def test_a_transfer_executes_exactly_when_under_the_limit_and_covered(amount: int, balance: int) -> None:
    payer = AccountSnapshot("A", "USD", balance)
    payee = AccountSnapshot("B", "USD", 0)

    rejection = screen_transfer(command(amount), payer, payee, POLICY)

    if amount >= POLICY.transfer_limit_minor:
        assert rejection is not None
        assert rejection.code == "AMOUNT_EXCEEDS_LIMIT"
    elif amount > balance:
        assert rejection is not None
        assert rejection.code == "INSUFFICIENT_FUNDS"
    else:
        assert rejection is None


@given(amount=amounts, balance=st.integers(min_value=0, max_value=10**13))
def test_unknown_accounts_come_before_every_other_rule(amount: int, balance: int) -> None:
    known = AccountSnapshot("A", "USD", balance)

    for payer, payee in ((None, known), (known, None), (None, None)):
        rejection = screen_transfer(command(amount), payer, payee, POLICY, decline_code="X")
        assert rejection is not None
        assert rejection.code == "ACCOUNT_NOT_FOUND"


def test_a_decline_rejects_a_transfer_that_would_have_executed() -> None:
    payer = AccountSnapshot("A", "USD", 10_000)

    rejection = screen_transfer(command(1), payer, AccountSnapshot("B", "USD", 0), POLICY, "DO_NOT_HONOR")

    assert rejection is not None
    assert rejection.code == "DO_NOT_HONOR"


@pytest.mark.parametrize("bad", [{"amount_minor": 0}, {"amount_minor": -1}, {"to_account": "A"}])
def test_a_transfer_command_refuses_nonsense(bad: dict[str, object]) -> None:
    fields: dict[str, object] = {
        "reference": "r",
        "from_account": "A",
        "to_account": "B",
        "amount_minor": 1,
        "currency": "USD",
    }
    with pytest.raises(ValueError):
        TransferCommand(**{**fields, **bad})  # type: ignore[arg-type]


faults = st.builds(
    make_fault,
    mode=st.sampled_from(["latency", "error_5xx", "timeout_after_execute", "decline"]),
    count=st.integers(min_value=1, max_value=1_000),
    latency_ms=st.integers(min_value=0, max_value=600_000),
    error_code=st.sampled_from([None, "DO_NOT_HONOR", "LIMIT_2"]),
)


@given(st.lists(faults, max_size=6))
def test_fault_schedule_text_round_trips(schedule: list[FaultSpec]) -> None:
    text = ",".join(
        f"{f.mode}:{f.count}:{f.latency_ms}" + (f":{f.error_code}" if f.error_code else "") for f in schedule
    )

    assert parse_fault_schedule(text) == schedule


def test_fault_defaults_follow_the_mode() -> None:
    assert parse_fault_schedule("timeout_after_execute, decline:3") == [
        FaultSpec("timeout_after_execute", 1, 10_000),
        FaultSpec("decline", 3, 0, "TRANSFER_DECLINED"),
    ]


@pytest.mark.parametrize("text", ["explode", "error_5xx:0", "error_5xx:x", "latency:1:-5", "decline:1:0:A:B"])
def test_a_bad_fault_schedule_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_fault_schedule(text)
