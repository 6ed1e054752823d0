"""The compose stack stays what DESIGN §1/§6/§8/§9 promise: pinned images, health checks and
health-gated start order, no datastore on a host port, every service given the settings it
reads, secrets only from .env, Prometheus/Grafana/collector configs in step with compose.

No Docker engine is needed: these read the files the engine would read."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from tools.stack import services as stack_services

REPO = Path(__file__).resolve().parents[2]
OBS = REPO / "observability"

APP_DOCKERFILE = "docker/service.Dockerfile"
DATASTORES = ("postgres-db", "redis-cache", "kafka")
# Seed service name -> (python package / schema, port).
APP_SERVICES = {
    "api-gateway-1": ("gateway", 3000),
    "api-gateway-2": ("gateway", 3000),
    "confirm-service": ("confirm", 3003),
    "risk-service": ("risk", 3004),
    "notification-service": ("notification", 3005),
    "otp-service": ("otp", 3006),
    "account-service": ("account", 3007),
    "audit-service": ("audit", 3008),
    "ofac-service": ("ofac", 3009),
    "kyc-service": ("kyc", 3010),
    "partner-bank-api": ("partner_bank", 3011),
}
# Env variable -> the compose service it must point at (the seed's names).
SERVICE_URLS = {
    "CONFIRM_SERVICE_URL": "confirm-service",
    "RISK_SERVICE_URL": "risk-service",
    "NOTIFICATION_SERVICE_URL": "notification-service",
    "OTP_SERVICE_URL": "otp-service",
    "ACCOUNT_SERVICE_URL": "account-service",
    "AUDIT_SERVICE_URL": "audit-service",
    "OFAC_SERVICE_URL": "ofac-service",
    "KYC_SERVICE_URL": "kyc-service",
    "PARTNER_BANK_API_URL": "partner-bank-api",
}
# Secrets and stores each service reads are derived from its code: test_compose_secrets.py.
EXTRA_ENV = {"gateway": {"HOSTNAME"}, "audit": {"ELASTICSEARCH_URL"}}
OBSERVABILITY = set(
    ["load-balancer", "jaeger", "otel-collector", "prometheus", "grafana", "elasticsearch", "kibana"]
)
EXPORTERS = ("postgres-exporter", "redis-exporter", "kafka-exporter")


def _yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return _yaml(REPO / "docker-compose.yml")


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


def _exposed(service: dict[str, Any]) -> set[int]:
    return {int(p) for p in service.get("expose", [])}


def _image_tag(image: str) -> str:
    name = image.rsplit("/", 1)[-1]
    return name.split(":", 1)[1] if ":" in name else ""


def _interpolated(value: str) -> set[str]:
    return set(re.findall(r"\$\{([A-Z0-9_]+)", value))


def test_no_version_key_and_the_seed_stack_is_all_there(compose, services):
    assert "version" not in compose
    expected = set(APP_SERVICES) | set(DATASTORES) | OBSERVABILITY | set(EXPORTERS)
    assert expected <= set(services)
    assert "zookeeper" not in services
    assert services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"


def test_every_image_is_pinned_to_an_exact_tag(services):
    for name, svc in services.items():
        tag = _image_tag(svc.get("image", ""))
        assert tag, f"{name} has no image tag"
        assert tag != "latest", name
        if "build" not in svc:
            assert re.search(r"\d+\.\d+", tag), f"{name}: {tag} is not an exact version"


@pytest.mark.parametrize("dockerfile", ["docker/service.Dockerfile", "docker/otel-collector.Dockerfile"])
def test_dockerfile_bases_are_pinned(dockerfile):
    bases = re.findall(r"^FROM\s+(\S+)", (REPO / dockerfile).read_text(), flags=re.MULTILINE)
    assert bases
    for base in bases:
        assert re.search(r":\d+\.\d+\.\d+", base), f"{dockerfile}: {base} is not pinned"


def test_every_service_has_a_health_check_and_waits_for_healthy_dependencies(services):
    for name, svc in services.items():
        check = svc.get("healthcheck", {})
        assert check.get("test") and not check.get("disable"), f"{name} has no health check"
        depends = svc.get("depends_on", {})
        assert isinstance(depends, dict), f"{name}: depends_on must name conditions"
        for dep, spec in depends.items():
            assert dep in services, f"{name} depends on unknown {dep}"
            assert spec == {"condition": "service_healthy"}, f"{name} -> {dep}"


def test_only_the_edge_is_published_and_operator_uis_stay_on_loopback(services):
    for name in (*DATASTORES, *APP_SERVICES, *EXPORTERS, "otel-collector"):
        assert not services[name].get("ports"), f"{name} must not publish a host port"
    assert sorted(services["load-balancer"]["ports"]) == ["443:443", "80:80"]
    for name, svc in services.items():
        if name != "load-balancer":
            for port in svc.get("ports", []):
                assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} beyond loopback"


@pytest.mark.parametrize("name", sorted(APP_SERVICES))
def test_app_service_gets_the_settings_it_reads(services, name):
    package, port = APP_SERVICES[name]
    svc = services[name]
    assert svc["build"]["dockerfile"] == APP_DOCKERFILE
    assert svc["build"]["args"]["SERVICE"] == package
    assert (REPO / "services" / package / package / "main.py").is_file()
    env = svc["environment"]
    needed = {
        "APP_ENV",
        "SERVICE_NAME",
        "PORT",
        "KAFKA_BROKERS",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        *SERVICE_URLS,
    } | EXTRA_ENV.get(package, set())
    if stack_services.opens_postgres(package):
        needed.add("POSTGRES_URL")
    if stack_services.opens_redis(package):
        needed.add("REDIS_URL")
    assert needed <= set(env), f"{name} lacks {sorted(needed - set(env))}"
    assert env["APP_ENV"] == "production"
    assert env["SERVICE_NAME"] == package and env["PORT"] == str(port)
    assert _exposed(svc) == {port}
    assert env["KAFKA_BROKERS"] == "kafka:9092"
    assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://otel-collector:4318"
    role_password = f"{package.upper()}_DB_PASSWORD"
    if "POSTGRES_URL" in env:
        assert re.fullmatch(
            rf"postgresql://{package}:\$\{{{role_password}:\?[^}}]*\}}@postgres-db:5432/payment_db",
            env["POSTGRES_URL"],
        ), f"{name} must log in as its own role with a password from .env"
    if "REDIS_URL" in env:
        assert re.fullmatch(r"redis://:\$\{REDIS_PASSWORD:\?[^}]*\}@redis-cache:6379/\d+", env["REDIS_URL"])
    if package == "gateway":
        assert env["HOSTNAME"] == name
    for var, target in SERVICE_URLS.items():
        url = urlsplit(env[var])
        assert url.hostname == target and url.port == APP_SERVICES[target][1], f"{name}: {var}={env[var]}"


def test_each_role_in_the_bootstrap_gets_its_password(services):
    bootstrap = (REPO / "database" / "bootstrap.sql").read_text()
    roles = set(re.findall(r"'([a-z_]+)'", bootstrap.split("ARRAY[", 1)[1].split("]", 1)[0]))
    assert roles == {package for package, _ in APP_SERVICES.values()}
    init = (REPO / "docker" / "postgres-init.sh").read_text()
    init_roles = set(re.search(r"roles=\(([^)]*)\)", init).group(1).split())
    # Only the services that keep data in Postgres can log in (a password from .env).
    logins = {package for package in roles if stack_services.opens_postgres(package)}
    assert init_roles == logins and logins < roles
    roles = logins
    pg_env = services["postgres-db"]["environment"]
    for role in roles:
        assert f"{role.upper()}_DB_PASSWORD" in pg_env
    mounts = services["postgres-db"]["volumes"]
    assert "./database/bootstrap.sql:/docker-entrypoint-initdb.d/10-bootstrap.sql:ro" in mounts
    assert "./docker/postgres-init.sh:/docker-entrypoint-initdb.d/20-role-passwords.sh:ro" in mounts


def test_every_variable_is_documented_and_generated():
    compose_text = (REPO / "docker-compose.yml").read_text()
    used = _interpolated(compose_text)
    required = set(re.findall(r"\$\{([A-Z0-9_]+):\?", compose_text))
    documented = set(re.findall(r"^([A-Z0-9_]+)=", (REPO / ".env.example").read_text(), flags=re.MULTILINE))
    assert used <= documented, f"not in .env.example: {sorted(used - documented)}"
    from tools.stack import compose as stack_compose

    # What the script really writes (it makes some names in loops, e.g. per-service keys).
    generated = set(stack_compose.make_env())
    assert required <= generated, f"docker/make-env.sh misses {sorted(required - generated)}"


def test_bind_mounts_point_at_files_in_the_repository(compose):
    for file in (REPO / "docker-compose.yml", REPO / "docker" / "compose.demo.yml"):
        for source in re.findall(r"^\s+- \./([^:]+):", file.read_text(), flags=re.MULTILINE):
            assert (REPO / source).exists(), f"{file.name} mounts missing ./{source}"


def test_prometheus_scrapes_every_service_on_its_compose_port(services):
    config = _yaml(OBS / "prometheus.yml")
    targets = [t for job in config["scrape_configs"] for sc in job["static_configs"] for t in sc["targets"]]
    for target in targets:
        host, port = target.rsplit(":", 1)
        if host == "localhost":
            continue
        assert host in services, f"prometheus scrapes unknown {host}"
        assert int(port) in _exposed(services[host]), f"{host} does not listen on {port}"
    for name, (_, port) in APP_SERVICES.items():
        assert f"{name}:{port}" in targets
    for exporter in (*EXPORTERS, "otel-collector"):
        assert any(t.startswith(f"{exporter}:") for t in targets)
    assert not {t.split(":")[0] for t in targets} & set(DATASTORES), "datastores speak no HTTP"


def test_grafana_provisioning_points_at_the_stack(services):
    datasources = _yaml(OBS / "grafana/provisioning/datasources/datasources.yml")["datasources"]
    by_uid = {ds["uid"]: ds for ds in datasources}
    assert {"prometheus", "jaeger", "elasticsearch-logs"} <= set(by_uid)
    for ds in datasources:
        url = urlsplit(ds["url"])
        assert url.port in _exposed(services[url.hostname]), ds["name"]
    providers = _yaml(OBS / "grafana/provisioning/dashboards/dashboards.yml")["providers"]
    mounts = services["grafana"]["volumes"]
    for provider in providers:
        assert any(m.endswith(f":{provider['options']['path']}:ro") for m in mounts)


def test_the_dashboards_use_provisioned_datasources():
    """Their queries are checked by tests/deploy/test_dashboards.py (promtool) and against a
    live Prometheus by tests/stack/test_observability.py (metrics the fleet exports)."""
    dashboards = sorted((OBS / "grafana/dashboards").glob("*.json"))
    assert dashboards
    provisioned = {
        ds["uid"] for ds in _yaml(OBS / "grafana/provisioning/datasources/datasources.yml")["datasources"]
    }
    for path in dashboards:
        for panel in json.loads(path.read_text())["panels"]:
            if panel["type"] != "row":
                assert panel["datasource"]["uid"] in provisioned, panel["title"]


def test_collector_sends_traces_to_jaeger_over_otlp(services):
    config = _yaml(OBS / "otel-collector-config.yml")
    assert "jaeger" not in config["exporters"], "the jaeger exporter was removed from the collector"
    assert config["exporters"]["otlp/jaeger"]["endpoint"] == "jaeger:4317"
    assert 4317 in _exposed(services["jaeger"])
    assert config["receivers"]["otlp"]["protocols"]["http"]["endpoint"] == "0.0.0.0:4318"
    declared = {kind: set(config.get(kind, {})) for kind in ("receivers", "processors", "exporters")}
    for name, pipeline in config["service"]["pipelines"].items():
        for kind, components in pipeline.items():
            assert set(components) <= declared[kind], f"pipeline {name}: undeclared {kind}"
    assert config["service"]["pipelines"]["traces"]["processors"][0] == "memory_limiter"
    health_port = config["extensions"]["health_check"]["endpoint"].rsplit(":", 1)[1]
    assert f"127.0.0.1:{health_port}/" in " ".join(services["otel-collector"]["healthcheck"]["test"])


def test_nginx_balances_both_gateways_with_tls_request_ids_and_small_bodies(services):
    conf = (REPO / "nginx" / "nginx.conf").read_text()
    # Resolved per request through Docker's DNS: both gateways answer to the alias api-gateway.
    assert re.search(r"^\s*resolver 127\.0\.0\.11 valid=\d+s", conf, flags=re.MULTILINE)
    assert "proxy_pass http://$gateway;" in conf
    assert not re.search(r"^\s*upstream\s", conf, flags=re.MULTILINE), "an upstream block resolves once"
    gateways = {n for n, (pkg, _) in APP_SERVICES.items() if pkg == "gateway"}
    assert gateways == {"api-gateway-1", "api-gateway-2"}
    for name in gateways:
        assert services[name]["networks"]["edge"]["aliases"] == ["api-gateway"]
    assert "client_max_body_size 64k;" in conf
    assert "proxy_set_header X-Request-ID $request_id;" in conf
    assert re.search(r"listen 80\b", conf) and re.search(r"listen 443 ssl\b", conf)
    retry = re.search(r"^\s*proxy_next_upstream (.*);", conf, flags=re.MULTILINE).group(1)
    assert "non_idempotent" not in retry, "a POST that reached a gateway must never be re-sent"
    cert_dir = re.search(r"ssl_certificate (\S+)/cert\.pem;", conf).group(1)
    assert f"nginx-tls:{cert_dir}" in services["load-balancer"]["volumes"]
    assert f'TLS_DIR="${{TLS_DIR:-{cert_dir}}}"' in (REPO / "docker" / "nginx-selfsigned-cert.sh").read_text()
