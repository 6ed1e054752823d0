"""Choosing the transport from settings, and running relays and consumers beside a service."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Mapping
from typing import Protocol

import asyncpg
from fastapi import FastAPI

from ..config import ServiceSettings
from .consumer import BatchHandler, EventConsumer, Handler
from .kafka import KafkaTransport
from .redis_streams import RedisStreamsTransport
from .transport import Transport

log = logging.getLogger("paykit.events")
STOP_TIMEOUT_S = 10.0


class Worker(Protocol):
    """An OutboxRelay or an EventConsumer."""

    async def run_forever(self, stop: asyncio.Event) -> None: ...


def transport_from_settings(settings: ServiceSettings) -> Transport:
    """Kafka when KAFKA_BROKERS is set, else Redis Streams on REDIS_URL. The caller closes it."""
    if settings.kafka_brokers:
        return KafkaTransport(settings.kafka_brokers, client_id=settings.service_name)
    if not settings.redis_url:
        raise ValueError("events need KAFKA_BROKERS or REDIS_URL")
    return RedisStreamsTransport.from_url(settings.redis_url, timeout_s=settings.redis_timeout_s)


@contextlib.asynccontextmanager
async def run_in_background(
    *workers: Worker,
    app: FastAPI | None = None,
    transport: Transport | None = None,
    stop_timeout_s: float = STOP_TIMEOUT_S,
) -> AsyncIterator[asyncio.Event]:
    """Run each worker's `run_forever` as a task for the duration of the block; on exit ask
    them to stop, wait up to `stop_timeout_s`, then cancel what is left. With `app` and
    `transport`, registers the readiness check "broker". Yields the stop event.

        async with open_resources(...) as res, run_in_background(relay, consumer, app=app,
                                                                  transport=transport):
            yield
    """
    if app is not None and transport is not None:
        app.state.readiness.add("broker", transport.ping)
    stop = asyncio.Event()
    tasks = [
        asyncio.create_task(worker.run_forever(stop), name=f"paykit-events-{type(worker).__name__}-{i}")
        for i, worker in enumerate(workers)
    ]
    try:
        yield stop
    finally:
        stop.set()
        if tasks:
            _done, pending = await asyncio.wait(tasks, timeout=stop_timeout_s)
            for task in pending:
                log.warning("%s did not stop in %.0fs; cancelled", task.get_name(), stop_timeout_s)
                task.cancel()
            results = await asyncio.gather(*tasks, return_exceptions=True)
            for result in results:
                if isinstance(result, Exception):
                    log.error("background worker ended with %r", result)


def consumers_from_settings(
    pool: asyncpg.Pool,
    transport: Transport,
    settings: ServiceSettings,
    *,
    group: str,
    handlers: Mapping[str, Handler],
    batch_handlers: Mapping[str, BatchHandler] | None = None,
) -> list[EventConsumer]:
    """One consumer per topic for `group`, with the service's event limits; a topic with a
    batch handler handles fetched batches whole (see EventConsumer)."""
    batch_handlers = batch_handlers or {}
    return [
        EventConsumer(
            pool,
            transport,
            topic=topic,
            group=group,
            handler=handler,
            batch_handler=batch_handlers.get(topic),
            attempts_max=settings.events_attempts_max,
            batch_size_max=settings.events_batch_size_max,
            poll_interval_s=settings.events_poll_interval_ms / 1000,
            batch_linger_s=settings.events_batch_linger_ms / 1000,
            retry_budget_s=settings.events_retry_budget_s,
            retry_backoff_max_s=settings.events_retry_backoff_max_s,
        )
        for topic, handler in handlers.items()
    ]
