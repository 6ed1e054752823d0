"""ServiceClient over real loopback HTTP (paykit._transport): answers, pooled connections
reused, a connection the callee closed while idle never fails the next call, timeouts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from fastapi import FastAPI, Request
from paykit.http import ServiceClient, ServiceTimeout
from paykit.testing import served_over_loopback


def _app() -> FastAPI:
    app = FastAPI()

    @app.post("/echo")
    async def echo(request: Request) -> dict[str, object]:
        client = request.client
        return {"body": await request.json(), "port": client.port if client else None}

    @app.get("/slow")
    async def slow() -> dict[str, bool]:
        await asyncio.sleep(1)
        return {"ok": True}

    return app


@pytest.fixture
async def server_url() -> AsyncIterator[str]:
    # A short keep-alive: the server closes idle connections while the client still pools them.
    async with served_over_loopback(_app(), timeout_keep_alive=0.2) as url:
        yield url


async def test_calls_reuse_a_connection_and_survive_the_server_closing_it(server_url: str) -> None:
    client = ServiceClient("echo", server_url, retries_max=0)
    try:
        body = {"amount_minor": 1234, "note": "x" * 100_000}  # larger than one held write
        first = await client.call("POST", "/echo", json=body)
        second = await client.call("POST", "/echo", json={"n": 2})
        assert first.json()["body"] == body and second.json()["body"] == {"n": 2}
        assert first.json()["port"] == second.json()["port"], "the pooled connection is reused"
        await asyncio.sleep(0.5)  # the server has closed the idle connection by now
        # A POST without a key is never retried: it must not be sent on the dead connection.
        third = await client.call("POST", "/echo", json={"n": 3})
        assert third.status_code == 200 and third.json()["port"] != second.json()["port"]
    finally:
        await client.aclose()


async def test_no_answer_in_time_is_a_timeout(server_url: str) -> None:
    client = ServiceClient("echo", server_url, timeout_s=0.2)
    try:
        with pytest.raises(ServiceTimeout):
            await client.call("GET", "/slow")
    finally:
        await client.aclose()
