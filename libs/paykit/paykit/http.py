"""The inter-service HTTP client.

Every call has an explicit timeout (never longer than what is left of the request's
deadline, which travels on as `X-Request-Timeout-Ms`), carries the trace context,
correlation id and (when given) the idempotency key, is retried a bounded number of times
only when it is idempotent, and goes through a per-service circuit breaker so a sick dependency fails fast.

Error tree:
    ServiceCallError            the call could not produce an answer we can use
      ServiceUnavailable        connection refused, circuit open, 5xx after the retries, or
                                the request's deadline passed before the call was sent
      ServiceTimeout            no answer in time: the outcome is UNKNOWN for non-idempotent calls
    (4xx answers are returned to the caller as responses: they are decisions, not faults)
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from typing import Any

import httpx
from purgatory import AsyncCircuitBreakerFactory
from purgatory.domain.model import OpenedState
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential_jitter

from . import deadline
from ._transport import service_transport
from .context import CORRELATION_HEADER, IDEMPOTENCY_HEADER, current_correlation_id
from .identity import ServiceIdentity
from .telemetry import inject_headers

__all__ = (
    "KEEPALIVE_S",
    "CookielessClient",
    "ServiceCallError",
    "ServiceClient",
    "ServiceTimeout",
    "ServiceUnavailable",
    "cached_url",
    "service_transport",  # the gateway forwards with a CookielessClient on this transport
)

log = logging.getLogger("paykit.http")


class ServiceCallError(Exception):
    def __init__(self, service: str, message: str) -> None:
        super().__init__(f"{service}: {message}")
        self.service = service


class ServiceUnavailable(ServiceCallError):
    pass


class ServiceTimeout(ServiceCallError):
    pass


class _RetryableStatus(Exception):
    def __init__(self, response: httpx.Response) -> None:
        super().__init__(f"status {response.status_code}")
        self.response = response


_RETRYABLE_ERRORS = (_RetryableStatus, httpx.ConnectError, httpx.ConnectTimeout, httpx.RemoteProtocolError)
_IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
# A pooled connection is dropped after this long idle: sooner than the callee's keep-alive
# (uvicorn closes idle connections after 5 s), so a call is never sent on a connection the
# callee is closing, which a call that may not be retried would feel as a failure.
KEEPALIVE_S = 4.0
# Merged URLs kept per client: a service calls a handful of fixed paths (and some with ids).
URL_CACHE_SIZE_MAX = 256


def cached_url(cache: dict[str, httpx.URL], base: httpx.URL, path: str) -> httpx.URL:
    """`path` joined to `base` as httpx joins them, parsed once per path and kept in `cache`
    (at most URL_CACHE_SIZE_MAX paths)."""
    url = cache.get(path)
    if url is None:
        relative = httpx.URL(path)
        url = relative
        if relative.is_relative_url:
            url = base.copy_with(raw_path=base.raw_path + relative.raw_path.lstrip(b"/"))
        if len(cache) >= URL_CACHE_SIZE_MAX:
            cache.clear()
        cache[path] = url
    return url


class _NoCookies(httpx.Cookies):
    """Services set no cookies for one another, and reading `Set-Cookie` into a jar (through
    urllib request shims) was about a quarter of httpx's own work per call: skipped."""

    def extract_cookies(self, response: httpx.Response) -> None:
        return None


class CookielessClient(httpx.AsyncClient):
    """An httpx client that keeps no cookie jar: what every service-to-service call uses."""

    _no_cookies = _NoCookies()

    def __init__(self, *, transport: httpx.AsyncBaseTransport | None = None, **kwargs: Any) -> None:
        super().__init__(transport=transport, **kwargs)
        self._direct = transport

    async def call(
        self,
        method: str,
        url: httpx.URL,
        *,
        headers: dict[str, str],
        json: Any = None,
        params: dict[str, Any] | None = None,
        timeout_s: float | None = None,
    ) -> httpx.Response:
        """`request()` for an absolute URL, read whole, straight through the client's transport:
        without httpx's per-call layers (default headers merged, auth and redirect flows,
        event hooks, cookies, stream wrappers) that no service call uses; they were a third
        of a call's client work. httpx's own `request()` when it chose the transport."""
        timeout = self.timeout if timeout_s is None else httpx.Timeout(timeout_s)
        if self._direct is None:
            return await self.request(method, url, headers=headers, json=json, params=params, timeout=timeout)
        request = httpx.Request(
            method, url, params=params, headers=headers, json=json, extensions={"timeout": timeout.as_dict()}
        )
        started = time.perf_counter()
        response = await self._direct.handle_async_request(request)
        response.request = request
        try:
            await response.aread()
        except BaseException:
            await response.aclose()
            raise
        response.elapsed = timedelta(seconds=time.perf_counter() - started)
        return response

    @property
    def cookies(self) -> httpx.Cookies:
        return self._no_cookies

    @cookies.setter
    def cookies(self, cookies: Any) -> None:
        raise TypeError("service calls carry no cookies")


class ServiceClient:
    """A typed service client builds on this: `await self.call("POST", "/holds", json=...)`."""

    def __init__(
        self,
        service: str,
        base_url: str,
        *,
        timeout_s: float = 5.0,
        retries_max: int = 2,
        breaker_threshold: int = 5,
        breaker_ttl_s: float = 15.0,
        transport: httpx.AsyncBaseTransport | None = None,
        identity: ServiceIdentity | None = None,
    ) -> None:
        self.service = service
        # Signs each call as this service for `service` (the audience); None only for
        # callers outside the fleet's identity scheme (none today).
        self.identity = identity
        self.retries_max = retries_max
        self._timeout_s = timeout_s
        limits = httpx.Limits(max_connections=50, max_keepalive_connections=20, keepalive_expiry=KEEPALIVE_S)
        self._client = CookielessClient(
            base_url=base_url,
            timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, 2.0)),
            transport=transport or service_transport(base_url, limits),
            limits=limits,
        )
        self._urls: dict[str, httpx.URL] = {}
        self._breakers = AsyncCircuitBreakerFactory(
            default_threshold=breaker_threshold, default_ttl=breaker_ttl_s
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
        headers: dict[str, str] | None = None,
        timeout_s: float | None = None,
    ) -> httpx.Response:
        """Send one request; returns any 2xx-4xx response, raises ServiceCallError otherwise."""
        retryable = method.upper() in _IDEMPOTENT_METHODS or idempotency_key is not None
        attempts = 1 + (self.retries_max if retryable else 0)
        try:
            if attempts == 1:  # nothing to retry: no retry machinery either
                return await self._send_once(method, path, json, params, idempotency_key, headers, timeout_s)
            async for attempt in AsyncRetrying(
                stop=stop_after_attempt(attempts),
                wait=wait_exponential_jitter(multiplier=0.05, max=1.0),
                # A read timeout is not retried: the server is slow or the outcome is unknown,
                # and piling on more calls helps neither.
                retry=retry_if_exception_type(_RETRYABLE_ERRORS),
                reraise=True,
            ):
                with attempt:
                    return await self._send_once(
                        method, path, json, params, idempotency_key, headers, timeout_s
                    )
        except _RetryableStatus as exc:
            raise ServiceUnavailable(self.service, f"answered {exc.response.status_code}") from None
        except httpx.TimeoutException:
            raise ServiceTimeout(self.service, "timed out") from None
        except httpx.TransportError as exc:
            raise ServiceUnavailable(self.service, f"unreachable ({type(exc).__name__})") from None
        except OpenedState:
            raise ServiceUnavailable(self.service, "circuit open") from None
        raise ServiceUnavailable(self.service, "no attempt made")  # unreachable: tenacity reraises

    def _url(self, path: str) -> httpx.URL:
        """`path` joined to the base URL as httpx joins them, parsed once per path: httpx's URL
        parsing was a quarter of a call's own work once the transport was lean."""
        return cached_url(self._urls, self._client.base_url, path)

    async def _send_once(
        self,
        method: str,
        path: str,
        json: Any,
        params: dict[str, Any] | None,
        idempotency_key: str | None,
        extra_headers: dict[str, str] | None,
        timeout_s: float | None,
    ) -> httpx.Response:
        if deadline.expired():
            # Our caller has given up: sending would only make work nobody waits for.
            raise ServiceUnavailable(self.service, "the request's deadline passed before the call")
        headers = {CORRELATION_HEADER: current_correlation_id(), **deadline.outgoing_headers()}
        if idempotency_key:
            headers[IDEMPOTENCY_HEADER] = idempotency_key
        if self.identity is not None:
            headers["Authorization"] = f"Bearer {self.identity.token(self.service)}"
        headers.update(extra_headers or {})
        inject_headers(headers)
        breaker = await self._breakers.get_breaker(self.service)
        async with breaker:
            capped_s = None
            if timeout_s is not None or deadline.remaining_s() is not None:
                capped_s = deadline.cap_timeout_s(timeout_s if timeout_s is not None else self._timeout_s)
            response = await self._client.call(
                method, self._url(path), headers=headers, json=json, params=params, timeout_s=capped_s
            )
            if response.status_code >= 500:
                # Raising inside the breaker counts the failure against the circuit.
                raise _RetryableStatus(response)
        return response
