"""The whole fleet as local processes: embedded (or given) Postgres and Redis, every service
on its seed port, two gateways behind a real nginx when nginx is installed.

Used by `make run` (tools/devstack/run.py) and by the integration tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx

from tools.devstack.groups import stop_groups
from tools.devstack.nginx import find_nginx, nginx_command, write_config

REPO = Path(__file__).resolve().parents[2]
HEALTH_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 10.0
DATABASE = "payment_db"


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    port: int
    instance: str = ""

    @property
    def package(self) -> str:
        return self.name


SERVICES = (
    ServiceSpec("partner_bank", 3011),
    ServiceSpec("account", 3007),
    ServiceSpec("ofac", 3009),
    ServiceSpec("kyc", 3010),
    ServiceSpec("risk", 3004),
    ServiceSpec("notification", 3005),
    ServiceSpec("otp", 3006),
    ServiceSpec("audit", 3008),
    ServiceSpec("confirm", 3003),
)
GATEWAY_PORTS = (3000, 3100)
NGINX_HTTP_PORT = int(os.environ.get("NGINX_HTTP_PORT", "8080"))
NGINX_HTTPS_PORT = int(os.environ.get("NGINX_HTTPS_PORT", "8443"))
# The seed's load balancer answers on 80/443; we add those when this user may bind them.
SEED_HTTP_PORT, SEED_HTTPS_PORT = 80, 443


def _with_seed_port(port: int, seed_port: int) -> list[int]:
    from paykit.embedded import port_open

    if os.geteuid() == 0 and not port_open("127.0.0.1", seed_port):
        return [seed_port, port]
    return [port]


def _user_url(superuser_url: str, user: str, database: str) -> str:
    parts = urlsplit(superuser_url)
    host = parts.netloc.split("@", 1)[-1]
    return urlunsplit((parts.scheme, f"{user}@{host}", "/" + database, parts.query, ""))


@dataclass
class Fleet:
    data_dir: Path
    keep_data: bool = True
    use_nginx: bool | None = None  # None: when nginx is installed
    extra_env: dict[str, str] = field(default_factory=dict)
    # Settings for one service only, by service name (e.g. the gateways' admission limits).
    service_env: dict[str, dict[str, str]] = field(default_factory=dict)
    _processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    _stoppers: list[object] = field(default_factory=list)
    postgres_url: str = ""  # a server to use; empty: embedded, in data_dir
    postgres_given: bool = False
    redis_url: str = ""  # likewise
    gateway_url: str = ""
    embedded_redis: object = None  # the fault suite kills and restarts it
    # Service identity keys, made afresh for each start (see identity_file).
    signing_keys: dict[str, str] = field(default_factory=dict)
    public_keys: str = ""

    @property
    def identity_file(self) -> Path:
        """Every identity's key of the running fleet, .env style, for `make service-token`."""
        return self.data_dir / "identity.env"

    # ---- start -------------------------------------------------------------------------
    def nginx(self) -> str | None:
        """The nginx in front of two gateways; None: one gateway answers alone."""
        if self.use_nginx is False:
            return None
        found = find_nginx()
        if self.use_nginx and found is None:
            raise RuntimeError("nginx was asked for but is not installed")
        return found

    def start(self) -> str:
        """Start everything; return the URL a user curls."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        (self.data_dir / "logs").mkdir(exist_ok=True)
        try:
            self._make_identities()
            self._start_datastores()
            self._bootstrap_database()
            for spec in SERVICES:
                self._start_service(spec)
            nginx = self.nginx()
            gateways = GATEWAY_PORTS if nginx else GATEWAY_PORTS[:1]
            for index, port in enumerate(gateways, start=1):
                self._start_service(ServiceSpec("gateway", port, instance=f"gateway-{index}"))
            self._wait_healthy()
            if nginx:
                http_ports = _with_seed_port(NGINX_HTTP_PORT, SEED_HTTP_PORT)
                self._start_nginx(
                    nginx, gateways, http_ports, _with_seed_port(NGINX_HTTPS_PORT, SEED_HTTPS_PORT)
                )
                self.gateway_url = (
                    "http://localhost"
                    if SEED_HTTP_PORT in http_ports
                    else f"http://localhost:{NGINX_HTTP_PORT}"
                )
            else:
                self.gateway_url = f"http://localhost:{GATEWAY_PORTS[0]}"
            return self.gateway_url
        except BaseException:
            self.stop()
            raise

    def _start_datastores(self) -> None:
        from paykit.embedded import EmbeddedPostgres, EmbeddedRedis, port_open

        if self.postgres_url:
            self.postgres_given = True
        else:
            pg = EmbeddedPostgres(self.data_dir / "postgres", keep=self.keep_data)
            self._stoppers.append(pg)
            self.postgres_url = pg.url
        if not self.redis_url:
            port = 6379 if not port_open("127.0.0.1", 6379) else None
            redis = EmbeddedRedis(self.data_dir / "redis", port, keep=self.keep_data)
            self._stoppers.append(redis)
            self.embedded_redis = redis
            self.redis_url = redis.url

    def _bootstrap_database(self) -> None:
        import psycopg

        if self.postgres_given:
            # A server we do not own: one login for all, a schema per service.
            with psycopg.connect(self.postgres_url, autocommit=True, connect_timeout=10) as conn:
                for spec in (*SERVICES, ServiceSpec("gateway", 0)):
                    conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{spec.name}"')  # type: ignore[arg-type]
            return
        with psycopg.connect(self.postgres_url, autocommit=True, connect_timeout=10) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,)).fetchone()
            if not exists:
                conn.execute(f"CREATE DATABASE {DATABASE}")
        db_url = _user_url(self.postgres_url, urlsplit(self.postgres_url).username or "postgres", DATABASE)
        with psycopg.connect(db_url, autocommit=True, connect_timeout=10) as conn:
            conn.execute((REPO / "database" / "bootstrap.sql").read_text())  # type: ignore[arg-type]

    def _make_identities(self) -> None:
        """A fresh Ed25519 key per service (and `ops`) for this run: each process gets only
        its own, as in compose; the file keeps them all for people and tests."""
        from paykit.identity import new_fleet_keys, private_key_text, public_keys_text

        keys = new_fleet_keys()
        self.signing_keys = {name: private_key_text(key) for name, key in keys.items()}
        self.public_keys = public_keys_text({name: key.public_key() for name, key in keys.items()})
        lines = [f"{name.upper()}_SIGNING_KEY={key}" for name, key in self.signing_keys.items()]
        lines.append(f'SERVICE_PUBLIC_KEYS="{self.public_keys}"')
        self.identity_file.touch(mode=0o600)
        self.identity_file.write_text("\n".join(lines) + "\n")

    def service_token(
        self, caller: str, audience: str, *, subject: str | None = None, roles: list[str] | None = None
    ) -> str:
        """A token of this run's `caller` for `audience` (what `make service-token` prints)."""
        from paykit.identity import mint, private_key_from_text

        key = private_key_from_text(self.signing_keys[caller])
        return mint(key, caller, audience, subject=subject, roles=roles or [])

    def _service_env(self, spec: ServiceSpec) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("POSTGRES_", "PYTEST", "SERVICE_IDENTITY_DEV_SEED"))
        }
        seed = REPO / "database" / "seed" / f"{spec.name}.sql"
        env.update(
            {
                "SERVICE_NAME": spec.name,
                "PORT": str(spec.port),
                "APP_ENV": env.get("APP_ENV", "development"),
                "POSTGRES_URL": self.postgres_url
                if self.postgres_given
                else _user_url(self.postgres_url, spec.name, DATABASE),
                "REDIS_URL": self.redis_url,
                "DEV_SEED_FILE": str(seed) if seed.is_file() else "",
                "HOSTNAME": spec.instance or spec.name,
                "PYTHONPATH": os.pathsep.join(
                    [str(REPO / "libs" / "paykit"), str(REPO / "services" / spec.name), str(REPO)]
                ),
                "PYTHONUNBUFFERED": "1",
                "SERVICE_SIGNING_KEY": self.signing_keys[spec.name],
                "SERVICE_PUBLIC_KEYS": self.public_keys,
            }
        )
        env.update(self.extra_env)
        env.update(self.service_env.get(spec.name, {}))
        return env

    def _start_service(self, spec: ServiceSpec, env: dict[str, str] | None = None) -> None:
        label = spec.instance or spec.name
        cmd = [
            sys.executable,
            "-m",
            "uvicorn",
            f"{spec.package}.main:create_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(spec.port),
            "--no-access-log",
            "--timeout-graceful-shutdown",
            "5",
        ]
        # The child keeps its own copy of the log's descriptor; ours closes right away.
        with open(self.data_dir / "logs" / f"{label}.log", "ab") as out:
            self._processes[label] = subprocess.Popen(
                cmd,
                env={**self._service_env(spec), **(env or {})},
                cwd=REPO,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C reaches the runner, which stops children in order
            )

    # ---- faults (the fault suite) --------------------------------------------------------
    def kill(self, label: str) -> None:
        """kill -9 of one service: no shutdown, no flushing, no goodbye."""
        process = self._processes[label]
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(STOP_TIMEOUT_S)

    def wait_exit(self, label: str, timeout_s: float) -> int | None:
        """The exit code once the service died on its own (a failpoint), or None."""
        try:
            return self._processes[label].wait(timeout_s)
        except subprocess.TimeoutExpired:
            return None

    def restart(self, label: str, env: dict[str, str] | None = None) -> None:
        """Start the service again (after a kill), with extra environment, and wait until ready."""
        if self._processes[label].poll() is None:
            self.kill(label)
        spec = next(s for s in SERVICES if s.name == label)
        self._start_service(spec, env)
        self._wait_healthy([label])

    def _wait_healthy(self, labels: list[str] | None = None) -> None:
        pending = {
            label: f"http://127.0.0.1:{self._port_of(label)}/ready"
            for label in (labels if labels is not None else list(self._processes))
        }
        deadline = time.monotonic() + HEALTH_TIMEOUT_S
        with httpx.Client(timeout=2) as client:
            while pending:
                for label, url in list(pending.items()):
                    process = self._processes[label]
                    if process.poll() is not None:
                        log_file = self.data_dir / "logs" / f"{label}.log"
                        raise RuntimeError(f"{label} exited with {process.returncode}; see {log_file}")
                    try:
                        if client.get(url).status_code == 200:
                            del pending[label]
                    except httpx.HTTPError:
                        pass
                if pending and time.monotonic() > deadline:
                    raise RuntimeError(
                        f"not ready after {HEALTH_TIMEOUT_S:.0f}s: {', '.join(sorted(pending))}"
                    )
                time.sleep(0.3)

    def _port_of(self, label: str) -> int:
        process = self._processes[label]
        args = process.args
        assert isinstance(args, list)
        return int(args[args.index("--port") + 1])

    def _start_nginx(
        self, nginx: str, gateway_ports: tuple[int, ...], http_ports: list[int], https_ports: list[int]
    ) -> None:
        prefix = self.data_dir / "nginx"
        conf = write_config(prefix, gateway_ports, http_ports, https_ports)
        with open(self.data_dir / "logs" / "nginx.log", "ab") as out:
            self._processes["nginx"] = subprocess.Popen(
                nginx_command(nginx, prefix, conf),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 15
        with httpx.Client(timeout=2) as client:
            while True:
                try:
                    if client.get(f"http://127.0.0.1:{NGINX_HTTP_PORT}/health").status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                if self._processes["nginx"].poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"nginx did not start; see {self.data_dir / 'logs' / 'nginx.log'}")
                time.sleep(0.2)

    # ---- stop --------------------------------------------------------------------------
    def stop(self) -> None:
        """Stop every process (nginx and gateways first), then Redis and Postgres."""
        stop_groups(reversed(list(self._processes.values())), STOP_TIMEOUT_S)
        self._processes.clear()
        for stopper in reversed(self._stoppers):
            stopper.stop()  # type: ignore[attr-defined]
        self._stoppers.clear()

    def __enter__(self) -> Fleet:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
