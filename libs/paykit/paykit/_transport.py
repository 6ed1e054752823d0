"""The transport under `paykit.http.ServiceClient`: an httpx transport (httpx's own extension
point) speaking HTTP/1.1 over asyncio protocols, with answers parsed by httptools (llhttp, the
parser uvicorn uses on the other end).

Why (benchmarks/service_hop.py, docs/benchmarks.md): under httpx's default transport,
httpcore's pool, its per-call locks and shields, and h11's pure-Python parsing were about
half of the caller's CPU per hop, and every payment makes ten hops. Here a call is: take a
pooled connection, one write of the request's head and body, answer parsed in C as it
arrives, connection back to the pool. httpx above it is unchanged (URL and header building,
`Request`, `Response`, its exceptions), so the callers' error handling is too.

What it keeps of httpcore's behaviour, each a test in tests/test_transport.py:
- a bounded pool per transport (one origin: a ServiceClient calls one service), waiting at
  most the pool timeout for a free connection (`httpx.PoolTimeout`);
- keep-alive reuse; a connection idle longer than the keep-alive expiry, closed or broken by
  the callee, or answered with `Connection: close` is never used again;
- Content-Length, chunked and read-until-close answers; chunked (streamed) request bodies;
- connect, write and read (time without a byte) timeouts as httpx's timeout exceptions,
  network failures as `ConnectError`, `WriteError`, `ReadError`, `RemoteProtocolError`;
- answers are read whole before they are returned, up to `RESPONSE_BYTES_MAX`; header
  values with CR or LF are refused rather than sent.
Plain http only: https keeps httpx's own transport (`service_transport` returns None).
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import AsyncIterable
from typing import Any, cast

import httptools
import httpx

from .telemetry import traced_transport

# Inter-service answers are small JSON documents; anything near this is a bug or an attack.
RESPONSE_BYTES_MAX = 16 * 1024 * 1024
RESPONSE_HEAD_BYTES_MAX = 64 * 1024
_FORBIDDEN_IN_HEADERS = (b"\r", b"\n", b"\0")


class _Answer:
    """What one response's parsing collects (httptools calls these methods)."""

    __slots__ = (
        "body",
        "body_bytes",
        "complete",
        "head_bytes",
        "headers",
        "keep_alive",
        "reason",
        "until_close",
    )

    def __init__(self) -> None:
        self.headers: list[tuple[bytes, bytes]] = []
        self.body: list[bytes] = []
        self.body_bytes = 0
        self.head_bytes = 0
        self.reason = b""
        self.complete = False
        self.keep_alive = False
        self.until_close = False

    def on_status(self, status: bytes) -> None:
        self.reason += status

    def on_header(self, name: bytes, value: bytes) -> None:
        self.head_bytes += len(name) + len(value) + 4
        if self.head_bytes > RESPONSE_HEAD_BYTES_MAX:
            raise httpx.RemoteProtocolError("the answer's head is too large")
        self.headers.append((name, value))

    def on_body(self, body: bytes) -> None:
        self.body_bytes += len(body)
        if self.body_bytes > RESPONSE_BYTES_MAX:
            raise httpx.ReadError(f"the answer is larger than {RESPONSE_BYTES_MAX} bytes")
        self.body.append(body)

    def on_message_complete(self) -> None:
        self.complete = True


class _Connection(asyncio.Protocol):
    """One keep-alive connection, one request at a time."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._transport: asyncio.Transport | None = None
        self._parser: httptools.HttpResponseParser | None = None
        self._answer: _Answer | None = None
        self._head_only = False
        self._waiter: asyncio.Future[None] | None = None
        self._drained: asyncio.Future[None] | None = None
        self._last_read = 0.0
        self.closed = False
        self.idle_since = 0.0

    # -- asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        if self._parser is None or self._answer is None:
            self._fail(httpx.RemoteProtocolError("the callee sent bytes nobody asked for"))
            return
        self._last_read = self._loop.time()
        try:
            self._parser.feed_data(data)
        except (httptools.HttpParserError, httptools.HttpParserUpgrade) as exc:
            cause = exc.__context__
            self._fail(cause if isinstance(cause, httpx.HTTPError) else httpx.RemoteProtocolError(str(exc)))
            return
        if self._answer.complete:
            self._settle(None)

    def eof_received(self) -> bool | None:
        answer = self._answer
        if answer is not None and answer.until_close and self._waiter is not None:
            answer.complete = True  # an answer framed by the connection's end
            self._settle(None)
        return None  # let the transport close

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._fail(httpx.RemoteProtocolError("the callee closed the connection without a full answer"))
        self.resume_writing()  # a sender waiting to drain wakes up and sees the connection closed

    def pause_writing(self) -> None:
        self._drained = self._loop.create_future()

    def resume_writing(self) -> None:
        if self._drained is not None and not self._drained.done():
            self._drained.set_result(None)
        self._drained = None

    # -- used by the transport
    def on_headers_complete(self) -> None:
        parser, answer = self._parser, self._answer
        assert parser is not None and answer is not None
        framed = any(name.lower() in (b"content-length", b"transfer-encoding") for name, _ in answer.headers)
        status = parser.get_status_code()
        if self._head_only or status in (204, 304) or 100 <= status < 200:
            if self._head_only and status >= 200:
                answer.complete = True  # a HEAD answer has no body, whatever it announces
                answer.keep_alive = parser.should_keep_alive()
            return
        answer.until_close = not framed

    def reusable(self, now: float, keepalive_expiry_s: float) -> bool:
        return not self.closed and now - self.idle_since < keepalive_expiry_s

    def close(self) -> None:
        self.closed = True
        if self._transport is not None:
            self._transport.close()

    def abort(self) -> None:
        self.closed = True
        if self._waiter is not None and not self._waiter.done():
            self._waiter.cancel()  # nobody will wait for this answer any more
        if self._transport is not None:
            self._transport.abort()

    async def send(
        self, head: bytes, body: bytes | AsyncIterable[bytes], chunked: bool, write_s: float | None
    ) -> None:
        assert self._transport is not None
        if isinstance(body, bytes):
            self._transport.write(head + body if len(body) < 65536 else head)
            if len(body) >= 65536:
                self._transport.write(body)
        else:
            self._transport.write(head)
            async for chunk in body:
                if chunk:
                    self._transport.write(b"%x\r\n%b\r\n" % (len(chunk), chunk) if chunked else chunk)
                    await self._drain(write_s)
            if chunked:
                self._transport.write(b"0\r\n\r\n")
        await self._drain(write_s)

    async def _drain(self, write_s: float | None) -> None:
        if self._drained is None:
            return  # the socket took it all: the common case, no await
        try:
            async with asyncio.timeout(write_s):
                await asyncio.shield(self._drained)
        except TimeoutError:
            raise httpx.WriteTimeout("timed out sending the request") from None
        if self.closed:
            raise httpx.WriteError("the connection closed while sending")

    def expect_answer(self, head_only: bool) -> None:
        self._answer = _Answer()
        self._parser = httptools.HttpResponseParser(self)
        self._head_only = head_only
        self._waiter = self._loop.create_future()
        self._last_read = self._loop.time()

    # httptools calls these on the protocol; they only forward to the answer being read.
    def on_status(self, status: bytes) -> None:
        assert self._answer is not None
        self._answer.on_status(status)

    def on_header(self, name: bytes, value: bytes) -> None:
        assert self._answer is not None
        self._answer.on_header(name, value)

    def on_body(self, body: bytes) -> None:
        assert self._answer is not None
        self._answer.on_body(body)

    def on_message_complete(self) -> None:
        assert self._answer is not None and self._parser is not None
        status = self._parser.get_status_code()
        if 100 <= status < 200 and status != 101:
            # An interim answer (103 Early Hints): the real one follows on this parser.
            self._answer = _Answer()
            return
        # Asked now: llhttp forgets the message's flags once it is complete.
        self._answer.keep_alive = self._parser.should_keep_alive()
        self._answer.on_message_complete()

    async def answer(self, read_s: float | None) -> tuple[_Answer, int, bool]:
        """Wait for the answer (`read_s` at most without a byte): it, its status, keep-alive."""
        waiter, parser = self._waiter, self._parser
        assert waiter is not None and parser is not None and self._answer is not None
        if not waiter.done():
            timer = None if read_s is None else self._loop.call_later(read_s, self._check_read, read_s)
            try:
                await waiter
            finally:
                if timer is not None:
                    timer.cancel()
        waiter.result()
        self._waiter = None
        self._parser = None
        answer = self._answer
        return (
            answer,
            parser.get_status_code(),
            answer.keep_alive and not answer.until_close and not self.closed,
        )

    def _check_read(self, read_s: float) -> None:
        if self._waiter is None or self._waiter.done():
            return
        left = self._last_read + read_s - self._loop.time()
        if left > 0.001:  # bytes came meanwhile: the read timeout counts from the last one
            self._loop.call_later(left, self._check_read, read_s)
            return
        self._fail(httpx.ReadTimeout("timed out waiting for the answer"))

    def _settle(self, exc: BaseException | None) -> None:
        waiter = self._waiter
        if waiter is None or waiter.done():
            return
        if exc is None:
            waiter.set_result(None)
        else:
            waiter.set_exception(exc)

    def _fail(self, exc: BaseException) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._settle(exc)
        if not self.closed:
            self.abort()  # a connection in an unknown state is never reused


class ServiceTransport(httpx.AsyncBaseTransport):
    """A bounded keep-alive pool of HTTP/1.1 connections to one plain-http origin."""

    def __init__(self, limits: httpx.Limits) -> None:
        self._connections_max = limits.max_connections or 100
        self._keepalive_max = (
            self._connections_max
            if limits.max_keepalive_connections is None
            else limits.max_keepalive_connections
        )
        self._keepalive_expiry_s = 5.0 if limits.keepalive_expiry is None else limits.keepalive_expiry
        self._idle: list[_Connection] = []
        self._open = 0  # connections open or being opened, idle ones included
        self._waiting: collections.deque[asyncio.Future[None]] = collections.deque()
        self._closed = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.scheme != "http":
            raise httpx.UnsupportedProtocol(f"this transport speaks plain http, not {request.url.scheme}")
        timeouts: dict[str, float | None] = request.extensions.get("timeout", {})
        head, body, chunked = _encode(request)
        connection = await self._acquire(request.url, timeouts.get("connect"), timeouts.get("pool"))
        reusable = answered = False
        try:
            connection.expect_answer(head_only=request.method == "HEAD")
            await connection.send(head, body, chunked, timeouts.get("write"))
            answer, status, reusable = await connection.answer(timeouts.get("read"))
            answered = True
        finally:
            self._release(connection, reusable, answered)
        # Read whole already; httpx still reads (and decodes, and times) it as it reads any.
        return httpx.Response(
            status,
            headers=answer.headers,
            stream=httpx.ByteStream(b"".join(answer.body)),
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": answer.reason.strip()},
        )

    async def aclose(self) -> None:
        self._closed = True
        while self._idle:
            self._idle.pop().close()
            self._open -= 1

    async def _acquire(self, url: httpx.URL, connect_s: float | None, pool_s: float | None) -> _Connection:
        if self._closed:
            raise RuntimeError("the transport is closed")
        started = time.monotonic()
        now = asyncio.get_running_loop().time()
        while True:
            while self._idle:
                connection = self._idle.pop()
                if connection.reusable(now, self._keepalive_expiry_s):
                    return connection
                connection.close()
                self._open -= 1
            if self._open < self._connections_max:
                self._open += 1
                try:
                    return await _connect(url, connect_s)
                except BaseException:
                    self._open -= 1
                    self._wake_one()
                    raise
            waiter = asyncio.get_running_loop().create_future()
            self._waiting.append(waiter)
            left = None if pool_s is None else pool_s - (time.monotonic() - started)
            try:
                async with asyncio.timeout(left):
                    await waiter
            except TimeoutError:
                raise httpx.PoolTimeout("no free connection in time") from None
            finally:
                if waiter in self._waiting:
                    self._waiting.remove(waiter)
            now = asyncio.get_running_loop().time()

    def _release(self, connection: _Connection, reusable: bool, answered: bool) -> None:
        if reusable and not self._closed and len(self._idle) < self._keepalive_max:
            connection.idle_since = asyncio.get_running_loop().time()
            self._idle.append(connection)
            self._wake_one()
            return
        if answered:
            connection.close()
        else:  # failed or cancelled half way: its state is unknown, drop it at once
            connection.abort()
        self._open -= 1
        self._wake_one()

    def _wake_one(self) -> None:
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return


async def _connect(url: httpx.URL, connect_s: float | None) -> _Connection:
    loop = asyncio.get_running_loop()
    host, port = url.host, url.port or 80
    try:
        async with asyncio.timeout(connect_s):
            _, connection = await loop.create_connection(lambda: _Connection(loop), host, port)
    except TimeoutError:
        raise httpx.ConnectTimeout(f"no connection to {host}:{port} in time") from None
    except OSError as exc:
        raise httpx.ConnectError(str(exc) or type(exc).__name__) from exc
    return connection


def _encode(request: httpx.Request) -> tuple[bytes, bytes | AsyncIterable[bytes], bool]:
    """The request's head, its body (bytes when httpx holds it whole) and whether the body is
    sent chunked."""
    target = request.url.raw_path
    lines = [request.method.encode("ascii"), b" ", target, b" HTTP/1.1\r\n"]
    chunked = False
    for name, value in request.headers.raw:
        for forbidden in _FORBIDDEN_IN_HEADERS:
            if forbidden in value or forbidden in name:
                raise httpx.LocalProtocolError("a header name or value contains CR, LF or NUL")
        if name.lower() == b"transfer-encoding" and value.lower() == b"chunked":
            chunked = True
        lines += (name, b": ", value, b"\r\n")
    lines.append(b"\r\n")
    if b" " in target or any(f in target for f in _FORBIDDEN_IN_HEADERS):
        raise httpx.LocalProtocolError("the request target contains whitespace or control bytes")
    stream: Any = request.stream
    body: bytes | AsyncIterable[bytes] = (
        stream if not isinstance(stream, httpx.ByteStream) else request.content
    )
    return b"".join(lines), body, chunked


def service_transport(base_url: str, limits: httpx.Limits) -> httpx.AsyncBaseTransport | None:
    """The transport for calls to `base_url`; None (httpx's default) unless it is plain http."""
    if httpx.URL(base_url).scheme != "http":
        return None
    return traced_transport(ServiceTransport(limits))


__all__ = ("RESPONSE_BYTES_MAX", "ServiceTransport", "service_transport")
