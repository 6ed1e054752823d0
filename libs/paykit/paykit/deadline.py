"""Request deadlines that travel across hops.

A caller says how long it will wait in `X-Request-Timeout-Ms` (the remaining budget in
milliseconds, relative like gRPC's `grpc-timeout`, so clocks of different hosts never have
to agree). Each service turns it into a deadline on its own monotonic clock when the request
arrives, refuses work whose budget is already spent, and hands the rest of the budget to
every call it makes (`paykit.http.ServiceClient` caps its timeouts with it and forwards the
header). No service works for a caller that has already given up.
"""

from __future__ import annotations

import time
from contextvars import ContextVar, Token

DEADLINE_HEADER = "X-Request-Timeout-Ms"
# A caller cannot ask us to work longer than this, whatever it sends.
BUDGET_MS_MAX = 120_000

_deadline_var: ContextVar[float | None] = ContextVar("request_deadline", default=None)


def parse_budget_ms(value: str | None) -> int | None:
    """The budget a header carries; None when absent or not a plain integer."""
    if value is None:
        return None
    value = value.strip()
    if not value or len(value) > 9 or not value.lstrip("-").isdigit():
        return None
    return min(int(value), BUDGET_MS_MAX)


def start(budget_ms: int | None) -> Token[float | None]:
    """Set the current request's deadline `budget_ms` from now (None: no deadline)."""
    deadline = None if budget_ms is None else time.monotonic() + budget_ms / 1000
    return _deadline_var.set(deadline)


def reset(token: Token[float | None]) -> None:
    _deadline_var.reset(token)


def remaining_s() -> float | None:
    """Seconds left for the current request (negative once passed), None without a deadline."""
    deadline = _deadline_var.get()
    return None if deadline is None else deadline - time.monotonic()


def expired() -> bool:
    left = remaining_s()
    return left is not None and left <= 0


def outgoing_headers() -> dict[str, str]:
    """The header to send downstream: what is left of our own budget."""
    left = remaining_s()
    if left is None:
        return {}
    return {DEADLINE_HEADER: str(max(0, int(left * 1000)))}


def cap_timeout_s(timeout_s: float) -> float:
    """A call's own timeout, never longer than what is left of the request's budget."""
    left = remaining_s()
    return timeout_s if left is None else max(0.0, min(timeout_s, left))
