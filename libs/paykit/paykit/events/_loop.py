"""The polling loop shared by the relay and the consumers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger("paykit.events")


async def run_until_stopped(
    step: Callable[[], Awaitable[int]],
    stop: asyncio.Event,
    *,
    poll_interval_s: float,
    name: str,
    error_backoff_s: float = 1.0,
) -> None:
    """Call `step()` until `stop` is set; pause `poll_interval_s` when it did nothing and
    `error_backoff_s` when it failed (the failure is logged, the loop goes on)."""
    while not stop.is_set():
        try:
            done = await step()
            wait_s = poll_interval_s
        except Exception:
            log.exception("%s: step failed; retrying in %.1fs", name, error_backoff_s)
            done, wait_s = 0, error_backoff_s
        if not done:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), wait_s)
