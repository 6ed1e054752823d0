"""Issue 9: an expired or released hold is not a hold, holds expire on the database's clock,
and opposite-direction captures never deadlock."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from account import usecases

from .conftest import Ledger


async def _age(ledger: Ledger, hold_id: str) -> None:
    """Let the hold's time run out, as the database's clock sees it."""
    await ledger.pool.execute(
        "UPDATE holds SET expires_at = now() - interval '1 second' WHERE hold_id = $1", hold_id
    )


async def test_capture_of_an_expired_hold_fails_clearly_and_moves_nothing(ledger: Ledger) -> None:
    await ledger.open("EA1", 10_000)
    await ledger.open("EB1", 0)
    assert (await ledger.hold("exp-1", "EA1", "EB1", 3_000)).status_code == 201
    await _age(ledger, "exp-1")
    capture = await ledger.client.post("/holds/exp-1/capture", json={})
    assert capture.status_code == 409
    assert capture.json()["code"] == "HOLD_EXPIRED"
    assert capture.json()["hold_status"] == "EXPIRED"
    again = await ledger.client.post("/holds/exp-1/capture", json={})
    assert (again.status_code, again.json()["code"]) == (409, "HOLD_EXPIRED")
    assert (await ledger.account("EB1"))["balance_minor"] == 0
    assert await ledger.available("EA1") == 10_000
    await ledger.assert_consistent()


async def test_capture_of_a_released_hold_fails_clearly(ledger: Ledger) -> None:
    await ledger.open("EA2", 10_000)
    await ledger.open("EB2", 0)
    await ledger.hold("rel-1", "EA2", "EB2", 3_000)
    assert (await ledger.client.post("/holds/rel-1/release")).status_code == 200
    capture = await ledger.client.post("/holds/rel-1/capture", json={})
    assert (capture.status_code, capture.json()["code"]) == (409, "HOLD_RELEASED")
    assert (await ledger.account("EB2"))["balance_minor"] == 0


async def test_placing_an_expired_hold_again_is_refused_not_replayed_as_held(ledger: Ledger) -> None:
    """A retry of a hold whose time ran out must not answer 201 PENDING: the caller would
    take the money as reserved and ask the bank to pay."""
    await ledger.open("EA3", 10_000)
    await ledger.open("EB3", 0)
    await ledger.hold("exp-3", "EA3", "EB3", 3_000)
    await _age(ledger, "exp-3")
    retry = await ledger.hold("exp-3", "EA3", "EB3", 3_000)
    assert (retry.status_code, retry.json()["code"]) == (409, "HOLD_EXPIRED")
    assert (await ledger.client.get("/holds/exp-3")).json()["status"] == "EXPIRED"
    assert await ledger.available("EA3") == 10_000
    await ledger.assert_consistent()


async def test_a_pending_hold_may_be_lengthened_never_shortened_nor_revived(ledger: Ledger) -> None:
    await ledger.open("EA4", 10_000)
    await ledger.open("EB4", 0)
    short = (await ledger.hold("ext-1", "EA4", "EB4", 1_000, expires_in_s=60)).json()
    longer = await ledger.client.post("/holds/ext-1/extend", json={"expires_in_s": 3_600})
    assert longer.status_code == 200, longer.text
    assert longer.json()["expires_at"] > short["expires_at"]
    shorter = await ledger.client.post("/holds/ext-1/extend", json={"expires_in_s": 30})
    assert shorter.json()["expires_at"] == longer.json()["expires_at"]
    assert await ledger.available("EA4") == 9_000, "lengthening reserves nothing more"
    await _age(ledger, "ext-1")
    late = await ledger.client.post("/holds/ext-1/extend", json={"expires_in_s": 3_600})
    assert (late.status_code, late.json()["code"]) == (409, "HOLD_EXPIRED")
    assert await ledger.available("EA4") == 10_000


async def test_hold_expiry_follows_the_database_clock(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The service's own clock may be wrong; the database's is the one every instance shares."""

    class SkewedClock(datetime):
        @classmethod
        def now(cls, tz: object = None) -> SkewedClock:  # type: ignore[override]
            real = datetime.now(UTC)
            skewed = real + timedelta(hours=2)
            return cls.fromtimestamp(skewed.timestamp(), tz=UTC)

    monkeypatch.setattr(usecases, "datetime", SkewedClock)
    await ledger.open("EA5", 10_000)
    await ledger.open("EB5", 0)
    placed = await ledger.hold("clk-1", "EA5", "EB5", 1_000, expires_in_s=600)
    assert placed.status_code == 201, placed.text
    db_now = await ledger.pool.fetchval("SELECT now()")
    expires_at = datetime.fromisoformat(placed.json()["expires_at"])
    assert timedelta(seconds=590) < expires_at - db_now < timedelta(seconds=610)
    # And a capture a second later succeeds: the skewed clock does not call the hold expired.
    await ledger.pool.execute(
        "UPDATE holds SET expires_at = now() + interval '30 minutes' WHERE hold_id = 'clk-1'"
    )
    capture = await ledger.client.post("/holds/clk-1/capture", json={})
    assert capture.status_code == 200, capture.text


async def test_opposite_direction_captures_never_deadlock(ledger: Ledger) -> None:
    """Payer-then-payee locking deadlocks A->B against B->A; one global order cannot."""
    await ledger.open("DA", 1_000_000)
    await ledger.open("DB", 1_000_000)
    pairs = 20
    for i in range(pairs):
        assert (await ledger.hold(f"ab-{i}", "DA", "DB", 100)).status_code == 201
        assert (await ledger.hold(f"ba-{i}", "DB", "DA", 100)).status_code == 201
    calls = []
    for i in range(pairs):
        calls.append(ledger.client.post(f"/holds/ab-{i}/capture", json={}))
        calls.append(ledger.client.post(f"/holds/ba-{i}/capture", json={}))
    answers = await asyncio.gather(*calls)
    failed = [(r.status_code, r.text[:120]) for r in answers if r.status_code != 200]
    assert failed == [], f"{len(failed)} of {2 * pairs} captures failed: {failed[:3]}"
    assert (await ledger.account("DA"))["balance_minor"] == 1_000_000
    await ledger.assert_consistent()


async def test_captures_and_new_holds_in_both_directions_never_deadlock(ledger: Ledger) -> None:
    """A hold's foreign-key checks take KEY SHARE locks on payer then payee; a capture's
    account locks must not conflict with them, or opposite directions wait in a cycle."""
    await ledger.open("MA", 1_000_000)
    await ledger.open("MB", 1_000_000)
    pairs = 15
    for i in range(pairs):
        assert (await ledger.hold(f"mab-{i}", "MA", "MB", 100)).status_code == 201
        assert (await ledger.hold(f"mba-{i}", "MB", "MA", 100)).status_code == 201
    calls = []
    for i in range(pairs):
        calls.append(ledger.client.post(f"/holds/mab-{i}/capture", json={}))
        calls.append(ledger.hold(f"nba-{i}", "MB", "MA", 100))
        calls.append(ledger.client.post(f"/holds/mba-{i}/capture", json={}))
        calls.append(ledger.hold(f"nab-{i}", "MA", "MB", 100))
    answers = await asyncio.gather(*calls)
    failed = [(r.status_code, r.text[:120]) for r in answers if r.status_code not in (200, 201)]
    assert failed == [], f"{len(failed)} of {len(calls)} calls failed: {failed[:3]}"
    await ledger.assert_consistent()
