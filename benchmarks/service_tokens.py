"""Per-hop cost of service identity (paykit.identity).

Reports, per call: signing a token (cached, as every hop after the first does; and fresh),
verifying one (cached; and first sight, a full EdDSA check), and one in-process request to a
FastAPI route guarded by `allow(...)` against the same route unguarded, run in this command
(the ratio is what a hop pays for identity on top of the framework).

    .venv/bin/python benchmarks/service_tokens.py [--calls 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from collections.abc import Callable

os.environ.setdefault("APP_ENV", "test")
os.environ.setdefault("SERVICE_IDENTITY_DEV_SEED", "benchmark-only")

import httpx
from paykit.config import ServiceSettings
from paykit.identity import ServiceIdentity, allow, mint, new_fleet_keys
from paykit.service import create_service_app
from paykit.testing import service_headers


def per_call_us(fn: Callable[[], object], calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls * 1e6


async def route_latency_us(calls: int) -> tuple[float, float]:
    app = create_service_app(ServiceSettings(app_env="test", service_name="account"), title="bench")

    @app.post("/open")
    async def open_route() -> dict[str, bool]:
        return {"ok": True}

    @app.post("/guarded", dependencies=[allow("confirm")])
    async def guarded_route() -> dict[str, bool]:
        return {"ok": True}

    headers = service_headers("confirm", "account")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        samples: dict[str, list[float]] = {"/open": [], "/guarded": []}
        for _ in range(calls):  # interleaved so both see the same machine load
            for path, seen in samples.items():
                start = time.perf_counter()
                response = await client.post(path, headers=headers)
                seen.append(time.perf_counter() - start)
                assert response.status_code == 200, response.text
    return statistics.median(samples["/open"]) * 1e6, statistics.median(samples["/guarded"]) * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=2000)
    args = parser.parse_args()
    keys = new_fleet_keys(("confirm", "account"))
    public = {n: k.public_key() for n, k in keys.items()}
    confirm = ServiceIdentity("confirm", keys["confirm"], public)
    account = ServiceIdentity("account", keys["account"], public)
    token = confirm.token("account")
    fresh = [mint(keys["confirm"], "confirm", "account", subject=f"c{i}") for i in range(args.calls)]
    fresh_iter = iter(fresh)

    sign_cached = per_call_us(lambda: confirm.token("account"), args.calls)
    sign_fresh = per_call_us(lambda: mint(keys["confirm"], "confirm", "account"), args.calls)
    verify_cached = per_call_us(lambda: account.verify(token), args.calls)
    verify_first = per_call_us(lambda: account.verify(next(fresh_iter)), args.calls)
    open_us, guarded_us = asyncio.run(route_latency_us(args.calls))

    print(f"sign, cached        {sign_cached:8.1f} us")
    print(f"sign, fresh         {sign_fresh:8.1f} us")
    print(f"verify, cached      {verify_cached:8.1f} us")
    print(f"verify, first sight {verify_first:8.1f} us")
    print(f"in-process request, p50: open {open_us:.0f} us, guarded {guarded_us:.0f} us")
    print(f"guarded / open = {guarded_us / open_us:.2f}x (baseline: the same route without allow())")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
