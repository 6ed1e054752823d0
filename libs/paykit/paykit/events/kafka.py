"""Events over Kafka (aiokafka): an idempotent producer with acks=all keyed by the event
key, and one consumer per (topic, group) that commits an offset only after its message
was handled. Every call runs under an explicit timeout.

Kafka keeps no per-message delivery count; `attempt` counts how often this process has
fetched the same offset (a rewind after a failure or a rebalance fetches it again).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError
from aiokafka.structs import OffsetAndMetadata
from opentelemetry import context as otel_context
from opentelemetry import propagate

from .transport import Delivery, Message, TransportError, dead_letter_topic

_ATTEMPTS_TRACKED_MAX = 100_000


class KafkaTransport:
    def __init__(
        self,
        bootstrap_servers: str,
        *,
        client_id: str = "paykit",
        request_timeout_ms: int = 10_000,
        session_timeout_ms: int = 10_000,
    ) -> None:
        self._bootstrap = bootstrap_servers
        self._client_id = client_id
        self._request_timeout_ms = request_timeout_ms
        self._session_timeout_ms = session_timeout_ms
        self._timeout_s = request_timeout_ms / 1000
        self._producer: AIOKafkaProducer | None = None
        self._consumers: dict[tuple[str, str], AIOKafkaConsumer] = {}
        self._fetch_counts: dict[tuple[str, str, int, int], int] = {}
        self._lock = asyncio.Lock()

    async def _started_producer(self) -> AIOKafkaProducer:
        async with self._lock:
            if self._producer is None:
                producer = AIOKafkaProducer(
                    bootstrap_servers=self._bootstrap,
                    client_id=self._client_id,
                    enable_idempotence=True,
                    acks="all",
                    request_timeout_ms=self._request_timeout_ms,
                    linger_ms=5,
                )
                async with asyncio.timeout(self._timeout_s):
                    await producer.start()
                self._producer = producer
            return self._producer

    async def _started_consumer(self, topic: str, group: str) -> AIOKafkaConsumer:
        async with self._lock:
            consumer = self._consumers.get((topic, group))
            if consumer is None:
                consumer = AIOKafkaConsumer(
                    topic,
                    bootstrap_servers=self._bootstrap,
                    client_id=f"{self._client_id}-{group}",
                    group_id=group,
                    enable_auto_commit=False,
                    # A group that starts after an event was published still receives it.
                    auto_offset_reset="earliest",
                    request_timeout_ms=self._request_timeout_ms,
                    session_timeout_ms=self._session_timeout_ms,
                    heartbeat_interval_ms=max(1000, self._session_timeout_ms // 4),
                )
                async with asyncio.timeout(self._timeout_s):
                    await consumer.start()
                self._consumers[(topic, group)] = consumer
            return consumer

    async def publish(self, topic: str, key: str, value: bytes, headers: dict[str, str]) -> None:
        try:
            producer = await self._started_producer()
            async with asyncio.timeout(self._timeout_s):
                await producer.send_and_wait(
                    topic,
                    value,
                    key=key.encode(),
                    headers=[(name, text.encode()) for name, text in headers.items()],
                )
        except (KafkaError, TimeoutError) as exc:
            raise TransportError(f"kafka publish to {topic} failed: {type(exc).__name__}") from exc

    async def publish_many(self, messages: Sequence[Message]) -> int:
        """Every message is handed to the producer first (it batches them per partition),
        then their acknowledgements are awaited in order. Each is sent in the trace context
        its headers carry, so an instrumented producer stays in the message's trace."""
        accepted = 0
        try:
            producer = await self._started_producer()
            async with asyncio.timeout(self._timeout_s):
                acks = []
                for m in messages:
                    token = otel_context.attach(propagate.extract(m.headers))
                    try:
                        acks.append(
                            await producer.send(
                                m.topic,
                                m.value,
                                key=m.key.encode(),
                                headers=[(name, text.encode()) for name, text in m.headers.items()],
                            )
                        )
                    finally:
                        otel_context.detach(token)
                for ack in acks:
                    await ack
                    accepted += 1
        except (KafkaError, TimeoutError) as exc:
            if accepted == 0:
                raise TransportError(f"kafka publish failed: {type(exc).__name__}") from exc
        return accepted

    async def fetch(self, topic: str, group: str, *, batch_size_max: int, wait_ms: int) -> Sequence[Delivery]:
        try:
            consumer = await self._started_consumer(topic, group)
            async with asyncio.timeout(self._timeout_s + wait_ms / 1000):
                batches = await consumer.getmany(timeout_ms=wait_ms, max_records=batch_size_max)
        except (KafkaError, TimeoutError) as exc:
            raise TransportError(f"kafka fetch from {topic} failed: {type(exc).__name__}") from exc
        records = [r for tp in sorted(batches, key=lambda t: t.partition) for r in batches[tp]]
        return [self._delivery(group, r) for r in records]

    def _delivery(self, group: str, record: ConsumerRecord[Any, Any]) -> Delivery:
        marker = (group, record.topic, record.partition, record.offset)
        if len(self._fetch_counts) >= _ATTEMPTS_TRACKED_MAX:
            self._fetch_counts.clear()
        attempt = self._fetch_counts.get(marker, 0) + 1
        self._fetch_counts[marker] = attempt
        headers: dict[str, str] = {}
        for name, raw in record.headers or ():
            headers[name] = bytes(raw).decode(errors="replace")  # the last value of a name wins
        return Delivery(
            topic=record.topic,
            key=bytes(record.key or b"").decode(errors="replace"),
            value=bytes(record.value or b""),
            headers=headers,
            attempt=attempt,
            receipt=(record.partition, record.offset),
        )

    async def ack(self, group: str, delivery: Delivery) -> None:
        partition, offset = delivery.receipt
        consumer = self._consumers.get((delivery.topic, group))
        if consumer is None:
            raise TransportError(f"no kafka consumer for {delivery.topic}/{group}")
        try:
            async with asyncio.timeout(self._timeout_s):
                await consumer.commit(
                    {TopicPartition(delivery.topic, partition): OffsetAndMetadata(offset + 1, "")}
                )
        except (KafkaError, TimeoutError) as exc:
            raise TransportError(f"kafka commit on {delivery.topic} failed: {type(exc).__name__}") from exc
        self._fetch_counts.pop((group, delivery.topic, partition, offset), None)

    async def ack_many(self, group: str, deliveries: Sequence[Delivery]) -> None:
        """One commit per (topic, group): each partition's offset moves past the last of
        `deliveries` on it (they were fetched together and are all done)."""
        nexts: dict[tuple[str, int], int] = {}
        for d in deliveries:
            partition, offset = d.receipt
            key = (d.topic, partition)
            nexts[key] = max(offset + 1, nexts.get(key, offset + 1))
        for topic in {t for t, _ in nexts}:
            consumer = self._consumers.get((topic, group))
            if consumer is None:
                raise TransportError(f"no kafka consumer for {topic}/{group}")
            offsets = {
                TopicPartition(t, p): OffsetAndMetadata(o, "") for (t, p), o in nexts.items() if t == topic
            }
            try:
                async with asyncio.timeout(self._timeout_s):
                    await consumer.commit(offsets)
            except (KafkaError, TimeoutError) as exc:
                raise TransportError(f"kafka commit on {topic} failed: {type(exc).__name__}") from exc
        for d in deliveries:
            partition, offset = d.receipt
            self._fetch_counts.pop((group, d.topic, partition, offset), None)

    async def release(self, group: str, deliveries: Sequence[Delivery]) -> None:
        """Rewind each partition to its first unfinished offset so it is fetched again."""
        firsts: dict[tuple[str, int], int] = {}
        for d in deliveries:
            partition, offset = d.receipt
            key = (d.topic, partition)
            firsts[key] = min(offset, firsts.get(key, offset))
        for (topic, partition), offset in firsts.items():
            consumer = self._consumers.get((topic, group))
            if consumer is not None:
                consumer.seek(TopicPartition(topic, partition), offset)

    async def dead_letter(self, group: str, delivery: Delivery, error: str) -> None:
        partition, offset = delivery.receipt
        headers = {
            **delivery.headers,
            "dlq-error": error[:1000],
            "dlq-original-id": f"{delivery.topic}/{partition}/{offset}",
        }
        await self.publish(dead_letter_topic(delivery.topic, group), delivery.key, delivery.value, headers)
        await self.ack(group, delivery)

    async def ping(self) -> bool:
        try:
            producer = await self._started_producer()
            async with asyncio.timeout(self._timeout_s):
                await producer.client.fetch_all_metadata()
            return True
        except Exception:
            return False

    async def aclose(self) -> None:
        consumers, self._consumers = list(self._consumers.values()), {}
        for consumer in consumers:
            async with asyncio.timeout(self._timeout_s):
                await consumer.stop()
        producer, self._producer = self._producer, None
        if producer is not None:
            async with asyncio.timeout(self._timeout_s):
                await producer.stop()
