"""More than one list, kept current: OFAC SDN and Consolidated (CSV), SDN_ADVANCED XML,
FollowTheMoney JSON; scheduled refresh with atomic swaps; the last good list kept (with its
age on /ready and /metrics) when a download fails."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
from ofac.identifiers import BirthDate
from ofac.listformats import parse_advanced_xml, parse_ftm
from ofac.main import OfacSettings, create_app
from paykit.testing import running_app

from .conftest import SUBSET_LIST

DATA = Path(__file__).resolve().parent / "data"
XML = DATA / "advanced-xml" / "sdn_advanced.xml"
FTM = DATA / "ftm" / "entities.ftm.json"
CONSOLIDATED = DATA / "consolidated"
LIST_URL = "https://lists.example.test/exports"


def test_sdn_advanced_xml_gives_parties_with_their_identifiers() -> None:
    parties = parse_advanced_xml(XML.read_bytes(), source="OFAC_SDN")
    assert set(parties) == {"2676", "9640", "306"}
    zawahiri = parties["2676"]
    assert (zawahiri.name, zawahiri.entity_type) == ("Ayman AL-ZAWAHIRI", "individual")
    assert [a.name for a in zawahiri.aliases] == ["Ahmad Fuad SALIM"]
    assert zawahiri.identity.birth_dates == [BirthDate(1951, 6, 19)]
    assert zawahiri.identity.nationalities == ["Egypt"]
    assert zawahiri.identity.id_numbers == {"1084010"}
    assert zawahiri.programs == ("SDGT",)
    vessel = parties["9640"]
    assert (vessel.entity_type, vessel.identity.id_numbers, vessel.countries) == (
        "vessel",
        {"9187629"},
        ("Iran",),
    )
    assert parties["306"].entity_type == "entity"


def test_followthemoney_entities_become_parties() -> None:
    parties = parse_ftm(FTM.read_bytes(), source="UN_SC")
    assert set(parties) == {"un-sc-qdi-6", "eu-fsf-42", "gb-hmt-7"}  # the Address is not a party
    assert parties["gb-hmt-7"].entity_type == "vessel"
    assert parties["gb-hmt-7"].identity.id_numbers == {"9876543"}
    assert parties["un-sc-qdi-6"].identity.birth_dates == [BirthDate(1951, 6, 19)]
    assert parties["eu-fsf-42"].source == "UN_SC"


def several_lists(settings: OfacSettings) -> OfacSettings:
    return settings.model_copy(
        update={
            "ofac_extra_lists": [
                f"OFAC_CONSOLIDATED=ofac_cons_csv:{CONSOLIDATED}",
                f"OFAC_SDN_XML=ofac_xml:{XML}",
                f"OPENSANCTIONS=ftm:{FTM}",
            ]
        }
    )


async def test_every_list_is_screened_and_each_match_names_its_list_and_version(
    settings: OfacSettings,
) -> None:
    async with running_app(create_app(several_lists(settings))) as client:
        lists = (await client.get("/lists/current")).json()["lists"]
        versions = {entry["list"]: entry["version"] for entry in lists}
        assert set(versions) == {"OFAC_SDN", "OFAC_CONSOLIDATED", "OFAC_SDN_XML", "OPENSANCTIONS"}
        assert all(versions.values())

        gazprom = (
            await client.post("/check-sanctions", json={"name": "Gazprom Neft", "country": "RU"})
        ).json()
        top = gazprom["matches"][0]
        assert (top["entity_id"], top["list"]) == ("18715", "OFAC_CONSOLIDATED")
        assert top["list_version"] == versions["OFAC_CONSOLIDATED"]

        vessel = (
            await client.post("/check-sanctions", json={"name": "Ocean Star", "imo": "IMO 9876543"})
        ).json()
        assert vessel["is_sanctioned"] is True
        assert vessel["matches"][0]["list"] == "OPENSANCTIONS"
        assert "id_number" in vessel["matches"][0]["agreed"]


class FlakyLists:
    """OFAC's export endpoint serving the watchman subset; `down` makes it answer 503."""

    def __init__(self) -> None:
        self.down = False
        self.extra_row = b""

    def transport(self) -> httpx.MockTransport:
        def handle(request: httpx.Request) -> httpx.Response:
            if self.down:
                return httpx.Response(503)
            path = SUBSET_LIST / request.url.path.rsplit("/", 1)[-1]
            if not path.is_file():
                return httpx.Response(404)
            data = path.read_bytes()
            if path.name == "sdn.csv":
                data = data.replace(b"\x1a", b"") + self.extra_row
            return httpx.Response(200, content=data)

        return httpx.MockTransport(handle)


async def test_a_failed_download_keeps_the_last_good_list_and_shows_its_age(settings: OfacSettings) -> None:
    lists = FlakyLists()
    online = settings.model_copy(update={"ofac_list_source": LIST_URL, "ofac_refresh_interval_s": 0})
    app = create_app(online, list_transport=lists.transport())
    async with running_app(app) as client:
        version = (await client.get("/lists/current")).json()["list_version"]
        lists.down = True
        outcome = await app.state.lists.refresh()
        assert outcome["OFAC_SDN"] is not None

        assert (await client.get("/lists/current")).json()["list_version"] == version
        screened = (await client.post("/check-sanctions", json={"name": "Dmitry Khoroshev"})).json()
        assert screened["matches"][0]["entity_id"] == "48603"
        ready = await client.get("/ready")
        assert ready.status_code == 200
        [status] = ready.json()["details"]["sanctions_lists"]
        assert status["version"] == version
        assert status["age_s"] >= 0
        assert "503" in status["last_error"]
        metrics = (await client.get("/metrics")).text
        assert 'ofac_list_age_seconds{list="OFAC_SDN"}' in metrics
        assert 'ofac_list_refresh_failures_total{list="OFAC_SDN"}' in metrics


async def test_a_list_not_confirmed_for_too_long_makes_the_service_unready(settings: OfacSettings) -> None:
    stale = settings.model_copy(update={"ofac_list_stale_after_s": 0.0, "ofac_refresh_interval_s": 0})
    async with running_app(create_app(stale)) as client:
        await asyncio.sleep(0.01)
        ready = await client.get("/ready")
    assert ready.status_code == 503
    assert ready.json()["checks"]["sanctions_list"] == "down"
    assert ready.json()["details"]["sanctions_lists"][0]["age_s"] > 0


async def test_the_scheduled_refresh_swaps_in_a_new_version(settings: OfacSettings) -> None:
    lists = FlakyLists()
    scheduled = settings.model_copy(update={"ofac_list_source": LIST_URL, "ofac_refresh_interval_s": 0.05})
    async with running_app(create_app(scheduled, list_transport=lists.transport())) as client:
        before = (await client.get("/lists/current")).json()
        assert (await client.post("/check-sanctions", json={"name": "Zorbak Quillfeather"})).json()[
            "matches"
        ] == []
        lists.extra_row = (
            b'99001,"QUILLFEATHER, Zorbak",individual,"SDGT",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- \r\n'
        )
        after = before
        for _ in range(200):  # bounded wait for the schedule to pick it up
            await asyncio.sleep(0.05)
            after = (await client.get("/lists/current")).json()
            if after["list_version"] != before["list_version"]:
                break
        assert after["entities"] == before["entities"] + 1
        hit = (await client.post("/check-sanctions", json={"name": "Zorbak Quillfeather"})).json()
        assert hit["matches"][0]["entity_id"] == "99001"
