"""A Postgres server on TCP with password logins, standing in for the compose `postgres-db`
container: pgserver's binaries (already a dependency of `make run`), initdb'd like the image's
entrypoint does (superuser and database from its environment, scram-sha-256 on TCP)."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

START_TIMEOUT_S = 60.0
COMMAND_TIMEOUT_S = 120
STOP_TIMEOUT_S = 20


def _bin_dir() -> Path:
    from pgserver._commands import POSTGRES_BIN_PATH

    return Path(POSTGRES_BIN_PATH)


class LocalPostgres:
    def __init__(self, data_dir: Path, *, host: str, port: int, log_dir: Path) -> None:
        self.data_dir = data_dir
        self.host = host
        self.port = port
        self.log_dir = log_dir
        self.bin = _bin_dir()
        self._process: subprocess.Popen[bytes] | None = None
        # Postgres refuses to run as root; pgserver's own unprivileged user serves here too.
        self._user: str | None = None
        if os.geteuid() == 0:
            from pgserver.utils import (
                ensure_folder_permissions,
                ensure_prefix_permissions,
                ensure_user_exists,
            )

            self._user = "pgserver"
            ensure_user_exists(self._user)
            ensure_prefix_permissions(self.bin)
            ensure_folder_permissions(self.bin.parent, 0o555)
        self.superuser = ""
        self.password = ""
        self.database = ""

    def _run_as(self) -> dict[str, Any]:
        return {"user": self._user} if self._user else {}

    def start(self, *, superuser: str, password: str, database: str) -> None:
        self.superuser, self.password, self.database = superuser, password, database
        self.data_dir.mkdir(parents=True, exist_ok=True)
        pwfile = self.data_dir.parent / "pg-superuser-password"
        pwfile.write_text(password + "\n")
        if self._user:
            from pgserver.utils import ensure_prefix_permissions

            ensure_prefix_permissions(self.data_dir)
            shutil.chown(self.data_dir, self._user, self._user)
            shutil.chown(pwfile, self._user, self._user)
        pwfile.chmod(0o600)
        subprocess.run(
            [
                str(self.bin / "initdb"),
                "-D",
                str(self.data_dir),
                "-U",
                superuser,
                f"--pwfile={pwfile}",
                "--auth-host=scram-sha-256",
                "--auth-local=trust",
                "-E",
                "UTF8",
            ],
            check=True,
            capture_output=True,
            timeout=COMMAND_TIMEOUT_S,
            **self._run_as(),
        )
        pwfile.unlink()
        with open(self.log_dir / "postgres-db.log", "ab") as log:
            self._process = subprocess.Popen(
                [
                    str(self.bin / "postgres"),
                    "-D",
                    str(self.data_dir),
                    "-c",
                    f"listen_addresses={self.host}",
                    "-p",
                    str(self.port),
                    "-c",
                    f"unix_socket_directories={self.data_dir}",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                **self._run_as(),
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            ready = subprocess.run(
                [str(self.bin / "pg_isready"), "-h", self.host, "-p", str(self.port), "-U", superuser],
                check=False,
                capture_output=True,
                timeout=10,
            )
            if ready.returncode == 0:
                break
            if self._process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"postgres did not start; see {self.log_dir / 'postgres-db.log'}")
            time.sleep(0.2)
        self.psql({}, ["-d", "postgres", "-c", f'CREATE DATABASE "{database}"'])

    def _env(self, extra: Mapping[str, str]) -> dict[str, str]:
        return {
            "PATH": f"{self.bin}{os.pathsep}{os.environ.get('PATH', '')}",
            "PGHOST": self.host,
            "PGPORT": str(self.port),
            "PGUSER": self.superuser,
            "PGPASSWORD": self.password,
            "PGDATABASE": self.database,
            **extra,
        }

    def psql(self, env: Mapping[str, str], args: list[str]) -> None:
        """psql as the superuser, the way the image's init scripts run it."""
        subprocess.run(
            [str(self.bin / "psql"), "-v", "ON_ERROR_STOP=1", "--no-psqlrc", "-q", *args],
            env=self._env(env),
            check=True,
            capture_output=True,
            timeout=COMMAND_TIMEOUT_S,
        )

    def psql_as(self, url: str, args: list[str]) -> None:
        """psql with a service's own URL (its role, its password)."""
        subprocess.run(
            [str(self.bin / "psql"), "-v", "ON_ERROR_STOP=1", "--no-psqlrc", "-q", url, *args],
            env={"PATH": os.environ.get("PATH", "")},
            check=True,
            capture_output=True,
            timeout=COMMAND_TIMEOUT_S,
        )

    def run_init_script(self, env: Mapping[str, str], script: Path) -> None:
        """The image's entrypoint sources a non-executable *.sh in /docker-entrypoint-initdb.d."""
        subprocess.run(
            ["bash", "-c", 'set -e; source "$0"', str(script)],
            env=self._env(env),
            check=True,
            capture_output=True,
            timeout=COMMAND_TIMEOUT_S,
        )

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()  # smart shutdown
            try:
                self._process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None
