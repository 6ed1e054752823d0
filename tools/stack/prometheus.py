"""A real Prometheus (Debian's `prometheus` package) with the project's configuration
(observability/prometheus.yml and its rule files), targets mapped to where the process stack
runs them."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import yaml

from .compose import REPO
from .ready import stop, wait_until_ok

CONFIG = REPO / "observability" / "prometheus.yml"
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0
QUERY_TIMEOUT_S = 5.0
PORT = 9090


def binary(name: str = "prometheus") -> str:
    found = shutil.which(name)
    if found is None:
        raise RuntimeError(f"{name} is not installed (apt-get install prometheus)")
    return found


def local_config(
    map_target: Callable[[str], str | None], self_address: str, scrape_interval_s: int
) -> dict[str, Any]:
    """The project's configuration with each target mapped (None: not run here, dropped),
    rule files made absolute, and a shorter scrape interval so a test sees results soon."""
    config: dict[str, Any] = yaml.safe_load(CONFIG.read_text())
    config["global"]["scrape_interval"] = f"{scrape_interval_s}s"
    config["global"]["evaluation_interval"] = f"{scrape_interval_s}s"
    config["global"]["scrape_timeout"] = f"{scrape_interval_s}s"
    config["rule_files"] = [str((CONFIG.parent / path).resolve()) for path in config.get("rule_files", [])]
    jobs = []
    for job in config["scrape_configs"]:
        statics = []
        for static in job["static_configs"]:
            targets = [
                f"{self_address}:{PORT}" if t == f"localhost:{PORT}" else map_target(t)
                for t in static["targets"]
            ]
            kept = [t for t in targets if t]
            if kept:
                statics.append({**static, "targets": kept})
        if statics:
            jobs.append({**job, "static_configs": statics})
    config["scrape_configs"] = jobs
    return config


class LocalPrometheus:
    def __init__(self, host: str, work_dir: Path, config: dict[str, Any]) -> None:
        self.host = host
        self.work_dir = work_dir
        self.config = config
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{PORT}"

    def start(self) -> LocalPrometheus:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        config_file = self.work_dir / "prometheus.yml"
        config_file.write_text(yaml.safe_dump(self.config, sort_keys=False))
        with open(self.work_dir / "prometheus.log", "ab") as log:
            self._process = subprocess.Popen(
                [
                    binary(),
                    f"--config.file={config_file}",
                    f"--storage.tsdb.path={self.work_dir / 'data'}",
                    f"--web.listen-address={self.host}:{PORT}",
                ],
                env={"PATH": os.environ.get("PATH", "")},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_until_ok(
            self._process,
            f"{self.url}/-/ready",
            START_TIMEOUT_S,
            f"prometheus did not start; see {self.work_dir / 'prometheus.log'}",
        )
        return self

    def api(self, path: str, **params: str) -> Any:
        with httpx.Client(timeout=QUERY_TIMEOUT_S, trust_env=False) as client:
            response = client.get(f"{self.url}/api/v1/{path}", params=params)
        response.raise_for_status()
        return response.json()["data"]

    def stop(self) -> None:
        stop(self._process, STOP_TIMEOUT_S)
        self._process = None
