"""The compose stack's edge (nginx/nginx.conf), run in a real nginx on free ports with only
its addresses adapted: port 80 only redirects to HTTPS (health aside); HTTPS answers carry
HSTS, nosniff and Referrer-Policy, token and payment answers `Cache-Control: no-store`;
/docs, /openapi.json, /metrics and /ready are not served to the internet. Needs nginx, so it runs
with `make test-integration` (its own free ports, none of the fleet's)."""

from __future__ import annotations

import json
import os
import re
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from tools.devstack.nginx import _self_signed, find_nginx, nginx_command

REPO = Path(__file__).resolve().parents[2]
NGINX_START_TIMEOUT_S = 10
HOLD_TIMEOUT_S = 20
CROWD_SETTLE_TIMEOUT_S = 10
# Requests past the edge's in-flight limit in a crowd.
CROWD_EXTRA = 5
HIDDEN = ["/docs", "/redoc", "/openapi.json", "/metrics", "/ready", "/docs/oauth2-redirect"]

pytestmark = pytest.mark.integration


def _nginx() -> str:
    found = find_nginx()
    if found is None:
        pytest.fail("these tests need nginx (apt-get install nginx)")
    return found


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Gateway:
    """Stands in for the gateways: answers every request with JSON and records its path.
    A request to /hold/... is answered only once `release` is set (a payment in progress);
    one to /busy is refused the way a gateway sheds, with its own Retry-After."""

    paths: list[str] = field(default_factory=list)
    held: list[str] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)


def _serve(gateway: Gateway) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            gateway.paths.append(self.path)
            length = int(self.headers.get("content-length") or 0)
            self.rfile.read(length)
            if self.path.startswith("/hold/"):
                gateway.held.append(self.path)
                gateway.release.wait(HOLD_TIMEOUT_S)
            body = json.dumps({"path": self.path}).encode()
            busy = self.path == "/busy"
            self.send_response(503 if busy else 200)
            if busy:
                self.send_header("retry-after", "7")
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _answer

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@dataclass
class Edge:
    http: str
    https: str
    gateway: Gateway
    tls: ssl.SSLContext  # trusts the edge's self-signed certificate (made for "localhost")


@pytest.fixture(scope="module")
def edge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Edge]:
    prefix = tmp_path_factory.mktemp("nginx-edge")
    tls = prefix / "tls"
    tls.mkdir()
    _self_signed(tls)
    gateway = Gateway()
    upstream = _serve(gateway)
    http_port, https_port = _free_port(), _free_port()
    conf = (REPO / "nginx" / "nginx.conf").read_text()
    conf = re.sub(r"(?m)^(\s*listen\s+)80\b", rf"\g<1>127.0.0.1:{http_port}", conf)
    conf = re.sub(r"(?m)^(\s*listen\s+)443\b", rf"\g<1>127.0.0.1:{https_port}", conf)
    conf = re.sub(r"(?m)^(\s*pid\s+)\S+;", rf"\g<1>{prefix}/nginx.pid;", conf)
    conf = conf.replace("/etc/nginx/tls/", f"{tls}/")
    conf = conf.replace("api-gateway:3000", f"127.0.0.1:{upstream.server_address[1]}")
    conf = conf.replace("https://$host$request_uri", f"https://$host:{https_port}$request_uri")
    temp = "".join(
        f"    {kind}_temp_path {prefix / kind};\n"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    conf = re.sub(r"(?m)^http \{\n", "http {\n" + temp, conf, count=1)
    if os.geteuid() == 0:
        conf = "user root;\n" + conf
    (prefix / "nginx.conf").write_text(conf)
    nginx = subprocess.Popen(
        nginx_command(_nginx(), prefix, prefix / "nginx.conf"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + NGINX_START_TIMEOUT_S
        while True:
            try:
                socket.create_connection(("127.0.0.1", https_port), timeout=0.5).close()
                break
            except OSError:
                assert nginx.poll() is None, (prefix / "error.log").read_text()
                assert time.monotonic() < deadline, "nginx did not start"
                time.sleep(0.05)
        trust = ssl.create_default_context(cafile=str(tls / "cert.pem"))
        trust.check_hostname = False
        yield Edge(f"http://127.0.0.1:{http_port}", f"https://127.0.0.1:{https_port}", gateway, trust)
    finally:
        nginx.terminate()
        nginx.wait(10)
        upstream.shutdown()
        upstream.server_close()


def test_port_80_only_redirects_to_https_health_aside(edge: Edge) -> None:
    with httpx.Client(base_url=edge.http, trust_env=False) as client:
        before = len(edge.gateway.paths)
        login = client.post("/auth/login", json={"username": "demo", "password": "x"})
        assert login.status_code in (301, 308) and login.headers["location"].startswith("https://")
        assert login.headers["location"].endswith("/auth/login")
        assert client.get("/payments/abc").status_code in (301, 308)
        assert len(edge.gateway.paths) == before, "nothing reaches a gateway over plain HTTP"
        assert client.get("/nginx-health").status_code == 200


@pytest.mark.parametrize(
    "path", ["/auth/login", "/auth/refresh", "/payment/confirm", "/payments/abc", "/accounts/ACC001"]
)
def test_https_answers_carry_the_security_headers_and_no_store(edge: Edge, path: str) -> None:
    with httpx.Client(base_url=edge.https, verify=edge.tls, trust_env=False) as client:
        answer = client.post(path, json={}) if path != "/payments/abc" else client.get(path)
    assert answer.status_code == 200 and answer.json()["path"] == path
    assert answer.headers["strict-transport-security"].startswith("max-age=")
    assert int(answer.headers["strict-transport-security"].split("=")[1].split(";")[0]) >= 31536000
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["referrer-policy"] == "no-referrer"
    assert answer.headers["cache-control"] == "no-store"
    assert answer.headers["x-request-id"]


def test_errors_made_at_the_edge_carry_the_headers_too(edge: Edge) -> None:
    with httpx.Client(base_url=edge.https, verify=edge.tls, trust_env=False) as client:
        big = client.post("/payment/confirm", content=b"x" * 70_000)
    assert big.status_code == 413 and big.headers["x-content-type-options"] == "nosniff"
    assert "strict-transport-security" in big.headers


@pytest.mark.parametrize("path", HIDDEN)
def test_internal_paths_are_not_served_to_the_internet(edge: Edge, path: str) -> None:
    with httpx.Client(base_url=edge.https, verify=edge.tls, trust_env=False) as client:
        answer = client.get(path)
    assert answer.status_code == 404 and answer.json()["code"] == "NOT_FOUND"
    assert path not in edge.gateway.paths


def test_the_local_edge_keeps_plain_http_with_the_same_headers_and_hidden_paths(
    tmp_path: Path,
) -> None:
    from tools.devstack.nginx import write_config

    gateway = Gateway()
    upstream = _serve(gateway)
    http_port = _free_port()
    conf = write_config(tmp_path, (upstream.server_address[1],), [http_port], [_free_port()])
    nginx = subprocess.Popen(
        nginx_command(_nginx(), tmp_path, conf),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + NGINX_START_TIMEOUT_S
        with httpx.Client(base_url=f"http://127.0.0.1:{http_port}", trust_env=False) as client:
            while True:
                try:
                    login = client.post("/auth/login", json={})
                    break
                except httpx.TransportError:
                    assert nginx.poll() is None and time.monotonic() < deadline, "nginx did not start"
                    time.sleep(0.05)
            hidden = [client.get(path).status_code for path in HIDDEN]
        assert login.status_code == 200, "the README's curl over plain HTTP keeps working"
        assert login.headers["cache-control"] == "no-store"
        assert login.headers["x-content-type-options"] == "nosniff"
        assert login.headers["referrer-policy"] == "no-referrer"
        assert hidden == [404] * len(HIDDEN) and gateway.paths == ["/auth/login"]
    finally:
        nginx.terminate()
        nginx.wait(10)
        upstream.shutdown()
        upstream.server_close()


def _edge_in_flight_max(conf: str) -> int:
    found = re.search(r"limit_conn edge_in_flight (\d+);", conf)
    assert found, "the edge bounds the requests inside the fleet"
    return int(found.group(1))


def _crowd(base_url: str, verify: ssl.SSLContext | bool, gateway: Gateway, limit: int) -> None:
    """limit + CROWD_EXTRA payments at once while the fleet holds every one it admitted: the
    extra ones are refused by the edge at once (503 OVERLOADED, Retry-After, the edge's
    headers) while the admitted ones are still in progress, and those complete afterwards."""
    gateway.release.clear()
    gateway.held.clear()
    total = limit + CROWD_EXTRA

    def pay(number: int) -> httpx.Response:
        with httpx.Client(
            base_url=base_url, verify=verify, trust_env=False, timeout=HOLD_TIMEOUT_S + 5
        ) as client:
            return client.post(f"/hold/{number}", json={})

    with ThreadPoolExecutor(max_workers=total) as pool:
        futures = [pool.submit(pay, number) for number in range(total)]
        try:
            deadline = time.monotonic() + CROWD_SETTLE_TIMEOUT_S
            while sum(f.done() for f in futures) < CROWD_EXTRA or len(gateway.held) < limit:
                assert time.monotonic() < deadline, (len(gateway.held), sum(f.done() for f in futures))
                time.sleep(0.02)
            shed = [f.result() for f in futures if f.done()]
            assert len(gateway.held) == limit, "the fleet never holds more than the edge's limit"
        finally:
            gateway.release.set()
        served = [f.result() for f in futures if f.result() not in shed]
    assert len(shed) == CROWD_EXTRA
    for answer in shed:
        assert answer.status_code == 503, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["code"] == "OVERLOADED"
        assert answer.headers["retry-after"] == "1"
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["x-request-id"]
    assert [answer.status_code for answer in served] == [200] * limit


def test_past_the_fleets_in_flight_limit_the_edge_sheds_at_once_with_retry_after(edge: Edge) -> None:
    limit = _edge_in_flight_max((REPO / "nginx" / "nginx.conf").read_text())
    _crowd(edge.https, edge.tls, edge.gateway, limit)


def test_the_edge_limit_is_both_gateways_admission() -> None:
    from gateway.main import GatewaySettings

    compose_gateways = 2
    conf = (REPO / "nginx" / "nginx.conf").read_text()
    assert _edge_in_flight_max(conf) == compose_gateways * GatewaySettings().in_flight_max


def test_a_gateways_own_refusal_keeps_its_retry_after(edge: Edge) -> None:
    with httpx.Client(base_url=edge.https, verify=edge.tls, trust_env=False) as client:
        busy = client.post("/busy", json={})
    assert busy.status_code == 503
    assert busy.headers.get_list("retry-after") == ["7"]


def test_the_local_edge_sheds_past_its_gateways_admission_too(tmp_path: Path) -> None:
    from tools.devstack.nginx import write_config

    gateway = Gateway()
    upstream = _serve(gateway)
    http_port = _free_port()
    gateways = (upstream.server_address[1],)
    conf = write_config(tmp_path, gateways, [http_port], [_free_port()])
    nginx = subprocess.Popen(
        nginx_command(_nginx(), tmp_path, conf), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        base_url = f"http://127.0.0.1:{http_port}"
        deadline = time.monotonic() + NGINX_START_TIMEOUT_S
        while True:
            try:
                httpx.get(f"{base_url}/ping", trust_env=False)
                break
            except httpx.TransportError:
                assert nginx.poll() is None and time.monotonic() < deadline, "nginx did not start"
                time.sleep(0.05)
        from gateway.main import GatewaySettings

        limit = _edge_in_flight_max(conf.read_text())
        assert limit == len(gateways) * GatewaySettings().in_flight_max
        _crowd(base_url, False, gateway, limit)
        # As at the compose edge, the log tells the edge's own refusals from the gateways'
        # answers: they never reach a service's /metrics.
        logged = [json.loads(line) for line in (tmp_path / "access.log").read_text().splitlines()]
        crowd = [entry for entry in logged if entry["path"].startswith("/hold/")]
        refusals = sorted(entry["edge_refusal"] for entry in crowd)
        assert refusals == [""] * limit + ["OVERLOADED"] * CROWD_EXTRA
        assert all(entry["request_id"] for entry in crowd)
    finally:
        gateway.release.set()
        nginx.terminate()
        nginx.wait(10)
        upstream.shutdown()
        upstream.server_close()
