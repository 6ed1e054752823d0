"""CPU budget: how many milliseconds of CPU each process of the fleet spends per payment.

Latency on two shared cores mostly measures waiting for a core; CPU time per payment does not,
so it says where a payment's cost really is. Read from /proc (user + system time of every
process of the fleet and its datastores) before and after one phase of the benchmark.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path

PROC = Path("/proc")
TICKS_PER_S = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
UVICORN_APP = re.compile(r"(\w+)\.main:create_app")
PORT_ARG = re.compile(r"--port\x00(\d+)")
Snapshot = dict[str, float]  # label -> CPU seconds of all its processes


def _label(cmdline: bytes) -> str | None:
    text = cmdline.decode(errors="replace")
    app = UVICORN_APP.search(text)
    if app:
        name = app.group(1)
        port = PORT_ARG.search(text)
        return f"{name}:{port.group(1)}" if name == "gateway" and port else name
    first = Path(text.split("\x00", 1)[0]).name
    for known in ("postgres", "redis-server", "nginx", "vegeta", "java"):
        if first.startswith(known):
            return known
    return None


def snapshot() -> Snapshot:
    totals: Snapshot = {}
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            label = _label((entry / "cmdline").read_bytes())
            if label is None:
                continue
            # Fields after the command name, which may itself hold spaces: utime is 14th, stime 15th.
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone in between
        cpu_s = (int(fields[11]) + int(fields[12])) / TICKS_PER_S
        totals[label] = totals.get(label, 0.0) + cpu_s
    return totals


def per_payment(before: Snapshot, after: Snapshot, payments: int) -> list[tuple[str, float]]:
    """(process, CPU ms per payment), largest first. A process that ended in between is left out."""
    rows = [
        (label, (after[label] - before.get(label, 0.0)) * 1000 / max(1, payments))
        for label in after
        if after[label] > before.get(label, 0.0)
    ]
    return sorted(rows, key=lambda row: -row[1])


def table(rows: Iterable[tuple[str, float]]) -> str:
    rows = list(rows)
    lines = ["| process | CPU ms per payment |", "|---|---|"]
    lines += [f"| {label} | {ms:.1f} |" for label, ms in rows]
    lines.append(f"| **all** | **{sum(ms for _, ms in rows):.1f}** |")
    return "\n".join(lines)
