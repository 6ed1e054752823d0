"""The services behind the gateway. Their answers are passed through unchanged (status,
problem+json body, replay and retry headers); only an unreachable service becomes a 503."""

from __future__ import annotations

from typing import Any

import httpx
from paykit import deadline
from paykit.context import CORRELATION_HEADER, IDEMPOTENCY_HEADER, current_correlation_id
from paykit.errors import ProblemError
from paykit.http import KEEPALIVE_S, CookielessClient, cached_url, service_transport
from paykit.identity import ServiceIdentity
from paykit.telemetry import inject_headers

PASSED_HEADERS = ("content-type", "idempotent-replayed", "retry-after", "x-correlation-id")


class Upstream:
    def __init__(
        self,
        name: str,
        base_url: str,
        timeout_s: float,
        transport: httpx.AsyncBaseTransport | None,
        identity: ServiceIdentity,
    ) -> None:
        self.name = name
        self._timeout_s = timeout_s
        self.identity = identity
        # Idle connections go before the callee's 5 s keep-alive closes them (as ServiceClient's).
        limits = httpx.Limits(max_connections=100, max_keepalive_connections=20, keepalive_expiry=KEEPALIVE_S)
        # No cookie jar: a Set-Cookie from a service is never sent on for the next customer,
        # and reading it costs a quarter of httpx's own work per call (paykit.http).
        self._client = CookielessClient(
            base_url=base_url,
            timeout=httpx.Timeout(timeout_s, connect=2.0),
            transport=transport or service_transport(base_url, limits),
            limits=limits,
        )
        self._urls: dict[str, httpx.URL] = {}

    async def aclose(self) -> None:
        await self._client.aclose()

    async def alive(self, timeout_s: float = 2.0) -> bool:
        try:
            return (await self._client.get("/health", timeout=timeout_s)).status_code == 200
        except httpx.HTTPError:
            return False

    async def forward(
        self,
        method: str,
        path: str,
        *,
        customer_id: str,
        roles: tuple[str, ...] = (),
        json: Any = None,
        params: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> httpx.Response:
        if deadline.expired():
            raise _retry_later("DEADLINE_EXCEEDED", "The request's deadline passed; nothing was sent on")
        # The customer (and their roles) travel inside our signed token, never as a bare header.
        token = self.identity.token(self.name, subject=customer_id, roles=roles)
        headers = {
            "Authorization": f"Bearer {token}",
            CORRELATION_HEADER: current_correlation_id(),
            **deadline.outgoing_headers(),
        }
        if idempotency_key:
            headers[IDEMPOTENCY_HEADER] = idempotency_key
        inject_headers(headers)
        timeout = deadline.cap_timeout_s(self._timeout_s)
        try:
            return await self._client.call(
                method,
                cached_url(self._urls, self._client.base_url, path),
                json=json,
                params=params,
                headers=headers,
                timeout_s=timeout,
            )
        except httpx.TimeoutException:
            # 503, not 504: the answer the fleet gives when it cannot serve in time. A money
            # call's outcome is then unknown; the same Idempotency-Key on a retry learns it.
            raise _retry_later(
                "UPSTREAM_TIMEOUT",
                f"The {self.name} service did not answer in time; retry with the same Idempotency-Key",
            ) from None
        except httpx.TransportError:
            raise ProblemError(
                503, "SERVICE_UNAVAILABLE", f"The {self.name} service is currently unavailable"
            ) from None


def _retry_later(code: str, detail: str) -> ProblemError:
    return ProblemError(503, code, detail, headers={"Retry-After": "1"})


def passed_headers(response: httpx.Response) -> dict[str, str]:
    return {k: v for k, v in response.headers.items() if k.lower() in PASSED_HEADERS}
