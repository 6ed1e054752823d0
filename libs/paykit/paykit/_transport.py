"""The transport under `paykit.http.ServiceClient`: httpx and httpcore as they are (pool,
HTTP/1.1 parsing, exceptions), over plain asyncio streams instead of anyio's, with each
request's head and body sent in one write.

Why (benchmarks/service_hop.py): httpcore writes a request's head and its body separately,
two send() calls each carrying a loopback packet and a wake-up of the callee, and anyio adds
a cancel scope per read and write and a poll() per request to see whether a pooled
connection was closed. Here the writes are held until httpcore turns to read the answer
(it always does), the deadline is one `asyncio.timeout`, and a closed connection is seen
from the stream's own state. Plain http only: https and proxies keep httpx's own transport.
"""

# httpcore's network interface names its parameters `timeout`: the names are not ours.
# ruff: noqa: ASYNC109
from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from collections.abc import Iterable
from typing import Any

import httpcore
import httpx

# Past this much held back, send at once: a request body is never held whole in two copies.
HELD_BYTES_MAX = 64 * 1024
READ_CHUNK_BYTES_MAX = 64 * 1024


class _Stream(httpcore.AsyncNetworkStream):
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self._held: list[bytes] = []
        self._held_bytes = 0

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        self._held.append(buffer)
        self._held_bytes += len(buffer)
        if self._held_bytes > HELD_BYTES_MAX:
            await self._flush(timeout)

    async def _flush(self, timeout_s: float | None) -> None:
        if not self._held:
            return
        data = b"".join(self._held) if len(self._held) > 1 else self._held[0]
        self._held.clear()
        self._held_bytes = 0
        try:
            async with asyncio.timeout(timeout_s):
                self._writer.write(data)
                await self._writer.drain()  # returns at once unless the socket's buffer is full
        except TimeoutError:
            raise httpcore.WriteTimeout("timed out sending the request") from None
        except (OSError, RuntimeError) as exc:
            raise httpcore.WriteError(str(exc) or type(exc).__name__) from exc

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        await self._flush(timeout)
        try:
            async with asyncio.timeout(timeout):
                return await self._reader.read(min(max_bytes, READ_CHUNK_BYTES_MAX))
        except TimeoutError:
            raise httpcore.ReadTimeout("timed out waiting for the answer") from None
        except OSError as exc:
            raise httpcore.ReadError(str(exc) or type(exc).__name__) from exc

    async def aclose(self) -> None:
        self._held.clear()
        self._writer.close()
        with contextlib.suppress(OSError):  # the peer went first: closed all the same
            await self._writer.wait_closed()

    async def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("TLS goes through httpx's own transport, not this one")

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":
            # An idle pooled connection with something to read was closed (or broken) by the
            # server: the pool must not reuse it.
            return self._reader.at_eof() or self._reader.exception() is not None
        if info == "socket":
            return self._writer.get_extra_info("socket")
        if info == "client_addr":
            return self._writer.get_extra_info("sockname")
        if info == "server_addr":
            return self._writer.get_extra_info("peername")
        return None


class _Backend(httpcore.AsyncNetworkBackend):
    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            async with asyncio.timeout(timeout):
                reader, writer = await asyncio.open_connection(
                    host, port, local_addr=(local_address, 0) if local_address else None
                )
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"no connection to {host}:{port} in time") from None
        except OSError as exc:
            raise httpcore.ConnectError(str(exc) or type(exc).__name__) from exc
        sock: socket.socket | None = writer.get_extra_info("socket")
        if sock is not None:
            for option in socket_options or ():
                sock.setsockopt(*option)
        return _Stream(reader, writer)

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("unix sockets go through httpx's own transport")

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


def service_transport(base_url: str, limits: httpx.Limits) -> httpx.AsyncBaseTransport | None:
    """The transport for calls to `base_url`; None (httpx's default) unless it is plain http."""
    if httpx.URL(base_url).scheme != "http":
        return None
    transport = httpx.AsyncHTTPTransport(limits=limits)
    # httpx takes no network backend of its own; its pool does (httpcore's public API).
    transport._pool = httpcore.AsyncConnectionPool(
        max_connections=limits.max_connections,
        max_keepalive_connections=limits.max_keepalive_connections,
        keepalive_expiry=limits.keepalive_expiry,
        network_backend=_Backend(),
    )
    return transport
