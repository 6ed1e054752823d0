"""Property tests: random sequences of holds, captures, releases and expiries on a real
Postgres ledger, checked against a small model after every step.

Invariants: every journal entry balances; no customer account (balance or available) goes
below zero; the cached balance/held columns match the postings and pending holds; the
money in the accounts of a run never changes (captures only move it); and each operation's
outcome is the one the model predicts."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import asyncpg
from account import usecases
from account.domain import HoldRequest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from paykit import ProblemError

ACCOUNTS = 3
OPENING_MINOR = (50_000, 20_000, 0)

hold_op = st.tuples(
    st.just("hold"),
    st.integers(0, ACCOUNTS - 1),
    st.integers(1, ACCOUNTS - 1),  # payee offset: never the payer itself
    st.integers(1, 40_000),
    st.integers(1, 3_600),
)
capture_op = st.tuples(st.just("capture"), st.integers(0, 20), st.none() | st.integers(1, 40_000))
release_op = st.tuples(st.just("release"), st.integers(0, 20))
advance_op = st.tuples(st.just("advance"), st.integers(1, 3_600))
operations = st.lists(st.one_of(hold_op, hold_op, capture_op, release_op, advance_op), max_size=25)


@dataclass
class ModelHold:
    payer: int
    payee: int
    amount: int
    expires_at: datetime
    status: str = "PENDING"


@dataclass
class Model:
    balance: list[int] = field(default_factory=lambda: list(OPENING_MINOR))
    held: list[int] = field(default_factory=lambda: [0] * ACCOUNTS)
    holds: list[ModelHold] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)

    def available(self, i: int) -> int:
        return self.balance[i] - self.held[i]

    def resolve(self, h: ModelHold, status: str, captured: int = 0) -> None:
        self.held[h.payer] -= h.amount
        self.balance[h.payer] -= captured
        self.balance[h.payee] += captured
        h.status = status


class Run:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self.tag = uuid.uuid4().hex[:8]
        self.names = [f"P{self.tag}-{i}" for i in range(ACCOUNTS)]
        self.model = Model()
        self.clock = datetime.now(UTC)

    async def open(self) -> None:
        for name, opening in zip(self.names, OPENING_MINOR, strict=True):
            customer = {"customer_id": f"c-{name}", "full_name": name}
            await usecases.open_account(self.pool, customer, name, "USD", opening)

    async def hold(self, payer: int, offset: int, amount: int, ttl_s: int) -> None:
        payee = (payer + offset) % ACCOUNTS
        hold_id = f"h-{self.tag}-{len(self.model.ids)}"
        request = HoldRequest(hold_id, self.names[payer], self.names[payee], amount, "USD", None, ttl_s)
        result = await usecases.place_hold(self.pool, request, now=self.clock)
        expected_ok = self.model.available(payer) >= amount
        assert (result.hold.status == "PENDING") == expected_ok, (result.hold, self.model)
        self.model.ids.append(hold_id)
        h = ModelHold(payer, payee, amount, self.clock + timedelta(seconds=ttl_s))
        if expected_ok:
            self.model.held[payer] += amount
        else:
            h.status = "FAILED"
        self.model.holds.append(h)

    async def capture(self, index: int, amount: int | None) -> None:
        if not self.model.holds:
            return
        index %= len(self.model.holds)
        h = self.model.holds[index]
        expected_code = None
        if h.status == "PENDING" and h.expires_at <= self.clock:
            self.model.resolve(h, "EXPIRED")
            expected_code = "HOLD_EXPIRED"
        elif h.status in ("VOIDED", "EXPIRED", "FAILED"):
            expected_code = {"VOIDED": "HOLD_RELEASED", "EXPIRED": "HOLD_EXPIRED"}.get(
                h.status, "HOLD_ALREADY_RESOLVED"
            )
        elif h.status == "PENDING" and amount is not None and amount > h.amount:
            expected_code = "CAPTURE_EXCEEDS_HOLD"
        try:
            result = await usecases.capture_hold(self.pool, self.model.ids[index], amount, now=self.clock)
        except ProblemError as exc:
            assert exc.code == expected_code, (exc.code, h)
            return
        assert expected_code is None, (result.hold, h)
        if h.status == "PENDING":
            self.model.resolve(h, "POSTED", amount or h.amount)
        assert result.hold.status == "POSTED"

    async def release(self, index: int) -> None:
        if not self.model.holds:
            return
        index %= len(self.model.holds)
        h = self.model.holds[index]
        try:
            result = await usecases.release_hold(self.pool, self.model.ids[index], now=self.clock)
        except ProblemError as exc:
            assert (exc.code, h.status) == ("HOLD_ALREADY_RESOLVED", "POSTED")
            return
        if h.status == "PENDING":
            self.model.resolve(h, "VOIDED")
        assert result.hold.status == h.status

    async def advance(self, seconds: int) -> None:
        self.clock += timedelta(seconds=seconds)
        await usecases.expire_holds(self.pool, now=self.clock, batch_size_max=1_000)
        for h in self.model.holds:
            if h.status == "PENDING" and h.expires_at <= self.clock:
                self.model.resolve(h, "EXPIRED")

    async def check(self) -> None:
        assert await usecases.integrity_problems(self.pool) == []
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(
                """SELECT account_number, balance_minor, held_minor FROM accounts
                    WHERE account_number = ANY($1)""",
                self.names,
            )
        actual = {r["account_number"]: (r["balance_minor"], r["held_minor"]) for r in rows}
        expected = {n: (self.model.balance[i], self.model.held[i]) for i, n in enumerate(self.names)}
        assert actual == expected
        assert all(b - h >= 0 for b, h in actual.values())
        assert sum(b for b, _ in actual.values()) == sum(OPENING_MINOR)


async def _scenario(db_url: str, ops: list[tuple[object, ...]]) -> None:
    pool = await asyncpg.create_pool(
        db_url, min_size=1, max_size=2, server_settings={"search_path": "account"}
    )
    try:
        run = Run(pool)
        await run.open()
        for op in ops:
            name, *args = op
            await getattr(run, str(name))(*args)
            await run.check()
    finally:
        await pool.close()


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=operations)
def test_random_hold_sequences_keep_the_ledger_sound(db_url: str, ops: list[tuple[object, ...]]) -> None:
    # One database for the whole test; each example works on its own freshly opened accounts.
    asyncio.run(_scenario(db_url, ops))
