"""Every query of the provisioned Grafana dashboards is PromQL that Prometheus accepts
(promtool checks it as a rule) and shows what the issue asks for: the payment funnel, latency
per hop, shed rate, dead letters and reconciliation. That each query names metrics the services
really export is checked against a live Prometheus in tests/stack/test_observability.py. The
promtool runs are marked integration (`make test-integration`), so `make test` needs no promtool."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from tools.stack import compose

DASHBOARDS = compose.REPO / "observability" / "grafana" / "dashboards"
# Grafana's variables, replaced by what they expand to so promtool can parse the query.
GRAFANA_VARIABLES = {
    "$__rate_interval": "5m",
    "$__interval": "1m",
    "$__range": "1h",
    "$service": ".*",
}
PROMQL_WORDS = {
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "bool",
    "offset",
    "and",
    "or",
    "unless",
    "le",
    "inf",
    "nan",
}
# Panels the on-call view needs, by a metric each must read.
REQUIRED_PANELS = {
    "payment funnel": "payments_total",
    "latency per hop": "http_request_duration_seconds_bucket",
    "shed rate": "http_requests_shed_total",
    "requests in flight": "http_requests_in_flight",
    "request rate": "http_requests_total",
    "dead letters": "events_dead_lettered_total",
    "reconciliation": "reconciliation_open_breaks",
}
PROMTOOL_TIMEOUT_S = 60


def dashboard_queries(dashboard: dict[str, Any]) -> list[tuple[str, str]]:
    """(panel title, PromQL) of every Prometheus query, template variables included."""
    queries = []
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            if "expr" in target:
                queries.append((panel.get("title", ""), target["expr"]))
    for var in dashboard.get("templating", {}).get("list", []):
        query = var.get("query")
        text = query["query"] if isinstance(query, dict) else query
        match = re.fullmatch(r"label_values\((\w+)\s*,\s*\w+\)", text or "")
        if match:
            queries.append((f"variable {var['name']}", match.group(1)))
    return queries


def metric_names(expr: str) -> set[str]:
    expr = re.sub(r'"[^"]*"', "", expr)
    expr = re.sub(r"\{[^}]*\}|\[[^\]]*\]|\$\w+", "", expr)
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", expr)
    names = set()
    for match in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", expr):
        word = match.group(0)
        if re.match(r"\s*\(", expr[match.end() :]) or word.lower() in PROMQL_WORDS:
            continue
        names.add(word)
    return names


def expand(expr: str) -> str:
    for variable, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(variable, value)
    return expr


def _all_queries() -> list[tuple[str, str, str]]:
    found = []
    for path in sorted(DASHBOARDS.glob("*.json")):
        for title, expr in dashboard_queries(json.loads(path.read_text())):
            found.append((path.name, title, expr))
    return found


@pytest.mark.integration
def test_every_dashboard_query_is_promql_that_promtool_accepts() -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail("promtool is required (apt-get install prometheus)")
    queries = _all_queries()
    assert queries
    rules = [
        {"record": f"dashboard:query_{i}", "expr": expand(expr)} for i, (_, _, expr) in enumerate(queries)
    ]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "dashboard-queries.yml"
        path.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
        result = subprocess.run(
            [promtool, "check", "rules", str(path)],
            capture_output=True,
            text=True,
            timeout=PROMTOOL_TIMEOUT_S,
            check=False,
        )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.integration
def test_a_broken_query_is_caught() -> None:
    """The check above can fail: promtool refuses what Grafana would show as an error."""
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail("promtool is required (apt-get install prometheus)")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "broken.yml"
        rule = {
            "record": "x:y",
            "expr": expand("sum by (service (rate(http_requests_total[$__rate_interval]))"),
        }
        path.write_text(yaml.safe_dump({"groups": [{"name": "g", "rules": [rule]}]}))
        result = subprocess.run(
            [promtool, "check", "rules", str(path)], capture_output=True, text=True, timeout=60, check=False
        )
    assert result.returncode != 0


def test_the_dashboards_show_funnel_latency_shedding_and_reconciliation() -> None:
    read = set().union(*(metric_names(expr) for _, _, expr in _all_queries()))
    missing = {what for what, metric in REQUIRED_PANELS.items() if metric not in read}
    assert not missing, f"no panel for {sorted(missing)}"


def test_metric_name_extraction_sees_through_promql() -> None:
    expr = 'histogram_quantile(0.95, sum by (service, le) (rate(x_bucket{service=~"$s"}[$__rate_interval])))'
    assert metric_names(expr) == {"x_bucket"}
    assert metric_names("max(a) / on (job) b") == {"a", "b"}


def _edge_refusals_nginx_makes() -> set[str]:
    conf = (compose.REPO / "nginx" / "nginx.conf").read_text()
    assert '"edge_refusal":"$edge_refusal"' in conf, "nginx's access log must carry edge_refusal"
    return {code for code in re.findall(r"set \$edge_refusal (\w+);", conf)}


def test_the_dashboard_counts_every_refusal_nginx_answers_itself() -> None:
    """Requests nginx refuses never reach a service's /metrics: the dashboard counts them from
    nginx's access log in Elasticsearch, by the `edge_refusal` it logs. A refusal nginx can
    make that the panel's query leaves out would be invisible."""
    made = _edge_refusals_nginx_makes()
    assert {"OVERLOADED", "RATE_LIMITED"} <= made
    panels = [
        panel
        for path in sorted(DASHBOARDS.glob("*.json"))
        for panel in json.loads(path.read_text())["panels"]
        if any("app.edge_refusal" in target.get("query", "") for target in panel.get("targets", []))
    ]
    assert panels, "no panel reads app.edge_refusal"
    query = panels[0]["targets"][0]["query"]
    counted = set(re.findall(r"\b[A-Z][A-Z_]+\b", query)) - {"AND", "OR", "NOT"}
    assert counted == made
    terms = [agg for agg in panels[0]["targets"][0]["bucketAggs"] if agg["type"] == "terms"]
    assert terms and terms[0]["field"] == "app.edge_refusal"
