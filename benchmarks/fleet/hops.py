"""Per-hop latency budget from the services' own `http_request_duration_seconds`: the mean
time each service spent answering each route during one phase of the benchmark (a scrape of
every /metrics before and after it). A route's mean includes the hops it waits on, so the
difference between a caller and its callees is the caller's own share."""

from __future__ import annotations

from collections.abc import Iterable

import httpx
from prometheus_client.parser import text_string_to_metric_families

SERVICE_PORTS = {
    "gateway-1": 3000,
    "gateway-2": 3100,
    "confirm": 3003,
    "risk": 3004,
    "notification": 3005,
    "otp": 3006,
    "account": 3007,
    "audit": 3008,
    "ofac": 3009,
    "kyc": 3010,
    "partner_bank": 3011,
}
Totals = dict[tuple[str, str, str], tuple[float, float]]  # (service, method, route) -> (sum_s, count)


def scrape(ports: dict[str, int] | None = None) -> Totals:
    totals: Totals = {}
    with httpx.Client(timeout=5) as client:
        for label, port in (ports or SERVICE_PORTS).items():
            try:
                text = client.get(f"http://127.0.0.1:{port}/metrics").text
            except httpx.HTTPError:
                continue
            for family in text_string_to_metric_families(text):
                if family.name != "http_request_duration_seconds":
                    continue
                for sample in family.samples:
                    if sample.name.endswith(("_sum", "_count")):
                        key = (label, sample.labels["method"], sample.labels["route"])
                        sum_s, count = totals.get(key, (0.0, 0.0))
                        if sample.name.endswith("_sum"):
                            totals[key] = (sum_s + sample.value, count)
                        else:
                            totals[key] = (sum_s, count + sample.value)
    return totals


def budget(before: Totals, after: Totals, payments: int) -> list[tuple[str, str, float, float]]:
    """(service, route, calls per payment, mean ms) for every route called in between."""
    rows = []
    for key, (sum_s, count) in after.items():
        prior_sum, prior_count = before.get(key, (0.0, 0.0))
        calls = count - prior_count
        if calls <= 0 or key[2] in ("/metrics", "/health", "/ready"):
            continue
        service, method, route = key
        mean_ms = (sum_s - prior_sum) / calls * 1000
        rows.append((service, f"{method} {route}", calls / max(1, payments), mean_ms))
    order = list(SERVICE_PORTS)
    rows.sort(key=lambda r: (order.index(r[0]) if r[0] in order else 99, -r[3]))
    return rows


def table(rows: Iterable[tuple[str, str, float, float]]) -> str:
    lines = ["| service | route | calls per payment | mean ms |", "|---|---|---|---|"]
    lines += [f"| {s} | `{r}` | {c:.2f} | {m:.1f} |" for s, r, c, m in rows]
    return "\n".join(lines)
