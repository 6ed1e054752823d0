"""The generic cost of one service-to-service hop: paykit against bare FastAPI + httpx.

Two servers run under uvicorn in their own processes, as the fleet runs them: a service app
built by `paykit.service.create_service_app` with one trivial route guarded by `allow(...)`,
and a bare `FastAPI()` app with the same route. Each is called `--calls` times over real
loopback HTTP, one call at a time, from a client process of its own: paykit's through
`paykit.http.ServiceClient` (service token, deadline, correlation id, trace context,
retries, circuit breaker) in a process whose tracing is configured as a service's is; the
bare one through a plain `httpx.AsyncClient`. Rounds alternate so both see the same machine.

Reports CPU per call (client process and server process, from the kernel's accounting, so
other load on the machine does not inflate it) and calls/s, and the paykit ÷ bare ratios:
what every one of a payment's hops pays for the fleet's plumbing. `--concurrency N` keeps N
calls in flight at once, as a loaded fleet does (one at a time, each call also pays for
waking both processes up). `--under-fastapi` also serves the route from bare Starlette and
from a bare ASGI app, called as the bare one is: what leaving FastAPI would save a server.

    .venv/bin/python benchmarks/service_hop.py [--calls 3000] [--rounds 3] [--concurrency 1]
        [--under-fastapi]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

os.environ.setdefault("APP_ENV", "test")
os.environ.setdefault("SERVICE_IDENTITY_DEV_SEED", "benchmark-only")

VARIANTS = ("bare", "paykit")
# Servers below FastAPI, called like "bare": what leaving FastAPI on a route would save.
UNDER_FASTAPI = ("starlette", "asgi")
WARMUP_CALLS = 200
READY_TIMEOUT_S = 30.0
CLIENT_TIMEOUT_S = 600.0
CONCURRENCY_MAX = 64
CALLER, CALLEE = "confirm", "account"


class Hop(BaseModel):
    n: int


def build_app(variant: str) -> object:
    if variant in UNDER_FASTAPI:
        return _app_under_fastapi(variant)
    from fastapi import FastAPI

    if variant == "bare":
        app = FastAPI()
        dependencies: list[object] = []
    else:
        from paykit.config import ServiceSettings
        from paykit.identity import allow
        from paykit.service import create_service_app

        app = create_service_app(
            ServiceSettings(app_env="test", service_name=CALLEE, log_level="WARNING"), title="bench"
        )
        dependencies = [allow(CALLER)]

    @app.post("/hop", dependencies=dependencies)  # type: ignore[arg-type]
    async def hop(body: Hop) -> dict[str, int]:
        return {"n": body.n}

    return app


def _app_under_fastapi(variant: str) -> object:
    """The same route (the body validated by the same pydantic model) as a Starlette route,
    or as a bare ASGI callable with no routing at all."""
    import json as json_module

    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route
    from starlette.types import Receive, Scope, Send

    if variant == "starlette":

        async def hop(request: Request) -> JSONResponse:
            body = Hop.model_validate_json(await request.body())
            return JSONResponse({"n": body.n})

        return Starlette(routes=[Route("/hop", hop, methods=["POST"])])

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        answer = json_module.dumps({"n": Hop.model_validate_json(b"".join(chunks)).n}).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(answer)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": answer})

    return app


def serve(variant: str, port: int) -> None:
    import uvicorn

    uvicorn.run(
        build_app(variant),  # type: ignore[arg-type]
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
    )


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process, from /proc (clock ticks)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def client_loop(
    variant: str, url: str, calls: int, server_pid: int, concurrency: int = 1
) -> dict[str, float]:
    if variant == "bare" or variant in UNDER_FASTAPI:
        import httpx

        client = httpx.AsyncClient(base_url=url, timeout=5.0)

        async def one(n: int) -> int:
            response = await client.post("/hop", json={"n": n})
            return response.status_code

        close = client.aclose
    else:
        from paykit import deadline
        from paykit.context import correlation_id_var
        from paykit.http import ServiceClient
        from paykit.logs import configure_logging
        from paykit.telemetry import configure_tracing
        from paykit.testing import fleet_identity

        # The caller is set up as a service process is (create_service_app does the same).
        configure_logging(CALLER, "WARNING")
        configure_tracing(CALLER)
        service = ServiceClient(CALLEE, url, identity=fleet_identity(CALLER))

        async def one(n: int) -> int:
            # As inside a request being served: a correlation id and a deadline to pass on.
            token = correlation_id_var.set(f"bench-{n}")
            budget = deadline.start(5000)
            try:
                response = await service.call("POST", "/hop", json={"n": n})
            finally:
                deadline.reset(budget)
                correlation_id_var.reset(token)
            return response.status_code

        close = service.aclose

    async def in_turn(first: int, count: int) -> None:
        for n in range(first, first + count):
            status = await one(n)
            assert status == 200, status

    async def side_by_side(count: int) -> None:
        share = max(1, count // concurrency)
        await asyncio.gather(*(in_turn(k * share, share) for k in range(concurrency)))

    await side_by_side(WARMUP_CALLS)
    calls = max(1, calls // concurrency) * concurrency
    server_before = process_cpu_s(server_pid)
    client_before = time.process_time()
    wall_before = time.perf_counter()
    await side_by_side(calls)
    wall = time.perf_counter() - wall_before
    client_cpu = time.process_time() - client_before
    server_cpu = process_cpu_s(server_pid) - server_before
    await close()
    return {"calls": calls, "wall_s": wall, "client_cpu_s": client_cpu, "server_cpu_s": server_cpu}


def run_loop(main: Coroutine[Any, Any, dict[str, float]]) -> dict[str, float]:
    """On uvloop when installed, as a service's calls run under uvicorn."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server on {port} exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"server on {port} not listening after {READY_TIMEOUT_S} s")


@dataclass
class Totals:
    calls: int = 0
    wall_s: float = 0.0
    client_cpu_s: float = 0.0
    server_cpu_s: float = 0.0
    rounds: list[dict[str, float]] = field(default_factory=list)

    def add(self, run: dict[str, float]) -> None:
        self.calls += int(run["calls"])
        self.wall_s += run["wall_s"]
        self.client_cpu_s += run["client_cpu_s"]
        self.server_cpu_s += run["server_cpu_s"]
        self.rounds.append(run)

    def us(self, seconds: float) -> float:
        return seconds / self.calls * 1e6


def report(totals: dict[str, Totals], concurrency: int) -> None:
    print(f"{concurrency} call(s) in flight")
    print(f"{'':10} {'calls/s':>8} {'client CPU':>12} {'server CPU':>12} {'total CPU':>12}   (per call)")
    for v, t in totals.items():
        print(
            f"{v:10} {t.calls / t.wall_s:8.0f} {t.us(t.client_cpu_s):9.0f} us {t.us(t.server_cpu_s):9.0f} us"
            f" {t.us(t.client_cpu_s + t.server_cpu_s):9.0f} us"
        )
    bare, paykit = totals["bare"], totals["paykit"]

    def ratio(cpu: Callable[[Totals], float]) -> float:
        return paykit.us(cpu(paykit)) / bare.us(cpu(bare))

    print(
        f"paykit / bare: client CPU {ratio(lambda t: t.client_cpu_s):.2f}x,"
        f" server CPU {ratio(lambda t: t.server_cpu_s):.2f}x,"
        f" total CPU {ratio(lambda t: t.client_cpu_s + t.server_cpu_s):.2f}x,"
        f" calls/s {paykit.calls / paykit.wall_s / (bare.calls / bare.wall_s):.2f}x"
        " (baseline: bare FastAPI route, bare httpx client, same run)"
    )
    under = [v for v in UNDER_FASTAPI if v in totals]
    if under:
        shares = ", ".join(
            f"{v} {totals[v].us(totals[v].server_cpu_s) / bare.us(bare.server_cpu_s):.2f}x" for v in under
        )
        print(f"server CPU against bare FastAPI: {shares} (what leaving FastAPI on a route would save)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=3000, help="measured calls per variant, all rounds")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=1, help="calls in flight at once (1 to 64)")
    parser.add_argument(
        "--under-fastapi",
        action="store_true",
        help="also serve the route from bare Starlette and from a bare ASGI app (server CPU only)",
    )
    parser.add_argument("--serve", choices=VARIANTS + UNDER_FASTAPI, help=argparse.SUPPRESS)
    parser.add_argument("--client", choices=VARIANTS + UNDER_FASTAPI, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--server-pid", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not 1 <= args.concurrency <= CONCURRENCY_MAX:
        parser.error(f"--concurrency must be 1 to {CONCURRENCY_MAX}")
    if args.serve:
        serve(args.serve, args.port)
        return 0
    if args.client:
        url = f"http://127.0.0.1:{args.port}"
        measured = client_loop(args.client, url, args.calls, args.server_pid, args.concurrency)
        print(json.dumps(run_loop(measured)))
        return 0

    me = os.path.abspath(__file__)
    variants = VARIANTS + (UNDER_FASTAPI if args.under_fastapi else ())
    ports = {v: free_port() for v in variants}
    servers = {
        v: subprocess.Popen([sys.executable, me, "--serve", v, "--port", str(ports[v])]) for v in variants
    }
    totals = {v: Totals() for v in variants}
    try:
        for v in variants:
            wait_ready(ports[v], servers[v])
        per_round = max(1, args.calls // args.rounds)
        for _ in range(args.rounds):
            for v in variants:
                command = [sys.executable, me, "--client", v, "--port", str(ports[v])]
                command += ["--calls", str(per_round), "--server-pid", str(servers[v].pid)]
                command += ["--concurrency", str(args.concurrency)]
                out = subprocess.run(command, check=True, stdout=subprocess.PIPE, timeout=CLIENT_TIMEOUT_S)
                totals[v].add(json.loads(out.stdout.decode().strip().splitlines()[-1]))
    finally:
        for process in servers.values():
            process.terminate()
        for process in servers.values():
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()

    report(totals, args.concurrency)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
