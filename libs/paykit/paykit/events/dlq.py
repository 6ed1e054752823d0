"""Dead letters: list what a consumer group gave up on, and replay it once the cause is fixed.

A group's dead letters live on `<topic>.dlq.<group>`. Replaying one publishes the original
message again on `<topic>`: the group that failed handles it now, and every other group
skips it (their inbox already holds its event id), so a replay never applies an event twice.
Replay reads the dead-letter topic as its own consumer group (`dlq-replay`) and acknowledges
each message only after it is republished: a replay cut short loses nothing.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from .transport import Transport, dead_letter_topic

REPLAY_GROUP = "dlq-replay"
DLQ_HEADERS = ("dlq-error", "dlq-original-id")


@dataclass(frozen=True)
class DeadLetter:
    key: str
    error: str
    original_id: str
    value: bytes


async def list_dead_letters(
    transport: Transport, topic: str, group: str, *, limit: int = 100, wait_ms: int = 500
) -> list[DeadLetter]:
    """Up to `limit` of the group's dead letters, oldest first, with their errors (replayed
    ones too: the dead-letter topic is their history). Nothing is consumed: the listing reads
    as a throwaway consumer group, dropped afterwards where the broker keeps groups."""
    dlq = dead_letter_topic(topic, group)
    viewer = f"dlq-list-{uuid.uuid4().hex[:12]}"
    try:
        deliveries = await transport.fetch(dlq, viewer, batch_size_max=limit, wait_ms=wait_ms)
    finally:
        forget = getattr(transport, "forget_group", None)
        if forget is not None:
            await forget(dlq, viewer)
    return [
        DeadLetter(
            key=d.key,
            error=d.headers.get("dlq-error", ""),
            original_id=d.headers.get("dlq-original-id", ""),
            value=d.value,
        )
        for d in deliveries
    ]


async def replay_dead_letters(
    transport: Transport, topic: str, group: str, *, limit: int = 10_000, wait_ms: int = 500
) -> int:
    """Publish the dead letters of `group` not replayed before (up to `limit`) on `topic`
    again; returns how many."""
    dlq = dead_letter_topic(topic, group)
    replayed = 0
    while replayed < limit:
        batch = await transport.fetch(
            dlq, REPLAY_GROUP, batch_size_max=min(100, limit - replayed), wait_ms=wait_ms
        )
        if not batch:
            return replayed
        for delivery in batch:
            headers = {k: v for k, v in delivery.headers.items() if k not in DLQ_HEADERS}
            headers["dlq-replayed-from"] = dlq
            await transport.publish(topic, delivery.key, delivery.value, headers)
            await transport.ack(REPLAY_GROUP, delivery)
            replayed += 1
    return replayed
