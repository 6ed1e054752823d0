"""A real Jaeger (v2: github.com/jaegertracing/jaeger, the code of the compose image) for the
integration suite, built once from the Go module into .cache/bin and run with
observability/jaeger.yml, the configuration compose mounts.

    python -m tools.stack.jaeger build    # what .ci/run does before the tests (go required)
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from .compose import REPO
from .ready import stop, wait_until_ok

MODULE = "github.com/jaegertracing/jaeger"
# v1.76.0 and v2.13.0 tag the same code; cmd/jaeger is the v2 binary (jaegertracing/jaeger:2.13.0).
VERSION = "v1.76.0"
BIN_DIR = REPO / ".cache" / "bin"
BINARY = BIN_DIR / "jaeger"
STAMP = BIN_DIR / "jaeger.version"
CONFIG = REPO / "observability" / "jaeger.yml"
BUILD_TIMEOUT_S = 3_600
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0
QUERY_TIMEOUT_S = 5.0


def ensure_binary() -> Path:
    """The built binary; built now when missing. `go install MODULE@VERSION` is refused (the
    module's go.mod has a replace directive), so it is built inside the downloaded module.
    Go's build cache makes a rebuild on the same machine a matter of linking."""
    if BINARY.is_file() and STAMP.is_file() and STAMP.read_text().strip() == VERSION:
        return BINARY
    go = shutil.which("go") or ("/usr/local/go/bin/go" if Path("/usr/local/go/bin/go").exists() else None)
    if go is None:
        raise RuntimeError("Jaeger is built from its Go module: install Go (https://go.dev/dl/)")
    info = subprocess.run(
        [go, "mod", "download", "-json", f"{MODULE}@{VERSION}"],
        check=True,
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT_S,
    )
    module_dir = json.loads(info.stdout)["Dir"]
    BIN_DIR.mkdir(parents=True, exist_ok=True)
    partial = BINARY.with_suffix(".partial")
    subprocess.run(
        [go, "build", "-trimpath", "-o", str(partial), "./cmd/jaeger"],
        cwd=module_dir,
        check=True,
        timeout=BUILD_TIMEOUT_S,
    )
    partial.replace(BINARY)
    STAMP.write_text(VERSION + "\n")
    return BINARY


class LocalJaeger:
    def __init__(self, host: str, log_file: Path) -> None:
        self.host = host
        self.log_file = log_file
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def otlp_http(self) -> tuple[str, int]:
        return (self.host, 4318)

    @property
    def query_url(self) -> str:
        return f"http://{self.host}:16686"

    def start(self) -> LocalJaeger:
        binary = ensure_binary()
        with open(self.log_file, "ab") as log:
            self._process = subprocess.Popen(
                [str(binary), "--config", str(CONFIG)],
                env={"PATH": os.environ.get("PATH", ""), "JAEGER_LISTEN_HOST": self.host},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_until_ok(
            self._process,
            f"http://{self.host}:13133/status",
            START_TIMEOUT_S,
            f"jaeger did not start; see {self.log_file}",
        )
        return self

    def trace(self, trace_id: str) -> dict[str, Any] | None:
        with httpx.Client(timeout=QUERY_TIMEOUT_S, trust_env=False) as client:
            response = client.get(f"{self.query_url}/api/traces/{trace_id}")
        if response.status_code == 404:
            return None
        response.raise_for_status()
        data = response.json().get("data") or []
        return data[0] if data else None

    def stop(self) -> None:
        stop(self._process, STOP_TIMEOUT_S)
        self._process = None


if __name__ == "__main__":
    if sys.argv[1:] != ["build"]:
        sys.exit("usage: python -m tools.stack.jaeger build")
    print(ensure_binary())
