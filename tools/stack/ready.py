"""Starting and stopping the stack test's helper processes (Jaeger, Prometheus): wait for a
readiness URL, stop within a bound."""

from __future__ import annotations

import subprocess
import time

import httpx

POLL_INTERVAL_S = 0.2
PROBE_TIMEOUT_S = 2


def wait_until_ok(process: subprocess.Popen[bytes], url: str, timeout_s: float, failure: str) -> None:
    """Return once `url` answers 200; raise RuntimeError(failure) if the process dies or time runs out."""
    deadline = time.monotonic() + timeout_s
    with httpx.Client(timeout=PROBE_TIMEOUT_S, trust_env=False) as client:
        while True:
            try:
                if client.get(url).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(failure)
            time.sleep(POLL_INTERVAL_S)


def stop(process: subprocess.Popen[bytes] | None, timeout_s: float) -> None:
    """Terminate a running process, kill it if it has not exited within `timeout_s`."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
