"""Change marks on a real Redis: a renewed mark differs from the one read before, a missing
mark is created once and then read the same by everyone, and a Redis that cannot answer
gives no marks (the keeper asks) or refuses the renewal (the owner does not change)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import redis
from paykit.marks import ChangeMarks, MarksUnavailable, kyc_status
from redis.asyncio import Redis


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[Redis]:
    async with Redis.from_url(redis_url, socket_timeout=2) as connection:
        yield connection


async def test_a_renewed_mark_is_not_the_one_read_before(client: Redis) -> None:
    marks = ChangeMarks(client)
    name = kyc_status("cust_001")
    before = await marks.read([name])
    assert before is not None
    assert await marks.read([name]) == before
    await marks.renew(name)
    after = await marks.read([name])
    assert after is not None and after[name] != before[name]


async def test_a_missing_mark_is_created_once_for_every_reader(client: Redis) -> None:
    first, second = ChangeMarks(client), ChangeMarks(client)
    names = [kyc_status("cust_a"), kyc_status("cust_b")]
    seen = await first.read(names)
    assert seen is not None and set(seen) == set(names)
    assert await second.read(names) == seen
    # A mark that is lost (expired, or a Redis restarted empty) comes back as a new one.
    await client.delete(names[0])
    again = await second.read(names)
    assert again is not None and again[names[0]] != seen[names[0]] and again[names[1]] == seen[names[1]]


async def test_marks_expire(client: Redis) -> None:
    marks = ChangeMarks(client, ttl_s=60)
    await marks.renew(kyc_status("cust_c"))
    assert 0 < await client.ttl(kyc_status("cust_c")) <= 60


async def test_an_unreachable_redis_gives_no_marks_and_refuses_renewals() -> None:
    async with Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.5) as nowhere:
        marks = ChangeMarks(nowhere)
        assert await marks.read([kyc_status("cust_001")]) is None
        with pytest.raises(MarksUnavailable):
            await marks.renew(kyc_status("cust_001"))
        assert await marks.renew_after(kyc_status("cust_001")) is False


async def test_a_redis_that_refuses_writes_refuses_renewals(redis_url: str) -> None:
    admin = redis.Redis.from_url(redis_url)
    admin.acl_setuser(
        "marks_read_only", enabled=True, passwords=["+pw"], keys=["*"], commands=["+@all", "-set"]
    )
    try:
        url = redis_url.replace("redis://", "redis://marks_read_only:pw@", 1)
        async with Redis.from_url(url, socket_timeout=2) as read_only:
            with pytest.raises(MarksUnavailable):
                await ChangeMarks(read_only).renew(kyc_status("cust_001"))
    finally:
        admin.acl_deluser("marks_read_only")
        admin.close()
