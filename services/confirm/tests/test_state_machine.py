"""The database enforces the payment state machine: every transition the domain forbids is
refused by Postgres itself, and every one it allows is accepted."""

from __future__ import annotations

from collections.abc import AsyncIterator
from itertools import product

import asyncpg
import pytest
from confirm.domain import TRANSITIONS, State, can_transition
from confirm.main import MIGRATIONS
from paykit.testing import DatabaseFactory


@pytest.fixture
async def conn(database_factory: DatabaseFactory) -> AsyncIterator[asyncpg.Connection]:
    url = database_factory.create("confirm", MIGRATIONS)
    connection = await asyncpg.connect(url, server_settings={"search_path": "confirm"})
    yield connection
    await connection.close()
    database_factory.drop(url)


@pytest.mark.parametrize(("current", "target"), list(product(State, State)))
async def test_database_and_domain_agree_on_every_transition(
    conn: asyncpg.Connection, current: State, target: State
) -> None:
    if current == target:
        return
    await conn.execute(
        """INSERT INTO payments (payment_id, transaction_id, customer_id, amount_minor, currency,
                                 from_account, to_account)
           VALUES ('P', 't', 'c', 1, 'USD', 'A', 'B')"""
    )
    # Put the payment in `current` the way the database allows: via a path of legal steps.
    path = _path_to(current)
    for step in path:
        await conn.execute("UPDATE payments SET state = $1 WHERE payment_id = 'P'", step.value)
    if can_transition(current, target):
        await conn.execute("UPDATE payments SET state = $1 WHERE payment_id = 'P'", target.value)
    else:
        with pytest.raises(asyncpg.CheckViolationError):
            await conn.execute("UPDATE payments SET state = $1 WHERE payment_id = 'P'", target.value)


async def test_terms_are_immutable(conn: asyncpg.Connection) -> None:
    await conn.execute(
        """INSERT INTO payments (payment_id, transaction_id, customer_id, amount_minor, currency,
                                 from_account, to_account) VALUES ('P', 't', 'c', 1, 'USD', 'A', 'B')"""
    )
    with pytest.raises(asyncpg.CheckViolationError):
        await conn.execute("UPDATE payments SET amount_minor = 2 WHERE payment_id = 'P'")


def _path_to(target: State) -> list[State]:
    """Shortest chain of legal transitions from REQUIRES_CONFIRMATION to `target`."""
    frontier: list[list[State]] = [[State.REQUIRES_CONFIRMATION]]
    while frontier:
        path = frontier.pop(0)
        if path[-1] == target:
            return path[1:]
        frontier.extend([*path, nxt] for nxt in TRANSITIONS[path[-1]] if nxt not in path)
    raise AssertionError(f"{target} is unreachable")
