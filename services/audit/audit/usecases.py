"""Audit use cases: append an event to the chain, find entries, verify the chain."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg

from . import domain, store
from .domain import ChainCheck, Entry, StoredEntry

EVENTS_LIMIT_MAX = 200


@dataclass(frozen=True, slots=True)
class IncomingEvent:
    event_id: str
    topic: str
    event_type: str
    source: str
    subject: str | None
    data: dict[str, Any]
    event_time: datetime | None


@dataclass(frozen=True, slots=True)
class CheckpointPolicy:
    key: str = domain.CHECKPOINT_KEY_DEV
    every: int = domain.CHECKPOINT_EVERY_DEFAULT


async def record_event(
    conn: asyncpg.Connection, event: IncomingEvent, policy: CheckpointPolicy | None = None
) -> StoredEntry | None:
    """Append the event once (None if it is already in the log); see `record_events`."""
    recorded = await record_events(conn, [event], policy)
    return recorded[0] if recorded else None


async def record_events(
    conn: asyncpg.Connection, events: Sequence[IncomingEvent], policy: CheckpointPolicy | None = None
) -> list[StoredEntry]:
    """Append each event not in the log yet, in order, once (a repeated event id is skipped);
    returns what was appended. Runs in the caller's transaction (the consumer's, with its
    inbox inserts), or its own; appends are serialized by a lock held to its commit, so the
    chain never forks. Every `policy.every`-th position is checkpointed in the same transaction."""
    policy = policy or CheckpointPolicy()
    if conn.is_in_transaction():
        return await _append(conn, events, policy)
    async with conn.transaction():
        return await _append(conn, events, policy)


async def _append(
    conn: asyncpg.Connection, events: Sequence[IncomingEvent], policy: CheckpointPolicy
) -> list[StoredEntry]:
    await store.lock_chain(conn)
    context = await store.append_context(conn, [e.event_id for e in events], [e.data for e in events])
    known = context.known
    fresh: list[tuple[IncomingEvent, dict[str, Any]]] = []
    for event, data in zip(events, context.datas, strict=True):
        if event.event_id not in known:
            fresh.append((event, data))
            known.add(event.event_id)
    if not fresh:
        return []
    next_id, prev_hash = (context.head[0] + 1, context.head[1]) if context.head else (1, domain.GENESIS_HASH)
    recorded_at = datetime.now(UTC)
    appended: list[StoredEntry] = []
    checkpoints: list[domain.Checkpoint] = []
    for event, data in fresh:
        stored = _chained(event, data, next_id, prev_hash, recorded_at)
        appended.append(stored)
        if next_id % policy.every == 0:
            signature = domain.sign_checkpoint(policy.key, next_id, stored.hash)
            checkpoints.append(domain.Checkpoint(next_id, stored.hash, signature))
        next_id, prev_hash = next_id + 1, stored.hash
    await store.insert_entries(conn, appended, checkpoints)
    return appended


def _chained(
    event: IncomingEvent, data: dict[str, Any], entry_id: int, prev_hash: str, recorded_at: datetime
) -> StoredEntry:
    transaction_id, customer_id = domain.subjects(event.topic, event.subject, event.data)
    entry = Entry(
        id=entry_id,
        event_id=event.event_id,
        topic=event.topic,
        event_type=event.event_type,
        source=event.source,
        subject=event.subject,
        transaction_id=transaction_id,
        customer_id=customer_id,
        data=data,
        event_time=event.event_time.astimezone(UTC) if event.event_time else None,
        recorded_at=recorded_at,
        prev_hash=prev_hash,
    )
    return StoredEntry(entry, entry.hash())


async def checkpoint_now(pool: asyncpg.Pool, key: str) -> domain.Checkpoint | None:
    """Sign the current head (None when the log is empty)."""
    async with pool.acquire() as conn, conn.transaction():
        await store.lock_chain(conn)
        head = await store.chain_head(conn)
        if head is None:
            return None
        checkpoint = domain.Checkpoint(head[0], head[1], domain.sign_checkpoint(key, head[0], head[1]))
        await store.insert_checkpoint(conn, checkpoint)
    return checkpoint


async def find_events(
    pool: asyncpg.Pool,
    *,
    transaction_id: str | None,
    customer_id: str | None,
    event_type: str | None,
    after_id: int,
    limit: int,
) -> list[StoredEntry]:
    async with pool.acquire() as conn:
        return await store.find_entries(
            conn,
            transaction_id=transaction_id,
            customer_id=customer_id,
            event_type=event_type,
            after_id=after_id,
            limit=min(limit, EVENTS_LIMIT_MAX),
        )


async def verify_chain(
    pool: asyncpg.Pool, batch_size: int, key: str = domain.CHECKPOINT_KEY_DEV
) -> ChainCheck:
    """Walk the whole chain in id order, in one consistent snapshot, batch by batch; then
    check that every signed checkpoint is genuine and still fits the log (a truncated or
    rehashed log does not)."""
    check = ChainCheck(True, 0)
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        while True:
            rows = await store.entries_after(conn, check.next_id - 1, batch_size)
            if not rows:
                break
            check = domain.check_chain(rows, check)
            if not check.valid:
                return check
        checkpoints = await store.checkpoints(conn)
        hashes = await store.hashes_at(conn, [c.head_id for c in checkpoints])
    misfit = domain.check_checkpoints(key, checkpoints, hashes)
    if misfit is not None:
        reason, entry_id = misfit
        first = min(entry_id, check.next_id) if reason == "CHECKPOINT_MISMATCH" else entry_id
        return ChainCheck(False, check.checked, first_broken_id=first, reason=reason)
    return check
