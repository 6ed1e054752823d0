"""Reloading the list: protected, atomic, versioned, and harmless under screening load."""

from __future__ import annotations

import asyncio

import httpx
import pytest
import redis
from ofac.main import BUNDLED_LIST, OfacSettings, create_app
from paykit.marks import SANCTIONS_LISTS, ChangeMarks
from paykit.testing import production_identity, running_app
from redis.asyncio import Redis

from .conftest import ADMIN_TOKEN, SUBSET_LIST

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
LIST_URL = "https://lists.example.test/exports"
NORIEGA = {"customer_id": "cust_003", "name": "Manuel Antonio Noriega", "country": "PA"}


@pytest.fixture
def settings(settings: OfacSettings) -> OfacSettings:
    """A reload names only places the operator configured; these tests use these."""
    allowed = [LIST_URL, str(BUNDLED_LIST), "https://lists.example.test/missing", "/nonexistent/dir"]
    return settings.model_copy(update={"ofac_reload_sources": allowed})


def subset_server() -> httpx.MockTransport:
    """Serves the small watchman list as OFAC's export endpoint would."""

    def handle(request: httpx.Request) -> httpx.Response:
        name = request.url.path.rsplit("/", 1)[-1]
        path = SUBSET_LIST / name
        if request.url.path.startswith("/exports/") and path.is_file():
            return httpx.Response(200, content=path.read_bytes())
        return httpx.Response(404)

    return httpx.MockTransport(handle)


async def test_reload_needs_the_admin_token(settings: OfacSettings) -> None:
    async with running_app(create_app(settings)) as client:
        missing = await client.post("/admin/lists/reload")
        wrong = await client.post("/admin/lists/reload", headers={"Authorization": "Bearer nope"})
        assert (missing.status_code, wrong.status_code) == (401, 401)
        assert missing.json()["code"] == "ADMIN_TOKEN_REQUIRED"


async def test_reloading_the_same_list_keeps_version_and_results(settings: OfacSettings) -> None:
    async with running_app(create_app(settings)) as client:
        before = (await client.post("/check-sanctions", json=NORIEGA)).json()
        reload = await client.post("/admin/lists/reload", headers=AUTH)
        assert reload.status_code == 200, reload.text
        assert reload.json()["changed"] is False
        after = (await client.post("/check-sanctions", json=NORIEGA)).json()
        assert after["list_version"] == before["list_version"] == reload.json()["list_version"]
        assert after["matches"] == before["matches"]
        assert after["is_sanctioned"] is True


def shrink_allowed(settings: OfacSettings) -> OfacSettings:
    """These tests swap the full list for the 17-party subset on purpose."""
    return settings.model_copy(update={"ofac_list_shrink_max": 0.999})


async def test_reload_from_a_url_and_back(settings: OfacSettings) -> None:
    async with running_app(create_app(shrink_allowed(settings), list_transport=subset_server())) as client:
        full_version = (await client.get("/lists/current")).json()["list_version"]
        reload = await client.post("/admin/lists/reload", headers=AUTH, json={"source": LIST_URL})
        assert reload.status_code == 200, reload.text
        assert reload.json()["entities"] == 17
        assert reload.json()["previous_version"] == full_version
        result = (await client.post("/check-sanctions", json={"name": "Dmitry Khoroshev"})).json()
        assert result["list_version"] == reload.json()["list_version"] != full_version
        assert result["matches"][0]["entity_id"] == "48603"
        # Noriega is not on the small list.
        assert (await client.post("/check-sanctions", json=NORIEGA)).json()["is_sanctioned"] is False
        back = await client.post("/admin/lists/reload", headers=AUTH, json={"source": str(BUNDLED_LIST)})
        assert back.json()["list_version"] == full_version


@pytest.mark.parametrize(
    ("source", "code"),
    [
        ("https://lists.example.test/missing", "LIST_SOURCE_INVALID"),
        ("/nonexistent/dir", "LIST_SOURCE_INVALID"),
    ],
)
async def test_a_bad_source_changes_nothing(settings: OfacSettings, source: str, code: str) -> None:
    async with running_app(create_app(settings, list_transport=subset_server())) as client:
        version = (await client.get("/lists/current")).json()["list_version"]
        response = await client.post("/admin/lists/reload", headers=AUTH, json={"source": source})
        assert response.status_code == 422
        assert response.json()["code"] == code
        assert (await client.get("/lists/current")).json()["list_version"] == version
        assert (await client.post("/check-sanctions", json=NORIEGA)).json()["is_sanctioned"] is True


async def test_reloads_during_screening_load_never_mix_lists(settings: OfacSettings) -> None:
    async with running_app(create_app(shrink_allowed(settings), list_transport=subset_server())) as client:
        full_version = (await client.get("/lists/current")).json()["list_version"]
        results: list[httpx.Response] = []

        async def screen(count: int) -> None:
            for _ in range(count):
                results.append(await client.post("/check-sanctions", json=NORIEGA))
                await asyncio.sleep(0)

        async def reload(count: int) -> list[httpx.Response]:
            answers = []
            for i in range(count):
                source = LIST_URL if i % 2 == 0 else str(BUNDLED_LIST)
                answers.append(
                    await client.post("/admin/lists/reload", headers=AUTH, json={"source": source})
                )
            return answers

        *_, reloads = await asyncio.gather(screen(60), screen(60), screen(60), reload(6))
        assert all(r.status_code == 200 for r in reloads)
        subset_version = reloads[0].json()["list_version"]
        assert all(r.status_code == 200 for r in results)
        seen = {r.json()["list_version"] for r in results}
        assert seen == {full_version, subset_version}  # screenings really ran across reloads
        for r in results:
            body = r.json()
            # A result is wholly from one list: sanctioned with Noriega's entry on the full
            # list, clear with no entry on the small one.
            on_full = body["list_version"] == full_version
            assert body["is_sanctioned"] is on_full
            assert [m["entity_id"] for m in body["matches"]][:1] == (["1572"] if on_full else [])


async def test_a_list_that_shrank_suspiciously_is_refused(settings: OfacSettings) -> None:
    async with running_app(create_app(settings, list_transport=subset_server())) as client:
        before = (await client.get("/lists/current")).json()
        response = await client.post("/admin/lists/reload", headers=AUTH, json={"source": LIST_URL})
        assert response.status_code == 422
        assert response.json()["code"] == "LIST_SHRANK"
        after = (await client.get("/lists/current")).json()
        assert (after["list_version"], after["entities"]) == (before["list_version"], before["entities"])
        assert after["lists"][0]["last_error"].startswith("OFAC_SDN shrank from 8976 to 17")
        assert (await client.post("/check-sanctions", json=NORIEGA)).json()["is_sanctioned"] is True


def test_production_refuses_the_placeholder_admin_token() -> None:
    strong = "a-real-secret-that-is-long-enough"
    with pytest.raises(ValueError, match="OFAC_ADMIN_TOKEN"):
        OfacSettings(app_env="production", jwt_secret=strong)
    OfacSettings(app_env="production", jwt_secret=strong, ofac_admin_token=strong, ofac_list_source=LIST_URL)


@pytest.mark.parametrize(
    ("source", "code"),
    [
        ("https://attacker.example/exports", "LIST_SOURCE_NOT_CONFIGURED"),
        ("/etc", "LIST_SOURCE_NOT_CONFIGURED"),
        ("http://lists.example.test/exports", "LIST_SOURCE_INSECURE"),
    ],
)
async def test_a_reload_takes_only_a_configured_https_source(
    settings: OfacSettings, source: str, code: str
) -> None:
    configured = settings.model_copy(
        update={"ofac_reload_sources": [*settings.ofac_reload_sources, "http://lists.example.test/exports"]}
    )
    async with running_app(create_app(configured, list_transport=subset_server())) as client:
        version = (await client.get("/lists/current")).json()["list_version"]
        response = await client.post("/admin/lists/reload", headers=AUTH, json={"source": source})
        assert response.status_code == 422 and response.json()["code"] == code, response.text
        assert (await client.get("/lists/current")).json()["list_version"] == version


def test_production_needs_a_list_source_or_an_explicit_opt_in(caplog: pytest.LogCaptureFixture) -> None:
    strong = "a-real-secret-that-is-long-enough"
    with pytest.raises(ValueError, match="OFAC_LIST_SOURCE"):
        OfacSettings(app_env="production", ofac_admin_token=strong)
    with pytest.raises(ValueError, match="HTTPS"):
        OfacSettings(
            app_env="production", ofac_admin_token=strong, ofac_list_source="http://lists.example.test/x"
        )
    opted_in = OfacSettings(
        app_env="production",
        ofac_admin_token=strong,
        ofac_allow_bundled_list=True,
        **production_identity("ofac"),
    )
    with caplog.at_level("WARNING"):
        create_app(opted_in)
    assert any("bundled" in r.getMessage() for r in caplog.records), "the opt-in is logged"


async def _lists_mark(redis_url: str) -> bytes:
    async with Redis.from_url(redis_url, socket_timeout=2) as client:
        marks = await ChangeMarks(client).read([SANCTIONS_LISTS])
    assert marks is not None
    return marks[SANCTIONS_LISTS]


async def test_every_load_renews_the_lists_mark_risk_keeps_screenings_under(
    settings: OfacSettings, redis_url: str
) -> None:
    before_start = await _lists_mark(redis_url)
    app = create_app(
        shrink_allowed(settings.model_copy(update={"redis_url": redis_url})), list_transport=subset_server()
    )
    async with running_app(app) as client:
        # The first load too: risk may keep screenings from this service's previous run.
        started = await _lists_mark(redis_url)
        assert started != before_start
        reload = await client.post("/admin/lists/reload", headers=AUTH, json={"source": LIST_URL})
        assert reload.status_code == 200, reload.text
        assert await _lists_mark(redis_url) != started


async def test_a_reload_that_cannot_be_announced_changes_nothing(
    settings: OfacSettings, redis_url: str
) -> None:
    admin = redis.Redis.from_url(redis_url)
    user = {"enabled": True, "passwords": ["+pw"], "keys": ["*"]}
    admin.acl_setuser("ofac_marks", **user, commands=["+@all"])
    url = redis_url.replace("redis://", "redis://ofac_marks:pw@", 1)
    app = create_app(
        shrink_allowed(settings.model_copy(update={"redis_url": url})), list_transport=subset_server()
    )
    try:
        async with running_app(app) as client:
            version = (await client.get("/lists/current")).json()["list_version"]
            # From now on this Redis refuses ofac's writes.
            admin.acl_setuser("ofac_marks", **user, commands=["+@all", "-set"], reset=True)
            refused = await client.post("/admin/lists/reload", headers=AUTH, json={"source": LIST_URL})
            assert refused.status_code == 503, refused.text
            assert refused.json()["code"] == "LIST_CHANGE_UNAVAILABLE"
            assert refused.headers["retry-after"] == "1"
            assert (await client.get("/lists/current")).json()["list_version"] == version
            assert (await client.post("/check-sanctions", json=NORIEGA)).json()["is_sanctioned"] is True
    finally:
        admin.acl_deluser("ofac_marks")
        admin.close()
