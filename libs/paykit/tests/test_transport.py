"""ServiceClient's transport (paykit._transport) over real loopback HTTP: answers in every
framing, pooled connections reused and bounded, connections that must not be reused dropped,
timeouts and failures as httpx's exceptions (so ServiceClient maps them as before)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import httpx
import pytest
from fastapi import FastAPI, Request, Response
from fastapi.responses import StreamingResponse
from paykit import _transport
from paykit._transport import ServiceTransport
from paykit.http import ServiceClient, ServiceTimeout, ServiceUnavailable
from paykit.testing import served_over_loopback


def _app() -> FastAPI:
    app = FastAPI()
    app.state.in_flight = app.state.peak = 0

    @app.post("/echo")
    async def echo(request: Request) -> dict[str, object]:
        client = request.client
        return {"body": await request.json(), "port": client.port if client else None}

    @app.post("/length")
    async def length(request: Request) -> dict[str, int]:
        return {"length": len(await request.body())}

    @app.api_route("/port", methods=["GET", "HEAD"])
    async def port(request: Request) -> dict[str, int | None]:
        return {"port": request.client.port if request.client else None}

    @app.get("/slow")
    async def slow() -> dict[str, bool]:
        await asyncio.sleep(1)
        return {"ok": True}

    @app.get("/busy")
    async def busy() -> dict[str, int]:
        app.state.in_flight += 1
        app.state.peak = max(app.state.peak, app.state.in_flight)
        await asyncio.sleep(0.05)
        app.state.in_flight -= 1
        return {"peak": app.state.peak}

    @app.get("/chunked")
    async def chunked(pause_s: float = 0.0) -> StreamingResponse:
        async def parts() -> AsyncIterator[bytes]:
            for part in (b"one,", b"two,", b"three,", b"four"):
                await asyncio.sleep(pause_s)
                yield part

        return StreamingResponse(parts(), media_type="text/plain")

    @app.get("/closing")
    async def closing(request: Request) -> Response:
        port = request.client.port if request.client else 0
        return Response(str(port), headers={"Connection": "close"})

    return app


@pytest.fixture
async def server_url() -> AsyncIterator[str]:
    # A short keep-alive: the server closes idle connections while the client still pools them.
    async with served_over_loopback(_app(), timeout_keep_alive=0.2) as url:
        yield url


@pytest.fixture
async def long_lived_url() -> AsyncIterator[str]:
    async with served_over_loopback(_app(), timeout_keep_alive=30) as url:
        yield url


def _client(url: str, *, timeout: httpx.Timeout | None = None, **limits: float | int) -> httpx.AsyncClient:
    transport = ServiceTransport(httpx.Limits(**{"max_connections": 10, **limits}))  # type: ignore[arg-type]
    return httpx.AsyncClient(base_url=url, transport=transport, timeout=timeout or httpx.Timeout(5.0))


@asynccontextmanager
async def _raw_server(
    handle: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]],
) -> AsyncIterator[str]:
    """A server that answers by hand, for answers uvicorn never gives."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await handle(reader, writer)
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    finally:
        server.close()


async def test_calls_reuse_a_connection_and_survive_the_server_closing_it(server_url: str) -> None:
    client = ServiceClient("echo", server_url, retries_max=0)
    try:
        body = {"amount_minor": 1234, "note": "x" * 100_000}  # larger than one write
        first = await client.call("POST", "/echo", json=body)
        second = await client.call("POST", "/echo", json={"n": 2})
        assert first.json()["body"] == body and second.json()["body"] == {"n": 2}
        assert first.elapsed.total_seconds() > 0, "read as httpx reads it, so httpx times it"
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


async def test_a_connection_idle_past_the_keepalive_expiry_is_not_reused(long_lived_url: str) -> None:
    async with _client(long_lived_url, keepalive_expiry=0.2) as client:
        first = (await client.get("/port")).json()["port"]
        assert (await client.get("/port")).json()["port"] == first
        await asyncio.sleep(0.3)  # the server would still take it; the client must not
        assert (await client.get("/port")).json()["port"] != first


async def test_the_pool_never_opens_more_than_its_limit(long_lived_url: str) -> None:
    async with _client(long_lived_url, max_connections=2) as client:
        answers = await asyncio.gather(*(client.get("/busy") for _ in range(8)))
    assert all(a.status_code == 200 for a in answers)
    assert max(a.json()["peak"] for a in answers) == 2


async def test_no_free_connection_in_time_is_a_pool_timeout(long_lived_url: str) -> None:
    timeout = httpx.Timeout(5.0, pool=0.1)
    async with _client(long_lived_url, max_connections=1, timeout=timeout) as client:
        slow = asyncio.create_task(client.get("/slow"))
        await asyncio.sleep(0.1)
        with pytest.raises(httpx.PoolTimeout):
            await client.get("/port")
        assert (await slow).status_code == 200


async def test_a_cancelled_call_gives_its_connection_back(long_lived_url: str) -> None:
    timeout = httpx.Timeout(5.0, pool=0.5)
    async with _client(long_lived_url, max_connections=1, timeout=timeout) as client:
        slow = asyncio.create_task(client.get("/slow"))
        await asyncio.sleep(0.1)
        slow.cancel()
        with pytest.raises(asyncio.CancelledError):
            await slow
        assert (await client.get("/port")).status_code == 200


async def test_a_chunked_answer_is_read_whole_and_the_connection_reused(long_lived_url: str) -> None:
    async with _client(long_lived_url) as client:
        first = (await client.get("/port")).json()["port"]
        chunked = await client.get("/chunked")
        assert chunked.headers["transfer-encoding"] == "chunked"
        assert chunked.text == "one,two,three,four"
        assert (await client.get("/port")).json()["port"] == first


async def test_the_read_timeout_counts_from_the_last_byte(long_lived_url: str) -> None:
    # Four parts 0.15 s apart: 0.6 s in all, never 0.3 s without a byte.
    async with _client(long_lived_url, timeout=httpx.Timeout(5.0, read=0.3)) as client:
        answer = await client.get("/chunked", params={"pause_s": 0.15})
        assert answer.text == "one,two,three,four"
        with pytest.raises(httpx.ReadTimeout):
            await client.get("/chunked", params={"pause_s": 0.5})


async def test_an_answer_with_connection_close_is_not_reused(long_lived_url: str) -> None:
    async with _client(long_lived_url) as client:
        closing = await client.get("/closing")
        assert closing.status_code == 200
        assert (await client.get("/port")).json()["port"] != int(closing.text)


async def test_a_head_answer_has_no_body_and_keeps_the_connection(long_lived_url: str) -> None:
    async with _client(long_lived_url) as client:
        head = await client.head("/port")
        assert head.status_code == 200 and head.content == b"" and int(head.headers["content-length"]) > 0
        first = (await client.get("/port")).json()["port"]
        await client.head("/port")
        assert (await client.get("/port")).json()["port"] == first


async def test_a_streamed_request_body_is_sent_chunked(long_lived_url: str) -> None:
    async def parts() -> AsyncIterator[bytes]:
        for _ in range(3):
            yield b"x" * 1000

    async with _client(long_lived_url) as client:
        answer = await client.post("/length", content=parts())
        assert answer.json() == {"length": 3000}


async def test_an_answer_framed_by_the_connection_end_is_read_whole() -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end")
        await writer.drain()

    async with _raw_server(handle) as url, _client(url) as client:
        assert (await client.get("/")).text == "until the end"
        assert (await client.get("/")).text == "until the end"  # on a new connection


async def test_an_interim_answer_is_skipped() -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n")
        writer.write(b"HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok")
        await writer.drain()

    async with _raw_server(handle) as url, _client(url) as client:
        answer = await client.get("/")
        assert answer.status_code == 201 and answer.text == "ok"


async def test_a_hang_up_without_an_answer_is_retried_only_when_allowed() -> None:
    requests: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        requests.append(await reader.readuntil(b"\r\n\r\n"))

    async with _raw_server(handle) as url:
        client = ServiceClient("gone", url, retries_max=2)
        try:
            with pytest.raises(ServiceUnavailable, match="RemoteProtocolError"):
                await client.call("POST", "/pay", json={})
            assert len(requests) == 1, "a POST without a key is sent once"
            with pytest.raises(ServiceUnavailable):
                await client.call("GET", "/status")
            assert len(requests) == 4, "a GET is retried"
        finally:
            await client.aclose()


async def test_an_answer_past_the_size_limit_fails(
    long_lived_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_transport, "RESPONSE_BYTES_MAX", 10)
    async with _client(long_lived_url) as client:
        with pytest.raises(httpx.ReadError, match="larger than 10 bytes"):
            await client.get("/chunked")
    client = ServiceClient("big", long_lived_url)
    try:
        with pytest.raises(ServiceUnavailable):
            await client.call("GET", "/chunked")
    finally:
        await client.aclose()


async def test_a_header_with_a_line_break_is_never_sent(long_lived_url: str) -> None:
    async with _client(long_lived_url) as client:
        with pytest.raises(httpx.LocalProtocolError):
            await client.get("/port", headers={"X-Note": "a\r\nX-Injected: 1"})
        assert (await client.get("/port")).status_code == 200


async def test_a_callee_that_reads_nothing_is_a_write_timeout() -> None:
    stop = asyncio.Event()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await stop.wait()  # never reads: the socket buffers fill up

    async with _raw_server(handle) as url, _client(url, timeout=httpx.Timeout(5.0, write=0.2)) as client:
        try:
            with pytest.raises(httpx.WriteTimeout):
                await client.post("/", content=b"x" * (64 * 1024 * 1024))
        finally:
            stop.set()


async def test_nobody_listening_is_unavailable() -> None:
    async with _raw_server(lambda r, w: asyncio.sleep(0)) as url:
        pass  # closed again: nothing listens on its port now
    client = ServiceClient("gone", url, retries_max=1)
    try:
        with pytest.raises(ServiceUnavailable, match="ConnectError"):
            await client.call("GET", "/x")
    finally:
        await client.aclose()
