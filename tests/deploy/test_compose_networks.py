"""The compose network is split so a compromised container reaches only what it needs
(DESIGN §6, issue 10): nginx only the gateways, the gateways only the services they call, the
partner bank only confirm and account; the data stores never on the internet-facing network.
Who calls whom is read from each service's code (the `*_SERVICE_URL` settings it uses), so a new
call shows up here as a missing network, and a new network link as a violation."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from tools.stack import compose, services

MODEL = compose.load()
SERVICES: dict[str, Any] = MODEL["services"]
APP = services.app_services(MODEL)
EDGE = "edge"
# Networks with a route out of the host: the published edge, the operator UIs (published on
# 127.0.0.1), and the way out for services that download or send (OFAC list, SMS/email).
NOT_INTERNAL = {"edge", "ops", "egress"}
DATASTORES = ("postgres-db", "redis-cache", "kafka")


def networks_of(name: str) -> set[str]:
    nets = SERVICES[name].get("networks") or {"default": None}
    return set(nets)


def reachable(name: str) -> set[str]:
    """Every other container that shares a network with `name`."""
    mine = networks_of(name)
    return {other for other in SERVICES if other != name and networks_of(other) & mine}


def containers_of(package: str) -> set[str]:
    return {name for name, pkg in APP.items() if pkg == package}


def test_every_network_used_is_declared_and_only_the_outside_facing_ones_route_out() -> None:
    declared = MODEL["networks"]
    for name in SERVICES:
        assert networks_of(name) <= set(declared), f"{name} uses an undeclared network"
    for net, spec in declared.items():
        internal = bool((spec or {}).get("internal"))
        assert internal == (net not in NOT_INTERNAL), f"network {net}: internal={internal}"


def test_nginx_reaches_only_the_gateways() -> None:
    assert networks_of("load-balancer") == {EDGE}
    assert reachable("load-balancer") == containers_of("gateway")
    members = {name for name in SERVICES if EDGE in networks_of(name)}
    assert members == {"load-balancer"} | containers_of("gateway")


def test_the_gateways_share_the_alias_nginx_resolves() -> None:
    for name in containers_of("gateway"):
        assert "api-gateway" in SERVICES[name]["networks"][EDGE]["aliases"], name
    conf = (compose.REPO / "nginx" / "nginx.conf").read_text()
    assert "set $gateway api-gateway:3000;" in conf


@pytest.mark.parametrize("package", ["gateway", "partner_bank"])
def test_a_gateway_or_the_bank_reaches_only_the_services_it_calls_or_that_call_it(package: str) -> None:
    callers = {pkg for pkg in set(APP.values()) if package in services.calls(pkg)}
    allowed = services.calls(package) | callers | {package}
    for name in containers_of(package):
        apps = {APP[other] for other in reachable(name) if other in APP}
        assert apps <= allowed, f"{name} reaches {sorted(apps - allowed)}"


def test_the_partner_bank_is_reached_only_by_confirm_and_account() -> None:
    (bank,) = containers_of("partner_bank")
    apps = {APP[other] for other in reachable(bank) if other in APP}
    assert apps == {"confirm", "account"}


def test_every_call_the_code_makes_has_a_network() -> None:
    for name, package in APP.items():
        for callee in services.calls(package):
            for target in containers_of(callee):
                assert target in reachable(name), f"{name} calls {target} but shares no network with it"


def test_each_service_reaches_the_stores_and_collector_it_uses() -> None:
    for name, package in APP.items():
        env = compose.raw_environment(SERVICES[name])
        needs = {"otel-collector"}
        if "POSTGRES_URL" in env:
            needs.add("postgres-db")
        if "REDIS_URL" in env:
            needs.add("redis-cache")
        if env.get("KAFKA_BROKERS"):
            needs.add("kafka")
        if "ELASTICSEARCH_URL" in env:
            needs.add("elasticsearch")
        assert needs <= reachable(name), f"{name} ({package}) cannot reach {sorted(needs - reachable(name))}"


def test_data_stores_are_not_on_the_edge() -> None:
    for name in DATASTORES:
        assert EDGE not in networks_of(name)
        assert not networks_of(name) & NOT_INTERNAL, f"{name} is on a network with a route out"


def test_prometheus_grafana_and_the_collector_reach_what_they_talk_to() -> None:
    config = yaml.safe_load((compose.REPO / "observability" / "prometheus.yml").read_text())
    for job in config["scrape_configs"]:
        for static in job["static_configs"]:
            for target in static["targets"]:
                host = target.rsplit(":", 1)[0]
                if host != "localhost":
                    assert host in reachable("prometheus"), f"prometheus cannot scrape {target}"
    assert {"prometheus", "jaeger", "elasticsearch"} <= reachable("grafana")
    assert "jaeger" in reachable("otel-collector")
    assert "elasticsearch" in reachable("kibana") and "elasticsearch" in reachable("filebeat")
    for exporter, store in (
        ("postgres-exporter", "postgres-db"),
        ("redis-exporter", "redis-cache"),
        ("kafka-exporter", "kafka"),
    ):
        assert store in reachable(exporter)
