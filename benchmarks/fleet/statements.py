"""Statements per payment: which SQL each service's role runs, how often, and for how long.

Bench-only (`BENCH_PG_STATEMENTS=1`): the embedded Postgres has no pg_stat_statements, so for
one phase the server logs every statement with its duration (`log_min_duration_statement=0`,
set with ALTER SYSTEM and reloaded, reset afterwards) and this module counts the log lines.
Logging every statement costs Postgres CPU itself: the CPU figures of such a run are not
comparable with a run without it; the counts are what it is for.

A "round trip" here is one logged execution: an `execute` of the extended protocol (one
Bind/Execute/Sync) or a simple-protocol `statement` (BEGIN, COMMIT, a query without
arguments). Background work (relays, consumers, resolvers) runs during the phase too and is
counted with the payments, which is the point: it costs per payment as well.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

PREFIX = "%m [%p] user=%u app=%a "
LINE = re.compile(
    r"^\S+ \S+ \S+ \[\d+\] user=(?P<user>\S*) app=(?P<app>\S*) LOG:  duration: (?P<ms>[0-9.]+) ms  "
    r"(?P<kind>execute [^:]*|statement|parse [^:]*|bind [^:]*): (?P<sql>.*)$"
)
TEXT_MAX = 110


def enable(superuser_url: str) -> None:
    import psycopg

    with psycopg.connect(superuser_url, autocommit=True, connect_timeout=10) as conn:
        conn.execute("ALTER SYSTEM SET log_min_duration_statement = 0")
        conn.execute(f"ALTER SYSTEM SET log_line_prefix = '{PREFIX}'")
        conn.execute("SELECT pg_reload_conf()")


def disable(superuser_url: str) -> None:
    import psycopg

    with psycopg.connect(superuser_url, autocommit=True, connect_timeout=10) as conn:
        conn.execute("ALTER SYSTEM RESET log_min_duration_statement")
        conn.execute("ALTER SYSTEM RESET log_line_prefix")
        conn.execute("SELECT pg_reload_conf()")


@dataclass
class Role:
    round_trips: int = 0
    ms: float = 0.0
    begins: int = 0
    commits: int = 0
    statements: dict[str, list[float]] = field(default_factory=lambda: defaultdict(lambda: [0, 0.0]))


def _shape(sql: str) -> str:
    return re.sub(r"\s+", " ", sql).strip()[:TEXT_MAX]


def _entries(lines: list[str]) -> list[str]:
    """Log lines with a statement's continuation lines (they start with a tab) joined on."""
    out: list[str] = []
    for line in lines:
        if line.startswith("\t") and out:
            out[-1] += " " + line.strip()
        else:
            out.append(line)
    return out


def parse(lines: list[str]) -> dict[str, Role]:
    roles: dict[str, Role] = defaultdict(Role)
    for line in _entries(lines):
        found = LINE.match(line)
        if not found or found["kind"].startswith(("parse", "bind")):
            continue
        role = roles[found["user"]]
        ms = float(found["ms"])
        sql = _shape(found["sql"])
        role.round_trips += 1
        role.ms += ms
        upper = sql.upper().rstrip(";")
        role.begins += upper.startswith("BEGIN")
        role.commits += upper == "COMMIT"
        entry = role.statements[sql]
        entry[0] += 1
        entry[1] += ms
    return roles


def report(log_path: Path, offset: int, payments: int, top: int = 12) -> str:
    with log_path.open(errors="replace") as handle:
        handle.seek(offset)
        roles = parse(handle.read().splitlines())
    n = max(payments, 1)
    head = f"{'role':<14} {'round trips':>11} {'BEGIN':>6} {'COMMIT':>6} {'ms in PG':>8}"
    out = [f"{head}  (per payment, {payments} payments)"]
    for name, role in sorted(roles.items(), key=lambda kv: -kv[1].round_trips):
        counts = f"{role.round_trips / n:>11.2f} {role.begins / n:>6.2f} {role.commits / n:>6.2f}"
        out.append(f"{name:<14} {counts} {role.ms / n:>8.3f}")
    for name, role in sorted(roles.items(), key=lambda kv: -kv[1].round_trips):
        out.append(f"-- {name}: statements per payment, mean ms")
        ranked = sorted(role.statements.items(), key=lambda kv: -kv[1][0])[:top]
        out.extend(f"  {count / n:6.2f}  {ms / max(count, 1):6.3f}  {sql}" for sql, (count, ms) in ranked)
    return "\n".join(out)
