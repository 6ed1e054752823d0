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


def _stats() -> dict[int, list[str]]:
    """pid -> the fields of /proc/pid/stat after the command name (which may hold spaces):
    ppid is the 2nd of them, utime the 12th, stime the 13th."""
    out: dict[int, list[str]] = {}
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            try:
                out[int(entry.name)] = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue  # gone in between
    return out


def _descendants(stats: dict[int, list[str]], roots: set[int]) -> set[int]:
    children: dict[int, list[int]] = {}
    for pid, fields in stats.items():
        children.setdefault(int(fields[1]), []).append(pid)
    found, todo = set(), [pid for pid in roots if pid in stats]
    while todo:
        pid = todo.pop()
        if pid not in found:
            found.add(pid)
            todo.extend(children.get(pid, ()))
    return found


def postmaster_pid(data_dir: Path) -> int | None:
    """The pid of the Postgres server of `data_dir` (pg_ctl detaches it from whoever started it)."""
    try:
        return int((data_dir / "postmaster.pid").read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return None


def snapshot(roots: set[int] | None = None) -> Snapshot:
    """CPU seconds by process label. With `roots`, only those processes and their descendants
    count: other work on the machine (another checkout's test Postgres, Redis, uvicorn) has
    the same names and would otherwise be billed to the fleet."""
    stats = _stats()
    allowed = _descendants(stats, roots) if roots is not None else None
    totals: Snapshot = {}
    for pid, fields in stats.items():
        if allowed is not None and pid not in allowed:
            continue
        try:
            label = _label((PROC / str(pid) / "cmdline").read_bytes())
        except OSError:
            continue
        if label is None:
            continue
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
