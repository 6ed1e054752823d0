"""Failpoints: an environment-driven hook that kills the process at a named step, for the
fault suite (tests/integration/test_faults.py). `PAYKIT_FAILPOINT=after_hold` makes the
process SIGKILL itself the first time it reaches `failpoint("after_hold")`: the same as a
`kill -9` at exactly that step, which a test cannot time from outside.

Active only with APP_ENV=development or test (an unset APP_ENV is production); a no-op when
the variable is unset.
"""

from __future__ import annotations

import logging
import os
import signal

log = logging.getLogger("paykit.failpoints")
ENV = "PAYKIT_FAILPOINT"


def failpoint(name: str) -> None:
    if os.environ.get(ENV) != name or os.environ.get("APP_ENV") not in ("development", "test"):
        return
    log.warning("failpoint %s reached: killing this process (SIGKILL)", name)
    for handler in logging.getLogger().handlers:
        handler.flush()
    os.kill(os.getpid(), signal.SIGKILL)
