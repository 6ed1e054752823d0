"""Stopping the local fleet's and the compose stack's processes (tools/devstack/groups.py):
every process group goes, a child that ignores SIGTERM is killed once its time is up, and one
that already exited is no error, so the embedded Postgres and Redis after them still stop."""

from __future__ import annotations

import os
import signal
import subprocess
import time

from tools.devstack.groups import stop_groups

GRACE_S = 0.5
REAP_TIMEOUT_S = 10


def _start(script: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(["sh", "-c", script], start_new_session=True)


def _group_gone(process: subprocess.Popen[bytes]) -> bool:
    """No member left; a killed child counts until its new parent (PID 1 here) reaps it."""
    deadline = time.monotonic() + REAP_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            os.killpg(process.pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


def test_every_group_stops_and_one_deaf_to_sigterm_is_killed() -> None:
    polite = _start("sleep 60 & wait")
    deaf = _start("trap '' TERM; sleep 60 & wait")
    time.sleep(0.2)  # let sh set its trap before the signal comes
    started = time.monotonic()
    stop_groups([polite, deaf], GRACE_S)
    assert time.monotonic() - started < GRACE_S + 5
    assert polite.returncode == -signal.SIGTERM
    assert deaf.returncode == -signal.SIGKILL
    assert _group_gone(polite) and _group_gone(deaf), "a child outlived its group's stop"


def test_an_exited_process_is_no_error_and_the_rest_still_stop() -> None:
    exited = _start("exit 3")
    exited.wait(5)
    running = _start("sleep 60")
    stop_groups([exited, running], GRACE_S)
    assert exited.returncode == 3
    assert running.returncode == -signal.SIGTERM
