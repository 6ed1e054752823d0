"""The alerting rules parse, fire when they should and stay quiet when they should: promtool's
own checker and unit tests (observability/alerts.test.yml). The promtool runs are marked
integration (`make test-integration`), so `make test` needs no promtool (Debian: apt-get install
prometheus; .ci/run installs it); the checks of the files themselves stay in `make test`."""

from __future__ import annotations

import shutil
import subprocess

import pytest
import yaml

from tools.stack import compose

OBS = compose.REPO / "observability"
RULES = OBS / "alerts.yml"
RULE_TESTS = OBS / "alerts.test.yml"
# What on-call must know (issue 12) and the metric each alert is built on.
REQUIRED = {
    "reconciliation_open_breaks": "reconciliation breaks",
    "events_dead_lettered_total": "dead letters",
    "payments_total": "payments stuck in a non-terminal state",
    "http_request_errors_total": "error rate",
    "http_requests_shed_total": "shed rate",
    "up": "a service down",
}
PROMTOOL_TIMEOUT_S = 60


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail("promtool is required (apt-get install prometheus)")
    return subprocess.run(
        [promtool, *args], cwd=OBS, capture_output=True, text=True, timeout=PROMTOOL_TIMEOUT_S, check=False
    )


def _alerts() -> dict[str, str]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return {rule["alert"]: rule["expr"] for group in groups for rule in group["rules"] if "alert" in rule}


@pytest.mark.integration
def test_promtool_accepts_the_rules() -> None:
    result = _promtool("check", "rules", RULES.name)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.integration
def test_promtool_unit_tests_of_the_rules_pass() -> None:
    result = _promtool("test", "rules", RULE_TESTS.name)
    assert result.returncode == 0, result.stdout + result.stderr


def test_each_alert_is_tested_firing_and_quiet() -> None:
    tests = yaml.safe_load(RULE_TESTS.read_text())
    assert tests["rule_files"] == [RULES.name]
    firing, quiet = set(), set()
    for case in tests["tests"]:
        for check in case.get("alert_rule_test", []):
            (firing if check["exp_alerts"] else quiet).add(check["alertname"])
    assert firing == set(_alerts()), f"never seen firing: {set(_alerts()) - firing}"
    assert quiet == set(_alerts()), f"never seen quiet: {set(_alerts()) - quiet}"


def test_the_alerts_cover_what_on_call_must_know() -> None:
    exprs = " ".join(_alerts().values())
    missing = {what for metric, what in REQUIRED.items() if metric not in exprs}
    assert not missing, f"no alert on {sorted(missing)}"


def test_prometheus_loads_the_rules_in_compose() -> None:
    config = yaml.safe_load((OBS / "prometheus.yml").read_text())
    assert RULES.name in config["rule_files"]
    mounts = compose.load()["services"]["prometheus"]["volumes"]
    assert f"./observability/{RULES.name}:/etc/prometheus/{RULES.name}:ro" in mounts
