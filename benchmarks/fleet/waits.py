"""What Postgres backends wait on during a phase (`BENCH_PG_WAITS=1`): pg_stat_activity is
sampled every 50 ms from a thread, and the report gives, per role (each service has its
own) and wait (lock type, client read, WAL flush...), the mean number of backends in it.
A serializing lock shows as a queue of waiters on one lock type; a backend waiting on
`ClientRead` inside a transaction is a service holding its transaction open between round
trips."""

from __future__ import annotations

import threading
import time
from collections import Counter

SAMPLE_S = 0.05
SAMPLES_MAX = 20_000  # 1,000 s of samples: a phase is never that long
ROWS_MAX = 15


class WaitSampler:
    def __init__(self, superuser_url: str) -> None:
        self.superuser_url = superuser_url
        self.counts: Counter[tuple[str, str, str]] = Counter()
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> WaitSampler:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        import psycopg

        with psycopg.connect(self.superuser_url, autocommit=True, connect_timeout=10) as conn:
            while not self._stop.is_set() and self.samples < SAMPLES_MAX:
                rows = conn.execute(
                    """SELECT coalesce(usename, ''), state,
                              coalesce(wait_event_type || ':' || wait_event, 'running')
                       FROM pg_stat_activity
                       WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()
                         AND state <> 'idle'"""
                ).fetchall()
                self.counts.update((db, state, wait) for db, state, wait in rows)
                self.samples += 1
                time.sleep(SAMPLE_S)

    def report(self) -> str:
        lines = [f"{'role':<16} {'state':<30} {'wait':<28} mean backends"]
        for (db, state, wait), n in self.counts.most_common(ROWS_MAX):
            lines.append(f"{db:<16} {state:<30} {wait:<28} {n / max(self.samples, 1):.2f}")
        return "\n".join(lines)
