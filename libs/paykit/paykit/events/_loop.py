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
    linger_s: float = 0.0,
    batch_size_max: int = 0,
) -> None:
    """Call `step()` until `stop` is set; pause `poll_interval_s` when it did nothing and
    `error_backoff_s` when it failed (the failure is logged, the loop goes on). After a step
    that did fewer than `batch_size_max` things, pause `linger_s`: a batch costs about as much
    as a single item, so letting the next one gather more is cheaper than going at once."""
    while not stop.is_set():
        try:
            done = await step()
            wait_s = poll_interval_s if not done else linger_s if done < batch_size_max else 0.0
        except Exception:
            log.exception("%s: step failed; retrying in %.1fs", name, error_backoff_s)
            wait_s = error_backoff_s
        if wait_s > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), wait_s)
