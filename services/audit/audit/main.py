"""Wiring of the audit service: settings, lifespan (event consumers, search indexer), routes."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
from fastapi import FastAPI
from paykit import ServiceSettings, create_service_app
from paykit.events import Transport, consumers_from_settings, run_in_background, transport_from_settings
from paykit.events.runner import Worker
from paykit.resources import open_resources
from pydantic import Field

from . import api
from .clients import IndexLimits, SearchIndexer
from .domain import CHECKPOINT_EVERY_DEFAULT, CHECKPOINT_KEY_DEV
from .events import CONSUMER_GROUP, KYC_EVENTS_TOPIC, PAYMENT_EVENTS_TOPIC, AuditHandlers
from .usecases import CheckpointPolicy

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
log = logging.getLogger("audit")


class AuditSettings(ServiceSettings):
    service_name: str = "audit"
    port: int = 3008

    # Consume payment-events and kyc-events (needs KAFKA_BROKERS or REDIS_URL).
    consume_events: bool = True
    audit_verify_batch_size: int = Field(default=1_000, ge=1, le=10_000)
    # Signed checkpoints of the chain's head: every N entries and on POST /audit/checkpoints.
    audit_checkpoint_key: str = Field(default=CHECKPOINT_KEY_DEV, min_length=16)
    audit_checkpoint_every: int = Field(default=CHECKPOINT_EVERY_DEFAULT, ge=1, le=1_000_000)
    # Optional Elasticsearch index of the log, fed from the committed log (clients.py).
    elasticsearch_url: str = ""
    elasticsearch_index: str = Field(default="audit-events", min_length=1)
    elasticsearch_timeout_s: float = Field(default=5.0, gt=0, le=60)
    elasticsearch_batch_size_max: int = Field(default=500, ge=1, le=10_000)
    elasticsearch_poll_interval_ms: int = Field(default=1_000, ge=10, le=60_000)
    elasticsearch_retry_delay_min_s: float = Field(default=0.5, gt=0, le=60)
    elasticsearch_retry_delay_max_s: float = Field(default=30.0, gt=0, le=3_600)

    def secrets_to_check(self) -> dict[str, str]:
        # The repository's development key counts as no key at all in production.
        key = "" if self.audit_checkpoint_key == CHECKPOINT_KEY_DEV else self.audit_checkpoint_key
        return {**super().secrets_to_check(), "AUDIT_CHECKPOINT_KEY": key}

    def index_limits(self) -> IndexLimits:
        return IndexLimits(
            timeout_s=self.elasticsearch_timeout_s,
            batch_size_max=self.elasticsearch_batch_size_max,
            poll_interval_s=self.elasticsearch_poll_interval_ms / 1000,
            retry_delay_min_s=self.elasticsearch_retry_delay_min_s,
            retry_delay_max_s=max(self.elasticsearch_retry_delay_max_s, self.elasticsearch_retry_delay_min_s),
        )


def _consumers(
    settings: AuditSettings, handlers: AuditHandlers, pool: asyncpg.Pool, transport: Transport
) -> list[Worker]:
    topics = {
        PAYMENT_EVENTS_TOPIC: handlers.handle_payment_event,
        KYC_EVENTS_TOPIC: handlers.handle_kyc_event,
    }
    batches = {
        PAYMENT_EVENTS_TOPIC: handlers.handle_payment_events,
        KYC_EVENTS_TOPIC: handlers.handle_kyc_events,
    }
    return list(
        consumers_from_settings(
            pool, transport, settings, group=CONSUMER_GROUP, handlers=topics, batch_handlers=batches
        )
    )


def create_app(settings: AuditSettings | None = None) -> FastAPI:
    settings = settings or AuditSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        indexer: SearchIndexer | None = None
        handlers = AuditHandlers(
            CheckpointPolicy(key=settings.audit_checkpoint_key, every=settings.audit_checkpoint_every)
        )
        app.state.handlers = handlers
        transport: Transport | None = None
        try:
            async with open_resources(app, settings, migrations_dir=MIGRATIONS) as resources:
                workers: list[Worker] = []
                if settings.elasticsearch_url:
                    indexer = SearchIndexer(
                        settings.elasticsearch_url,
                        resources.require_pool(),
                        index=settings.elasticsearch_index,
                        limits=settings.index_limits(),
                    )
                    workers.append(indexer)
                if settings.consume_events and (settings.kafka_brokers or settings.redis_url):
                    transport = transport_from_settings(settings)
                    workers += _consumers(settings, handlers, resources.require_pool(), transport)
                elif settings.consume_events:
                    log.warning("no KAFKA_BROKERS or REDIS_URL: audit is not consuming events")
                async with run_in_background(*workers, app=app, transport=transport):
                    yield
        finally:
            if transport is not None:
                await transport.aclose()
            if indexer is not None:
                await indexer.aclose()

    app = create_service_app(
        settings,
        title="Audit Service",
        description="Append-only audit log of every state change.",
        lifespan=lifespan,
    )
    app.include_router(api.router)
    return app
