"""Open-loop load with vegeta: a constant arrival rate whatever the fleet answers (a closed
loop would slow down with the fleet and hide its queueing). Every request is a new payment:
its own transaction id and Idempotency-Key, payers spread over the seeded accounts."""

from __future__ import annotations

import base64
import json
import os
import random
import re
import shutil
import subprocess
import tempfile
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from benchmarks.fleet.seed import Payer

VEGETA_MODULE = "github.com/tsenart/vegeta/v12@v12.13.0"
REQUEST_TIMEOUT_S = 10
AMOUNT = "0.01"
# A payment that the client waits for no longer than this (the deadline travels with it).
BUDGET_MS = 5_000


def vegeta(cache_bin: Path) -> str:
    """The vegeta binary: on PATH, in .cache/bin, or installed there with `go install`."""
    found = shutil.which("vegeta") or (str(cache_bin / "vegeta") if (cache_bin / "vegeta").exists() else None)
    if found:
        return found
    if shutil.which("go") is None:
        raise RuntimeError("vegeta is not installed and Go is not available to install it")
    cache_bin.mkdir(parents=True, exist_ok=True)
    print(f"installing vegeta ({VEGETA_MODULE}) into {cache_bin} ...", flush=True)
    subprocess.run(
        ["go", "install", VEGETA_MODULE], check=True, env={**os.environ, "GOBIN": str(cache_bin)}, timeout=600
    )
    return str(cache_bin / "vegeta")


@dataclass
class StepResult:
    rate: float
    duration_s: float
    sent: int
    success: int
    codes: dict[int, int] = field(default_factory=dict)
    latencies_s: list[float] = field(default_factory=list)
    over_budget: int = 0  # answers that came later than the request's deadline
    shed_slow: int = 0  # 503/429 answers slower than 100 ms
    # (seconds since the first request was sent, ended SUCCESS, latency in seconds) per request
    hits: list[tuple[float, bool, float]] = field(default_factory=list)

    def quantile(self, q: float) -> float:
        if not self.latencies_s:
            return float("nan")
        ordered = sorted(self.latencies_s)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    @property
    def success_rate(self) -> float:
        return self.success / self.duration_s

    @property
    def success_share(self) -> float:
        return self.success / self.sent if self.sent else 0.0

    def sustained(self, p99_max_s: float = 1.0, share_min: float = 0.99) -> bool:
        return self.success_share >= share_min and self.quantile(0.99) < p99_max_s

    def served_again_after_s(self, step_s: float = 0.5, tail_min_s: float = 5.0) -> float | None:
        """After an overload: the earliest time into this phase from which every later request
        taken together is sustained (>= 99 % SUCCESS, p99 < 1 s), judged over at least
        `tail_min_s` of requests; None when no such time comes."""
        ordered = sorted(self.hits)
        start = 0.0
        while start <= self.duration_s - tail_min_s:
            tail = [hit for hit in ordered if hit[0] >= start]
            if tail:
                latencies = sorted(latency for _, _, latency in tail)
                p99 = latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))]
                if sum(ok for _, ok, _ in tail) / len(tail) >= 0.99 and p99 < 1.0:
                    return start
            start += step_s
        return None

    def by_second(self) -> list[tuple[int, int, int, float]]:
        """(second into the phase, requests sent in it, of those SUCCESS, their p50 latency
        in ms): how an answer changed over a phase, e.g. the recovery after an overload."""
        seconds: dict[int, list[tuple[bool, float]]] = {}
        for sent_at, ok, latency in self.hits:
            seconds.setdefault(int(sent_at), []).append((ok, latency))
        rows = []
        for second in sorted(seconds):
            hits = seconds[second]
            latencies = sorted(latency for _, latency in hits)
            rows.append((second, len(hits), sum(ok for ok, _ in hits), latencies[len(latencies) // 2] * 1000))
        return rows

    def line(self) -> str:
        codes = " ".join(f"{c}×{n}" for c, n in sorted(self.codes.items()))
        return (
            f"{self.rate:7.1f}/s offered  {self.success_rate:7.1f}/s SUCCESS ({self.success_share:6.1%})"
            f"  p50 {self.quantile(0.5) * 1000:6.0f} ms  p95 {self.quantile(0.95) * 1000:6.0f} ms"
            f"  p99 {self.quantile(0.99) * 1000:6.0f} ms  [{codes}]"
        )


class Load:
    def __init__(self, vegeta_bin: str, url: str, payers: list[Payer], work_dir: Path) -> None:
        self.vegeta = vegeta_bin
        self.url = url.rstrip("/") + "/payment/confirm"
        self.payers = payers
        self.work_dir = work_dir
        self.random = random.Random(8)

    def _target(self, payer: Payer) -> dict[str, object]:
        payee = self.payers[self.random.randrange(len(self.payers))]
        while payee.account_number == payer.account_number:
            payee = self.payers[self.random.randrange(len(self.payers))]
        body = {
            "transaction_id": f"bench_{uuid.uuid4().hex[:16]}",
            "customer_id": payer.customer_id,
            "amount": AMOUNT,
            "from_account": payer.account_number,
            "to_account": payee.account_number,
        }
        return {
            "method": "POST",
            "url": self.url,
            "body": base64.b64encode(json.dumps(body).encode()).decode(),
            "header": {
                "Authorization": [f"Bearer {payer.token}"],
                "Idempotency-Key": [str(uuid.uuid4())],
                "Content-Type": ["application/json"],
                "X-Request-Timeout-Ms": [str(BUDGET_MS)],
            },
        }

    def attack(self, rate: float, duration_s: float, *, hot: Payer | None = None) -> StepResult:
        count = max(1, round(rate * duration_s))
        with tempfile.NamedTemporaryFile("w", dir=self.work_dir, suffix=".targets", delete=False) as out:
            for _ in range(count):
                payer = hot or self.payers[self.random.randrange(len(self.payers))]
                out.write(json.dumps(self._target(payer)) + "\n")
            targets = Path(out.name)
        try:
            attack = subprocess.run(
                [
                    self.vegeta,
                    "attack",
                    "-format=json",
                    "-lazy",
                    f"-targets={targets}",
                    f"-rate={max(1, round(rate * 10))}/10s",
                    f"-duration={duration_s}s",
                    f"-timeout={REQUEST_TIMEOUT_S}s",
                    "-keepalive=true",
                    "-workers=32",
                    "-max-workers=2000",
                ],
                capture_output=True,
                check=True,
                timeout=duration_s + REQUEST_TIMEOUT_S + 60,
            )
            encoded = subprocess.run(
                [self.vegeta, "encode", "--to", "json"],
                input=attack.stdout,
                capture_output=True,
                check=True,
                timeout=120,
            )
        finally:
            targets.unlink(missing_ok=True)
        return _summarize(rate, duration_s, encoded.stdout.decode().splitlines())


_NANOSECONDS = re.compile(r"(\.\d{6})\d+")


def _sent_at(timestamp: str) -> float:
    """vegeta's RFC 3339 timestamp (nanoseconds) as POSIX seconds."""
    return datetime.fromisoformat(_NANOSECONDS.sub(r"\1", timestamp).replace("Z", "+00:00")).timestamp()


def _summarize(rate: float, duration_s: float, lines: list[str]) -> StepResult:
    result = StepResult(rate=rate, duration_s=duration_s, sent=0, success=0)
    first_sent: float | None = None
    for line in lines:
        if not line.strip():
            continue
        hit = json.loads(line)
        code = int(hit.get("code", 0))
        latency_s = int(hit.get("latency", 0)) / 1e9
        body = base64.b64decode(hit.get("body") or b"")
        result.sent += 1
        result.codes[code] = result.codes.get(code, 0) + 1
        result.latencies_s.append(latency_s)
        ok = code == 200 and b'"SUCCESS"' in body
        if ok:
            result.success += 1
        sent_at = _sent_at(hit["timestamp"]) if hit.get("timestamp") else 0.0
        first_sent = sent_at if first_sent is None else min(first_sent, sent_at)
        result.hits.append((sent_at, ok, latency_s))
        if latency_s > BUDGET_MS / 1000 + 0.5:
            result.over_budget += 1
        if code in (429, 503) and latency_s > 0.1:
            result.shed_slow += 1
    result.hits = [(sent_at - (first_sent or 0.0), ok, latency) for sent_at, ok, latency in result.hits]
    return result
