"""What a broker must do for the outbox relay and the consumers; Redis Streams and Kafka
both do it (see redis_streams.py and kafka.py).

Error tree:
    TransportError      the broker could not do what was asked in time; the caller retries
                        later (the relay leaves the rows unpublished, the consumer leaves the
                        messages unacknowledged so they are delivered again)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable


class TransportError(Exception):
    pass


def dead_letter_topic(topic: str, group: str) -> str:
    """Where a consumer group parks the messages it gave up on."""
    return f"{topic}.dlq.{group}"


@dataclass(frozen=True)
class Delivery:
    """One message handed to one consumer group. `attempt` counts deliveries (1 = first)."""

    topic: str
    key: str
    value: bytes
    headers: dict[str, str]
    attempt: int
    # The transport's handle to acknowledge it (a stream entry id, a partition and offset).
    receipt: Any = field(repr=False, compare=False, default=None)


@dataclass(frozen=True)
class Message:
    topic: str
    key: str
    value: bytes
    headers: dict[str, str]


@runtime_checkable
class Transport(Protocol):
    async def publish(self, topic: str, key: str, value: bytes, headers: dict[str, str]) -> None:
        """Return only once the broker has durably accepted the message."""

    async def publish_many(self, messages: Sequence[Message]) -> int:
        """Publish `messages` in order, in as few round trips as the broker allows; return how
        many of them, from the first, the broker durably accepted (fewer than all when it
        failed part way; a later one may have gone out too: delivery is at least once).
        Raises TransportError when it could not tell."""

    async def fetch(self, topic: str, group: str, *, batch_size_max: int, wait_ms: int) -> Sequence[Delivery]:
        """Up to `batch_size_max` messages for `group`, oldest first: first those delivered
        before and never acknowledged, then new ones, waiting up to `wait_ms` for any."""

    async def ack(self, group: str, delivery: Delivery) -> None:
        """The group is done with this message; it is not delivered again."""

    async def ack_many(self, group: str, deliveries: Sequence[Delivery]) -> None:
        """`ack` for every one of `deliveries` (fetched together), in as few calls as the
        broker allows."""

    async def release(self, group: str, deliveries: Sequence[Delivery]) -> None:
        """Fetched but not acknowledged: deliver these again on a later fetch."""

    async def dead_letter(self, group: str, delivery: Delivery, error: str) -> None:
        """Publish to `dead_letter_topic(topic, group)` with the error, then acknowledge."""

    async def ping(self) -> bool:
        """The broker answers (the readiness check "broker")."""

    async def aclose(self) -> None: ...
