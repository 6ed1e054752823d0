"""`make bench-fleet`: how many payments per second the fleet confirms, measured from outside.

One bounded run (about 6-8 minutes on two cores):
1. start the fleet as `make run` does (fresh data in .data/bench), or use FLEET_URL with
   BENCH_POSTGRES_URL naming its database; rate limits are raised so they do not interfere;
2. seed N customers (BENCH_CUSTOMERS, default 1,000) through SQL, with matching bank accounts;
3. open-loop steps (vegeta, constant arrival rate) of new `POST /payment/confirm` through
   nginx: the highest rate served with >= 99% SUCCESS and p99 < 1 s is the sustained rate;
4. p50/p95/p99 at half that rate, and p99 / p50, with the per-hop budget (mean time per
   call of every service and route, from their own latency histograms);
5. the same steps with every payment from one hot account;
6. an overload of 3x the sustained rate, then the sustained rate again: shed answers are
   503/429 with Retry-After and fast, no other 5xx, and the sustained rate is served again
   within 10 s;
7. pgbench TPC-B on the same Postgres, and confirms/s / TPC-B tps;
8. the invariants (benchmarks/fleet/invariants.py); any broken one fails the run (exit 1).
Results are printed and written to .data/bench/result.json.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import warnings
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from benchmarks.fleet import cpu, hops, invariants, seed, statements, waits, wal  # noqa: E402
from benchmarks.fleet.load import Load, StepResult, vegeta  # noqa: E402

STEP_S = float(os.environ.get("BENCH_STEP_S", "10"))
HALF_RATE_S = float(os.environ.get("BENCH_HALF_RATE_S", "20"))
OVERLOAD_S = float(os.environ.get("BENCH_OVERLOAD_S", "20"))
START_RATE = float(os.environ.get("BENCH_START_RATE", "10"))
STEP_FACTOR = 1.4
REFINE_STEPS = 2
# The best step held this long before it is called sustained: a 10-s step just above capacity
# can pass (the in-flight limit and the queue take seconds to fill), and the recovery after the
# overload then judged the fleet against a rate it never sustained.
HOLD_S = float(os.environ.get("BENCH_HOLD_S", "30"))
HOLD_TRIES = 3
HOLD_STEP_DOWN = 0.92
RATE_MAX = 1000.0
RATE_MIN = 1.0
RECOVERY_S = 20.0  # the sustained rate after the overload: long enough to judge its last 10 s
RECOVERY_WITHIN_S = 10.0
PGBENCH_S = int(os.environ.get("BENCH_PGBENCH_S", "15"))
# Limits raised for the benchmark only: it measures the money path, not the rate limiter.
BENCH_ENV = {
    "RATE_LIMIT_USER": "1000000/minute",
    "RATE_LIMIT_IP": "1000000/minute",
    "RATE_LIMIT_LOGIN": "1000000/minute",
    "RATE_LIMIT_LOGIN_USER": "1000000/minute",
}


def _service_env(spec: str) -> dict[str, dict[str, str]]:
    """BENCH_SERVICE_ENV="confirm:WEB_CONCURRENCY=2,risk:LOG_LEVEL=WARNING": settings for one
    service only, to measure a choice (uvicorn reads WEB_CONCURRENCY as its worker count)."""
    out: dict[str, dict[str, str]] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        service, _, assignment = item.partition(":")
        name, _, value = assignment.partition("=")
        out.setdefault(service, {})[name] = value
    return out


def _database_url(superuser_url: str) -> str:
    parts = urlsplit(superuser_url)
    return urlunsplit((parts.scheme, parts.netloc, "/payment_db", parts.query, ""))


def ladder(load: Load, start: float, label: str, hot: seed.Payer | None = None) -> list[StepResult]:
    """Raise the rate step by step until a step is no longer sustained (or, when the first
    step is not, lower it until one is)."""
    steps = []
    rate = start
    while RATE_MIN <= rate <= RATE_MAX:
        result = load.attack(rate, STEP_S, hot=hot)
        print(f"  {label} {result.line()}", flush=True)
        steps.append(result)
        if result.sustained():
            if len(steps) > 1 and not steps[-2].sustained():
                break  # came down to a rate that holds
            rate = round(rate * STEP_FACTOR)
        elif len(steps) > 1 and steps[-2].sustained():
            break  # went up past capacity
        else:
            rate = round(rate / STEP_FACTOR, 1)
    return steps + _refine(load, steps, label, hot)


def _refine(load: Load, steps: list[StepResult], label: str, hot: seed.Payer | None) -> list[StepResult]:
    """Between the best sustained step and the first one above it that failed (1.4 times apart),
    REFINE_STEPS halvings: the sustained rate to within ~10 % instead of ~40 %."""
    passed = [s.rate for s in steps if s.sustained()]
    failed = [s.rate for s in steps if not s.sustained() and passed and s.rate > max(passed)]
    if not passed or not failed:
        return []
    low, high = max(passed), min(failed)
    extra = []
    for _ in range(REFINE_STEPS):
        rate = round((low + high) / 2)
        if rate <= low or rate >= high:
            break
        result = load.attack(rate, STEP_S, hot=hot)
        print(f"  {label} {result.line()}", flush=True)
        extra.append(result)
        low, high = (rate, high) if result.sustained() else (low, rate)
    return extra


def best(steps: list[StepResult]) -> StepResult | None:
    passing = [s for s in steps if s.sustained()]
    return max(passing, key=lambda s: s.success_rate) if passing else None


def held(load: Load, steps: list[StepResult], label: str, hot: seed.Payer | None = None) -> list[StepResult]:
    """The best step's rate held for HOLD_S; when that does not hold, ~8 % lower, and for the
    last of HOLD_TRIES holds the next sustained step of the ladder below. The last result is
    the one that counts (sustained or not)."""
    top = best(steps)
    passed = sorted({s.rate for s in steps if s.sustained()}, reverse=True)
    results: list[StepResult] = []
    rate = top.rate if top else 0.0
    while top and len(results) < HOLD_TRIES and rate >= RATE_MIN:
        result = load.attack(rate, HOLD_S, hot=hot)
        print(f"  {label} held {HOLD_S:.0f} s: {result.line()}", flush=True)
        results.append(result)
        if result.sustained():
            break
        lower = round(rate * HOLD_STEP_DOWN, 1)
        if len(results) == HOLD_TRIES - 1:
            lower = next((r for r in passed if r < lower), round(rate / STEP_FACTOR, 1))
        rate = lower
    return results


def sustained_step(steps: list[StepResult], holds: list[StepResult]) -> StepResult | None:
    """The step that names the sustained rate: the last hold if it held, else none."""
    if holds:
        return holds[-1] if holds[-1].sustained() else None
    return best(steps)


def pgbench(superuser_url: str) -> float | None:
    binary = shutil.which("pgbench") or _pgserver_binary("pgbench")
    if binary is None:
        print("  pgbench not found (apt-get install postgresql-client): ratio not measured")
        return None
    import psycopg

    with psycopg.connect(superuser_url, autocommit=True, connect_timeout=10) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = 'bench_pgbench'").fetchone():
            conn.execute("CREATE DATABASE bench_pgbench")
    parts = urlsplit(superuser_url)
    url = urlunsplit((parts.scheme, parts.netloc, "/bench_pgbench", parts.query, ""))
    subprocess.run([binary, "-i", "-q", "-s", "4", url], check=True, capture_output=True, timeout=180)
    run = subprocess.run(
        [binary, "-n", "-c", "4", "-j", "2", "-T", str(PGBENCH_S), url],
        check=True,
        capture_output=True,
        text=True,
        timeout=PGBENCH_S + 60,
    )
    found = re.search(r"tps = ([0-9.]+)", run.stdout)
    return float(found.group(1)) if found else None


def _pgserver_binary(name: str) -> str | None:
    try:
        import pgserver  # type: ignore[import-untyped]
    except ImportError:
        return None
    candidate = Path(pgserver.__file__).parent / "pginstall" / "bin" / name
    return str(candidate) if candidate.exists() else None


def budget_phase(
    load: Load,
    rate: float,
    results: dict[str, object],
    pg_log: tuple[str, Path] | None = None,
    roots: set[int] | None = None,
    superuser_url: str = "",
    hot: seed.Payer | None = None,
) -> None:
    """One constant-rate phase: latency quantiles, the per-hop budget and the CPU budget;
    with `superuser_url` also commits and WAL flushes; with `pg_log` (superuser URL, server
    log) also every statement Postgres ran."""
    offset = 0
    if pg_log:
        offset = pg_log[1].stat().st_size
        statements.enable(pg_log[0])
    wal_before = wal.snapshot(superuser_url) if superuser_url else None
    before, cpu_before = hops.scrape(), cpu.snapshot(roots)
    if superuser_url and os.environ.get("BENCH_PG_WAITS"):
        with waits.WaitSampler(superuser_url) as sampler:
            half = load.attack(rate, HALF_RATE_S, hot=hot)
        print("what Postgres backends waited on (BENCH_PG_WAITS; mean backends per sample):")
        print(sampler.report(), flush=True)
    else:
        half = load.attack(rate, HALF_RATE_S, hot=hot)
    cpu_rows = cpu.per_payment(cpu_before, cpu.snapshot(roots), half.sent)
    if wal_before is not None:
        wal_line = wal.per_payment(wal_before, wal.snapshot(superuser_url), half.sent)
        print(wal_line, flush=True)
        results["wal_per_payment"] = wal_line
    if pg_log:
        statements.disable(pg_log[0])
        table = statements.report(pg_log[1], offset, half.sent)
        print("statements per payment (BENCH_PG_STATEMENTS; Postgres CPU inflated by logging):")
        print(table, flush=True)
        results["statements_per_payment"] = table
    print(f"  {half.line()}", flush=True)
    rows = hops.budget(before, hops.scrape(), half.sent)
    print("per-hop budget (mean time each service spent per call):")
    print(hops.table(rows), flush=True)
    print("CPU per payment (all processes of the fleet and its datastores):")
    print(cpu.table(cpu_rows), flush=True)
    results["hops"] = rows
    results["cpu_ms_per_payment"] = cpu_rows
    p50, p95, p99 = (half.quantile(q) for q in (0.5, 0.95, 0.99))
    results["half_rate"] = {
        "rate": half.rate,
        "p50_ms": round(p50 * 1000, 1),
        "p95_ms": round(p95 * 1000, 1),
        "p99_ms": round(p99 * 1000, 1),
        "p99_over_p50": round(p99 / p50, 2) if p50 else None,
    }


def overload_phase(load: Load, rate: float, results: dict[str, object], superuser_url: str = "") -> None:
    """3x `rate` for OVERLOAD_S, then `rate` again: what was shed and how, and how soon
    `rate` is served again."""
    print("overload (3x the sustained rate), then the sustained rate again:", flush=True)
    over = load.attack(rate * 3, OVERLOAD_S)
    print(f"  overload  {over.line()}", flush=True)
    checkpoints_before = wal.checkpoints(superuser_url) if superuser_url else None
    after = load.attack(rate, RECOVERY_S)
    if checkpoints_before is not None:
        during = wal.checkpoints(superuser_url) - checkpoints_before
        print(f"  Postgres checkpoints completed during the recovery: {during}", flush=True)
        results["checkpoints_during_recovery"] = during
    served_again = after.served_again_after_s()
    recovered = served_again is not None and served_again <= RECOVERY_WITHIN_S
    when = "never" if served_again is None else f"after {served_again:.1f} s"
    print(f"  recovery  {after.line()}; sustained again {when}", flush=True)
    by_second = after.by_second()
    print(
        "  recovery by second (sent/SUCCESS/p50 ms): "
        + " ".join(f"{s}:{n}/{ok}/{p50:.0f}" for s, n, ok, p50 in by_second),
        flush=True,
    )
    other_5xx = sum(n for c, n in over.codes.items() if c >= 500 and c != 503)
    results["overload"] = {
        "offered": over.rate,
        "codes": over.codes,
        "other_5xx": other_5xx,
        "no_answer": over.codes.get(0, 0),
        "slow_shed_answers": over.shed_slow,
        "over_deadline": over.over_budget,
        "recovered": recovered,
        "served_again_after_s": served_again,
        "recovery_by_second": by_second,
        "recovery": after.line(),
    }


def _fleet_processes(fleet: object | None, work_dir: Path) -> set[int] | None:
    """The processes whose CPU is the fleet's: this one's descendants (services, Redis,
    nginx, vegeta) and the embedded Postgres server's. None (every process on the machine
    with a fleet name) for a fleet started elsewhere (FLEET_URL)."""
    if fleet is None:
        return None
    roots = {os.getpid()}
    postmaster = cpu.postmaster_pid(work_dir / "fleet" / "postgres")
    if postmaster is not None:
        roots.add(postmaster)
    return roots


def _server_settings(superuser_url: str, spec: str) -> None:
    """BENCH_PG_SETTINGS="plan_cache_mode=force_generic_plan,...": server settings to try, set
    with ALTER SYSTEM and a reload before the load (sessions already open take them too)."""
    import psycopg
    from psycopg import sql

    pairs = [item.strip().partition("=") for item in spec.split(",") if item.strip()]
    if not pairs:
        return
    with psycopg.connect(superuser_url, autocommit=True, connect_timeout=10) as conn:
        for name, _, value in pairs:
            statement = sql.SQL("ALTER SYSTEM SET {} = {}").format(sql.Identifier(name), sql.Literal(value))
            conn.execute(statement)
        conn.execute("SELECT pg_reload_conf()")
    print(f"  Postgres settings for this run: {spec}", flush=True)


def load_conditions() -> str:
    load1, load5, _ = os.getloadavg()
    return f"{os.cpu_count()} cores, load average {load1:.1f} (1 min) / {load5:.1f} (5 min) at start"


def main() -> int:  # noqa: PLR0915 - one linear script, read top to bottom
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
    customers = int(os.environ.get("BENCH_CUSTOMERS", "1000"))
    work_dir = REPO / ".data" / "bench"
    work_dir.mkdir(parents=True, exist_ok=True)
    conditions = load_conditions()
    print(f"fleet benchmark: {customers} customers; {conditions}", flush=True)
    vegeta_bin = vegeta(REPO / ".cache" / "bin")

    fleet = None
    url = os.environ.get("FLEET_URL", "").rstrip("/")
    superuser_url = os.environ.get("BENCH_POSTGRES_URL", "")
    if not url:
        from tools.devstack.fleet import Fleet

        shutil.rmtree(work_dir / "fleet", ignore_errors=True)
        fleet = Fleet(
            work_dir / "fleet",
            keep_data=False,
            extra_env=BENCH_ENV,
            service_env=_service_env(os.environ.get("BENCH_SERVICE_ENV", "")),
        )
        print("starting the fleet ...", flush=True)
        url = fleet.start()
        superuser_url = fleet.postgres_url
        os.environ.setdefault("ENV_FILE", str(fleet.identity_file))  # the invariants sign as ops
    elif not superuser_url:
        print("FLEET_URL needs BENCH_POSTGRES_URL (a superuser URL of its Postgres)", file=sys.stderr)
        return 2
    results: dict[str, object] = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    results["conditions"] = conditions
    results["service_env"] = os.environ.get("BENCH_SERVICE_ENV", "")
    try:
        database_url = _database_url(superuser_url)
        roots = _fleet_processes(fleet, work_dir)
        _server_settings(superuser_url, os.environ.get("BENCH_PG_SETTINGS", ""))
        seed.seed(database_url, customers)
        payers = seed.payers(database_url, customers)
        load = Load(vegeta_bin, url, payers, work_dir)
        load.attack(5, 4)  # warm-up: connections, caches, JIT-free but lazy imports

        only_rate = float(os.environ.get("BENCH_ONLY_RATE", "0"))
        overload_at = float(os.environ.get("BENCH_ONLY_OVERLOAD", "0"))
        if overload_at:
            overload_phase(load, overload_at, results, superuser_url)
        elif only_rate:
            hot_payer = payers[0] if os.environ.get("BENCH_ONLY_HOT") else None
            print(
                f"one phase at {only_rate}/s (BENCH_ONLY_RATE{', one hot payer' if hot_payer else ''}):"
                " CPU and per-hop budget",
                flush=True,
            )
            pg_log = None
            if os.environ.get("BENCH_PG_STATEMENTS") and fleet is not None:
                pg_log = (superuser_url, work_dir / "fleet" / "postgres" / "log")
            budget_phase(load, only_rate, results, pg_log, roots, superuser_url, hot=hot_payer)
        else:
            print("spread over all payers:", flush=True)
            steps = ladder(load, START_RATE, "spread")
            holds = held(load, steps, "spread")
            top = sustained_step(steps, holds)
            sustained = top.success_rate if top else 0.0
            results["sustained_confirms_per_s"] = round(sustained, 1)
            results["steps"] = [s.line() for s in steps + holds]
            if top:
                budget_phase(load, max(1.0, top.rate / 2), results, roots=roots, superuser_url=superuser_url)

            print("one hot account:", flush=True)
            hot_steps = ladder(load, max(2.0, START_RATE / 2), "hot", hot=payers[0])
            hot_holds = held(load, hot_steps, "hot", hot=payers[0])
            hot = sustained_step(hot_steps, hot_holds)
            results["hot_account_confirms_per_s"] = round(hot.success_rate, 1) if hot else 0.0
            results["hot_steps"] = [s.line() for s in hot_steps + hot_holds]

            if top:
                overload_phase(load, top.rate, results, superuser_url)

            print("pgbench TPC-B on the same Postgres:", flush=True)
            tps = pgbench(superuser_url)
            results["pgbench_tps"] = tps
            results["ratio"] = round(sustained / tps, 4) if tps else None
            print(f"  {tps} tps; confirms/s / tps = {results['ratio']}", flush=True)

        print("invariants:", flush=True)
        report = invariants.check(database_url)
        for note in report.notes:
            print(f"  note: {note}")
        for problem in report.problems:
            print(f"  BROKEN: {problem}")
        results["invariants_ok"] = report.ok
        results["invariant_problems"] = report.problems
        results["invariant_notes"] = report.notes
    finally:
        if fleet is not None:
            fleet.stop()
    (work_dir / "result.json").write_text(json.dumps(results, indent=2, default=str))
    print(
        json.dumps(
            {k: v for k, v in results.items() if "steps" not in k and k != "hops"}, indent=2, default=str
        )
    )
    return 0 if results.get("invariants_ok") else 1


if __name__ == "__main__":
    raise SystemExit(main())
