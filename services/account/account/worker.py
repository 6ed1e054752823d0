"""Background tasks run by the lifespan: the hold-expiry sweeper and the periodic
reconciliation. Each step is a use case tests call directly; these loops only pace them."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import asyncpg

from . import usecases
from .clients import ConfirmClient, PartnerBankClient
from .reconciliation import ReconciliationLimits, run_reconciliation

log = logging.getLogger("account.worker")


async def _every(name: str, interval_s: float, step: Callable[[], Awaitable[bool]]) -> None:
    """Run `step` every `interval_s`; a step that returns True (more work) runs again at once.
    An error is logged and retried next interval: a sick dependency must not kill the loop."""
    while True:
        try:
            more = await step()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s step failed", name)
            more = False
        if not more:
            await asyncio.sleep(interval_s)


def start_sweeper(pool: asyncpg.Pool, interval_s: float, batch_size_max: int) -> asyncio.Task[None]:
    async def step() -> bool:
        return await usecases.expire_holds(pool, batch_size_max=batch_size_max) == batch_size_max

    return asyncio.create_task(_every("hold sweeper", interval_s, step), name="hold-sweeper")


def start_reconciler(
    pool: asyncpg.Pool,
    bank: PartnerBankClient,
    interval_s: float,
    limits: ReconciliationLimits,
    confirm: ConfirmClient | None = None,
) -> asyncio.Task[None]:
    async def step() -> bool:
        await run_reconciliation(pool, bank, limits, confirm=confirm)
        return False

    async def delayed() -> None:
        # The first run waits one interval so a starting fleet is not reported as broken.
        await asyncio.sleep(interval_s)
        await _every("reconciliation", interval_s, step)

    return asyncio.create_task(delayed(), name="reconciler")


async def stop(tasks: list[asyncio.Task[None]]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
