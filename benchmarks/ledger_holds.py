"""Cost of the money path in the account service, on a real (embedded) Postgres.

Runs the account app in-process with its migrations and dev data, then times, in the same
command: a baseline of N `GET /account/{n}` reads (framework + one query), N sequential
hold+capture pairs (each two transactions with row locks and a balanced journal entry), and
N concurrent holds against one account. Reported as ratios against the baseline.

    .venv/bin/python benchmarks/ledger_holds.py [--n 300]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Awaitable, Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for path in (ROOT / "libs" / "paykit", ROOT / "services" / "account"):
    sys.path.insert(0, str(path))

import httpx  # noqa: E402
import psycopg  # noqa: E402
from account.main import AccountSettings, create_app  # noqa: E402
from paykit.embedded import EmbeddedPostgres, with_database  # noqa: E402
from paykit.testing import running_app  # noqa: E402

SEED = ROOT / "database" / "seed" / "account.sql"


async def timed(label: str, calls: list[Callable[[], Awaitable[httpx.Response]]]) -> float:
    durations = []
    for call in calls:
        started = time.perf_counter()
        response = await call()
        durations.append(time.perf_counter() - started)
        assert response.status_code < 300, response.text
    p50, p99 = statistics.median(durations), statistics.quantiles(durations, n=100)[98]
    print(f"  {label:<28} p50 {p50 * 1000:7.2f} ms  p99 {p99 * 1000:7.2f} ms")
    return p50


async def bench(url: str, n: int) -> None:
    settings = AccountSettings(
        app_env="test",
        postgres_url=url,
        dev_seed_file=str(SEED),
        hold_sweep_interval_s=0,
        reconciliation_interval_s=0,
        db_pool_max=20,
        log_level="WARNING",
    )
    async with running_app(create_app(settings)) as client:
        read = await timed("baseline GET /account", [lambda: client.get("/account/ACC001")] * n)

        def pair(i: int) -> Callable[[], Awaitable[httpx.Response]]:
            async def go() -> httpx.Response:
                body = {
                    "hold_id": f"bench-{i}",
                    "account_number": "ACC001",
                    "to_account": "ACC002",
                    "amount_minor": 1,
                    "currency": "USD",
                }
                held = await client.post("/holds", json=body)
                assert held.status_code == 201, held.text
                return await client.post(f"/holds/bench-{i}/capture")

            return go

        money = await timed("hold + capture", [pair(i) for i in range(n)])
        started = time.perf_counter()
        answers = await asyncio.gather(
            *(
                client.post(
                    "/holds",
                    json={
                        "hold_id": f"burst-{i}",
                        "account_number": "ACC002",
                        "to_account": "ACC001",
                        "amount_minor": 100,
                        "currency": "USD",
                    },
                )
                for i in range(n)
            )
        )
        burst_s = time.perf_counter() - started
        placed = sum(a.status_code == 201 for a in answers)
        print(f"  {n} concurrent holds on one account: {burst_s * 1000:.0f} ms, {placed} placed")
        print(f"  ratio hold+capture / baseline read: p50 x{money / read:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=300)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    data_dir = Path(tempfile.mkdtemp(prefix="bench-pg-"))
    server = EmbeddedPostgres(data_dir, keep=False)
    try:
        with psycopg.connect(server.url, autocommit=True) as conn:
            conn.execute("CREATE DATABASE bench")
        url = with_database(server.url, "bench")
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE SCHEMA account")
        print(f"ledger benchmark: {args.n} operations each, embedded Postgres, in-process app")
        asyncio.run(bench(url, args.n))
    finally:
        server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
