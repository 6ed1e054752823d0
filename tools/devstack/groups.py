"""Stopping the processes of the local fleet (fleet.py) and of the compose stack as processes
(tools/stack/processes.py). Each is started in its own session, so its process group holds
whatever it spawned (nginx's workers, uvicorn's) and one signal reaches all of them."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Iterable


def stop_groups(processes: Iterable[subprocess.Popen[bytes]], timeout_s: float) -> None:
    """SIGTERM to every group still running, in the order given; then wait up to timeout_s for
    each and SIGKILL its group if it is still there. A group gone in between (it exited after
    the poll) is no error: the caller still has its datastores to stop."""
    processes = list(processes)
    for process in processes:
        if process.poll() is None:
            _signal_group(process, signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            _signal_group(process, signal.SIGKILL)
            process.wait()


def _signal_group(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, sig)
