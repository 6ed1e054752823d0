"""Events over Redis Streams: one stream per topic, one consumer group per consumer group.

A message is pending in its group until XACKed. A consumer first re-reads its own pending
entries (what it fetched and did not finish), then takes over entries another consumer left
idle longer than `claim_idle_ms` (XAUTOCLAIM: that consumer died), then reads new entries.
Streams are capped near `stream_length_max` entries (XADD MAXLEN ~): a group that lags
further behind than that loses the oldest entries, so size the cap for the longest outage.

A busy consumer fetches with ONE round trip: the takeover (XAUTOCLAIM) runs at most every
half `claim_idle_ms`, its own pending entries are re-read only when some may exist (at start,
after a release or a takeover, and with every takeover round), and entries read new (">")
are on their first delivery, so their delivery counts are not asked for (XPENDING).
"""

from __future__ import annotations

import json
import os
import socket
import time
import uuid
from collections.abc import Sequence
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

from .transport import Delivery, Message, TransportError, dead_letter_topic

_KEY_PREFIX = "events:"


def _stream(topic: str) -> str:
    return _KEY_PREFIX + topic


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisStreamsTransport:
    def __init__(
        self,
        redis: Redis,
        *,
        stream_length_max: int = 100_000,
        claim_idle_ms: int = 30_000,
        consumer_name: str | None = None,
        owns_client: bool = False,
    ) -> None:
        self._redis = redis
        self._stream_length_max = stream_length_max
        self._claim_idle_ms = claim_idle_ms
        self.consumer_name = consumer_name or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._owns_client = owns_client
        self._groups_ready: set[tuple[str, str]] = set()
        # (topic, group) whose own pending list may hold entries to re-read.
        self._pending_maybe: set[tuple[str, str]] = set()
        self._next_claim_s: dict[tuple[str, str], float] = {}

    @classmethod
    def from_url(cls, url: str, *, timeout_s: float = 2.0, **kwargs: Any) -> RedisStreamsTransport:
        # Blocking reads wait up to the poll interval, so the socket timeout must exceed it.
        client = Redis.from_url(
            url,
            socket_timeout=timeout_s + 5.0,
            socket_connect_timeout=timeout_s,
            health_check_interval=30,
            max_connections=20,
        )
        return cls(client, owns_client=True, **kwargs)

    async def publish(self, topic: str, key: str, value: bytes, headers: dict[str, str]) -> None:
        fields: dict[Any, Any] = {"key": key, "value": value, "headers": json.dumps(headers)}
        try:
            await self._redis.xadd(_stream(topic), fields, maxlen=self._stream_length_max, approximate=True)
        except RedisError as exc:
            raise TransportError(f"redis publish to {topic} failed: {type(exc).__name__}") from exc

    async def publish_many(self, messages: Sequence[Message]) -> int:
        pipe = self._redis.pipeline(transaction=False)
        for m in messages:
            fields: dict[Any, Any] = {"key": m.key, "value": m.value, "headers": json.dumps(m.headers)}
            pipe.xadd(_stream(m.topic), fields, maxlen=self._stream_length_max, approximate=True)
        try:
            results = await pipe.execute(raise_on_error=False)
        except RedisError as exc:
            raise TransportError(f"redis publish failed: {type(exc).__name__}") from exc
        accepted = 0
        for result in results:
            if isinstance(result, Exception):
                break
            accepted += 1
        return accepted

    async def _ensure_group(self, topic: str, group: str) -> None:
        if (topic, group) in self._groups_ready:
            return
        try:
            # From the start of the stream: a group created after an event still gets it.
            await self._redis.xgroup_create(_stream(topic), group, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._groups_ready.add((topic, group))

    async def fetch(self, topic: str, group: str, *, batch_size_max: int, wait_ms: int) -> Sequence[Delivery]:
        stream = _stream(topic)
        try:
            await self._ensure_group(topic, group)
            await self._take_over_when_due(stream, topic, group, batch_size_max)
            if (topic, group) in self._pending_maybe:
                entries = await self._read(stream, group, "0", batch_size_max, None)
                if entries:
                    return await self._deliveries(topic, stream, group, entries, counted=True)
                self._pending_maybe.discard((topic, group))
            entries = await self._read(stream, group, ">", batch_size_max, wait_ms)
            return await self._deliveries(topic, stream, group, entries, counted=False)
        except RedisError as exc:
            raise TransportError(f"redis fetch from {topic} failed: {type(exc).__name__}") from exc

    async def _take_over_when_due(self, stream: str, topic: str, group: str, count: int) -> None:
        """Claim what another consumer left idle (it died), at most every half idle period;
        each round also re-reads this consumer's own pending list, whatever left it there."""
        now = time.monotonic()
        if now < self._next_claim_s.get((topic, group), 0.0):
            return
        claimed = await self._redis.xautoclaim(
            stream, group, self.consumer_name, self._claim_idle_ms, "0-0", count=count, justid=True
        )
        # A full claim may have left more behind: claim again on the next fetch.
        full = isinstance(claimed, list) and len(claimed) >= count
        self._next_claim_s[(topic, group)] = now if full else now + self._claim_idle_ms / 2000
        self._pending_maybe.add((topic, group))

    async def _read(
        self, stream: str, group: str, start: str, count: int, block_ms: int | None
    ) -> list[tuple[bytes, dict[bytes, bytes] | None]]:
        reply: Any = await self._redis.xreadgroup(
            group, self.consumer_name, {stream: start}, count=count, block=block_ms
        )
        if not reply:
            return []
        if isinstance(reply, dict):  # RESP3 answers a map of stream -> entries
            entries = next(iter(reply.values()))
            return list(entries[0] if entries and isinstance(entries[0], list) else entries)
        return list(reply[0][1])

    async def _deliveries(
        self,
        topic: str,
        stream: str,
        group: str,
        entries: list[tuple[bytes, dict[bytes, bytes] | None]],
        *,
        counted: bool,
    ) -> list[Delivery]:
        """`counted`: entries delivered before, whose delivery counts must be asked for."""
        if not entries:
            return []
        counts: dict[str, int] = {}
        if counted:
            first, last = _text(entries[0][0]), _text(entries[-1][0])
            pending = await self._redis.xpending_range(
                stream, group, min=first, max=last, count=len(entries), consumername=self.consumer_name
            )
            counts = {_text(p["message_id"]): int(p["times_delivered"]) for p in pending}
        deliveries = []
        for entry_id, fields in entries:
            message_id = _text(entry_id)
            if not fields:
                # Trimmed away (MAXLEN) while pending: nothing left to deliver.
                await self._redis.xack(stream, group, message_id)
                continue
            deliveries.append(
                Delivery(
                    topic=topic,
                    key=_text(fields[b"key"]),
                    value=bytes(fields[b"value"]),
                    headers={str(k): str(v) for k, v in json.loads(fields[b"headers"]).items()},
                    attempt=max(1, counts.get(message_id, 1)),
                    receipt=message_id,
                )
            )
        return deliveries

    async def ack(self, group: str, delivery: Delivery) -> None:
        try:
            await self._redis.xack(_stream(delivery.topic), group, delivery.receipt)
        except RedisError as exc:
            raise TransportError(f"redis ack on {delivery.topic} failed: {type(exc).__name__}") from exc

    async def ack_many(self, group: str, deliveries: Sequence[Delivery]) -> None:
        by_topic: dict[str, list[Any]] = {}
        for delivery in deliveries:
            by_topic.setdefault(delivery.topic, []).append(delivery.receipt)
        try:
            for topic, receipts in by_topic.items():
                await self._redis.xack(_stream(topic), group, *receipts)
        except RedisError as exc:
            raise TransportError(f"redis ack failed: {type(exc).__name__}") from exc

    async def release(self, group: str, deliveries: Sequence[Delivery]) -> None:
        # Unacknowledged entries stay in this consumer's pending list; the next fetch re-reads them.
        for delivery in deliveries:
            self._pending_maybe.add((delivery.topic, group))

    async def dead_letter(self, group: str, delivery: Delivery, error: str) -> None:
        headers = {**delivery.headers, "dlq-error": error[:1000], "dlq-original-id": str(delivery.receipt)}
        await self.publish(dead_letter_topic(delivery.topic, group), delivery.key, delivery.value, headers)
        await self.ack(group, delivery)

    async def forget_group(self, topic: str, group: str) -> None:
        """Drop a consumer group (a throwaway reader, such as a dead-letter listing)."""
        try:
            await self._redis.xgroup_destroy(_stream(topic), group)
        except RedisError as exc:
            raise TransportError(f"redis group drop on {topic} failed: {type(exc).__name__}") from exc
        self._groups_ready.discard((topic, group))
        self._pending_maybe.discard((topic, group))
        self._next_claim_s.pop((topic, group), None)

    async def ping(self) -> bool:
        try:
            return bool(await self._redis.ping())
        except RedisError:
            return False

    async def aclose(self) -> None:
        if self._owns_client:
            await self._redis.aclose()
