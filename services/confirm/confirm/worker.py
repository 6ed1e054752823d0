"""Background work of the confirm service: finish payments whose bank outcome was unknown
(a timeout, a crash between steps) and purge expired idempotency keys."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from paykit.idempotency import IdempotencyStore

from .usecases import Deps, resolve_unresolved

log = logging.getLogger("confirm.worker")


class PaymentResolver:
    def __init__(
        self,
        deps: Deps,
        idempotency: IdempotencyStore,
        *,
        interval_s: float,
        older_than_s: float,
        batch_size_max: int = 50,
    ) -> None:
        self.deps = deps
        self.idempotency = idempotency
        self.interval_s = interval_s
        self.older_than_s = older_than_s
        self.batch_size_max = batch_size_max

    async def run_once(self) -> int:
        resolved = await resolve_unresolved(self.deps, self.older_than_s, self.batch_size_max)
        await self.idempotency.purge_expired()
        return resolved

    async def run_forever(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                resolved = await self.run_once()
                if resolved:
                    log.info("resolved %d payments with the bank", resolved)
            except Exception:
                log.exception("payment resolver pass failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.interval_s)
