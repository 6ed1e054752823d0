"""Prometheus metrics of the loaded lists: how old each is (since it was last fetched and
found good), how many parties it holds, and how often refreshing it failed."""

from __future__ import annotations

from datetime import UTC, datetime

from prometheus_client import Counter, Gauge

from .lists import ListHolder

LIST_AGE = Gauge("ofac_list_age_seconds", "Seconds since the list was last fetched and found good", ["list"])
LIST_PARTIES = Gauge("ofac_list_parties", "Parties on the list in use", ["list"])
REFRESH_FAILURES = Counter(
    "ofac_list_refresh_failures_total", "List refreshes that kept the old list", ["list"]
)


def bind(holder: ListHolder) -> None:
    """Gauges read the holder at scrape time, so the age grows while nothing refreshes."""
    for state in holder.states():
        name = state.spec.name

        def age(state: object = state) -> float:
            value = state.age_s(datetime.now(UTC))  # type: ignore[attr-defined]
            return float(value) if value is not None else float("nan")

        def parties(state: object = state) -> float:
            return float(len(state.entities))  # type: ignore[attr-defined]

        LIST_AGE.labels(list=name).set_function(age)
        LIST_PARTIES.labels(list=name).set_function(parties)
        REFRESH_FAILURES.labels(list=name)


def count_failures(outcome: dict[str, str | None]) -> None:
    for name, error in outcome.items():
        if error is not None:
            REFRESH_FAILURES.labels(list=name).inc()
