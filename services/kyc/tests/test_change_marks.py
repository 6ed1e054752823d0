"""Risk keeps customers' KYC statuses between payments while their change mark stands
(paykit.marks): every kind of status change renews that customer's mark, and a change whose
mark cannot be written is refused with a 503 instead of being made unseen."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
import redis
from kyc.main import KycSettings, create_app
from paykit.marks import ChangeMarks, kyc_status
from paykit.testing import running_app
from redis.asyncio import Redis

from .conftest import REVIEWER
from .test_verification import body, status

HIT = {
    "list_name": "SDN",
    "list_version": "sdn-2",
    "screened_name": "John Smith",
    "matches": [{"entity_id": "e-1", "name": "SMITH, John", "score": 0.95, "band": "BLOCK"}],
}


@pytest.fixture
async def marks(redis_url: str) -> AsyncIterator[ChangeMarks]:
    async with Redis.from_url(redis_url, socket_timeout=2) as client:
        yield ChangeMarks(client)


async def _mark(marks: ChangeMarks, customer_id: str) -> bytes:
    read = await marks.read([kyc_status(customer_id)])
    assert read is not None
    return read[kyc_status(customer_id)]


async def test_every_status_change_renews_the_customers_mark_and_only_theirs(
    client: httpx.AsyncClient, marks: ChangeMarks
) -> None:
    other = await _mark(marks, "cust_other")
    seen = [await _mark(marks, "cust_m")]
    changes = [
        ("/customers/cust_m/verification", body(), {}),
        ("/customers/cust_m/sanctions-hits", HIT, {}),
        ("/customers/cust_m/review/reject", {"reviewer": "ann", "note": "listed"}, REVIEWER),
        ("/customers/cust_m/review/approve", {"reviewer": "bob", "note": "not them"}, REVIEWER),
    ]
    for path, payload, headers in changes:
        response = await client.post(path, json=payload, headers=headers)
        assert response.status_code == 200, response.text
        seen.append(await _mark(marks, "cust_m"))
    assert len(set(seen)) == len(seen), "a status change left the mark risk keeps its answer under"
    assert await _mark(marks, "cust_other") == other


async def test_a_change_that_cannot_be_announced_is_not_made(settings: KycSettings, redis_url: str) -> None:
    admin = redis.Redis.from_url(redis_url)
    admin.acl_setuser(
        "kyc_no_writes", enabled=True, passwords=["+pw"], keys=["*"], commands=["+@all", "-set"]
    )
    no_writes = settings.model_copy(
        update={"redis_url": redis_url.replace("redis://", "redis://kyc_no_writes:pw@")}
    )
    try:
        async with running_app(create_app(no_writes)) as client:
            before = await status(client, "cust_h")
            refused = await client.post("/customers/cust_h/sanctions-hits", json=HIT)
            assert refused.status_code == 503, refused.text
            assert refused.json()["code"] == "KYC_CHANGE_UNAVAILABLE"
            assert refused.headers["retry-after"] == "1"
            assert refused.headers["content-type"].startswith("application/problem+json")
            assert await status(client, "cust_h") == before
            hits = await client.get("/customers/cust_h/sanctions-hits", headers=REVIEWER)
            assert hits.json()["hits"] == []
            # Reads need no marks: the status is still answered.
            assert (
                await client.post("/check-statuses", json={"customer_ids": ["cust_h"]})
            ).status_code == 200
    finally:
        admin.acl_deluser("kyc_no_writes")
        admin.close()


class _ReadsMarkDuringScreening(httpx.AsyncBaseTransport):
    """The real ofac behind kyc; while kyc waits for its screening (after the PENDING status
    committed), reads the customer's mark as risk would."""

    def __init__(self, ofac: httpx.AsyncBaseTransport, marks: ChangeMarks, customer_id: str) -> None:
        self.ofac, self.marks, self.customer_id = ofac, marks, customer_id
        self.seen: list[bytes] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(await _mark(self.marks, self.customer_id))
        return await self.ofac.handle_async_request(request)


async def test_a_mark_read_while_a_change_is_under_way_is_renewed_once_it_is_made(
    settings: KycSettings, ofac_transport: httpx.ASGITransport, marks: ChangeMarks
) -> None:
    spy = _ReadsMarkDuringScreening(ofac_transport, marks, "cust_w")
    async with running_app(create_app(settings, ofac_transport=spy)) as client:
        response = await client.post("/customers/cust_w/verification", json=body())
        assert response.status_code == 200 and response.json()["status"] == "VERIFIED", response.text
    [during] = spy.seen
    # An answer risk read then (PENDING) must not outlive the VERIFIED status.
    assert await _mark(marks, "cust_w") != during
