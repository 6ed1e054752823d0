"""Screening quality on the real (bundled) list, and the check-sanctions/search API."""

from __future__ import annotations

import random

import pytest
from ofac.index import Filters, ScreeningIndex
from ofac.main import OfacSettings, create_app
from ofac.names import reorder_individual
from paykit.testing import running_app

BLOCK = 0.92
REVIEW = 0.85

# (query, listed entity): primary names and aliases, in other orders, casings, spellings.
LISTED = [
    ("Manuel Antonio Noriega", "1572"),
    ("NORIEGA, Manuel Antonio", "1572"),
    ("manuel antonio noriega", "1572"),
    ("Manuel Antonio Norega", "1572"),
    ("Nicolás Maduro Moros", "22790"),
    ("Maduro Moros Nicolas", "22790"),
    ("Osama bin Laden", "6365"),
    ("Usama Bin Ladin", "6365"),
    ("National Bank of Cuba", "306"),
    ("Banco Nacional de Cuba S.A.", "306"),
    ("Bashar al-Assad", "12735"),
    ("Joaquin Guzman Loera", "6861"),
    ("Joaquín Guzmán Loera", "6861"),
    ("Aerocaribbean Airlines", "36"),
    ("aero caribbean", "36"),
]
ORDINARY = [
    "John Smith", "Jane Doe", "Robert Johnson", "Michael Brown", "David Lee", "Emily Davis",
    "Sarah Wilson", "James Taylor", "Linda Martinez", "William Anderson", "Olivia Thomas",
    "Sophie Müller", "Lukas Schmidt", "Pierre Dubois", "Marie Laurent", "Giulia Rossi",
    "Hiroshi Tanaka", "Priya Sharma", "Anna Petrova", "Jan Kowalski", "Emma Johansson",
    "Liam O'Connor", "Chloe Martin", "Noah Williams", "Acme Widgets Inc", "Blue Harbor Bakery LLC",
]  # fmt: skip


@pytest.mark.parametrize(("query", "entity_id"), LISTED)
def test_listed_names_are_found_with_high_scores(
    full_index: ScreeningIndex, query: str, entity_id: str
) -> None:
    matches = full_index.search(query, limit=5, min_score=0.5)
    assert matches, query
    assert matches[0].entity.entity_id == entity_id
    assert matches[0].score >= BLOCK


def test_a_sample_of_the_whole_list_finds_itself(full_index: ScreeningIndex) -> None:
    rng = random.Random(7)
    sample = rng.sample(full_index.entities, 300)
    missed = []
    for entity in sample:
        query = reorder_individual(entity.name) if entity.entity_type == "individual" else entity.name
        best = full_index.search(query.lower(), limit=50, min_score=BLOCK)
        if entity.entity_id not in {m.entity.entity_id for m in best}:
            missed.append(entity.name)
    assert missed == []


def test_aliases_are_scored_like_primary_names(full_index: ScreeningIndex) -> None:
    rng = random.Random(11)
    with_aliases = [e for e in full_index.entities if e.aliases]
    for entity in rng.sample(with_aliases, 100):
        alias = entity.aliases[0].name
        best = full_index.search(alias, limit=50, min_score=BLOCK)
        assert entity.entity_id in {m.entity.entity_id for m in best}, alias


@pytest.mark.parametrize("name", ORDINARY)
def test_ordinary_names_are_not_blocked(full_index: ScreeningIndex, name: str) -> None:
    matches = full_index.search(name, limit=1, min_score=0.0)
    assert not matches or matches[0].score < BLOCK, (name, matches[0])


def test_filters_narrow_the_search(full_index: ScreeningIndex) -> None:
    def ids(filters: Filters) -> set[str]:
        return {
            m.entity.entity_id for m in full_index.search("Noriega", limit=50, min_score=0.5, filters=filters)
        }

    everyone = ids(Filters())
    assert {"1572", "28307"} <= everyone
    in_panama = ids(Filters.build("PA", None, None))
    assert "1572" in in_panama
    assert "28307" not in in_panama
    assert in_panama == ids(Filters.build("Panama", None, None))
    assert "1572" in ids(Filters.build("PA", "individual", "CUBA"))
    assert "1572" not in ids(Filters.build("VE", None, None))
    assert "1572" not in ids(Filters.build(None, "vessel", None))
    assert "1572" not in ids(Filters.build(None, None, "SDGT"))


async def test_check_sanctions_blocks_a_listed_customer(settings: OfacSettings) -> None:
    async with running_app(create_app(settings)) as client:
        body = {"customer_id": "cust_003", "name": "Manuel Antonio Noriega", "country": "PA"}
        response = await client.post("/check-sanctions", json=body)
        assert response.status_code == 200, response.text
        result = response.json()
        assert result["is_sanctioned"] is True
        assert result["review"] is False
        assert result["list_version"].startswith("sdn-2021-07-")
        top = result["matches"][0]
        assert top["entity_id"] == "1572"
        assert top["name"] == "NORIEGA, Manuel Antonio"
        assert top["score"] >= BLOCK
        assert top["type"] == "individual"
        assert top["programs"] == ["CUBA"]
        assert top["list"] == "OFAC_SDN"


@pytest.mark.parametrize("name", ["John Smith", "Jane Doe"])
async def test_check_sanctions_clears_the_sample_customers(settings: OfacSettings, name: str) -> None:
    async with running_app(create_app(settings)) as client:
        response = await client.post("/check-sanctions", json={"customer_id": "cust_001", "name": name})
        result = response.json()
        assert (result["is_sanctioned"], result["review"], result["matches"]) == (False, False, [])


async def test_a_partial_name_goes_to_review(settings: OfacSettings) -> None:
    async with running_app(create_app(settings)) as client:
        result = (await client.post("/check-sanctions", json={"name": "Manuel Noriega"})).json()
        assert (result["is_sanctioned"], result["review"]) == (False, True)
        assert result["matches"][0]["score"] >= REVIEW
        assert result["matches"][0]["band"] == "REVIEW"  # a name alone, however close, never blocks


@pytest.mark.parametrize("customer_id", ["BLOCKED_CUSTOMER_001", "SANCTIONED_ENTITY_002"])
async def test_seed_blocklist_stays_blocked(settings: OfacSettings, customer_id: str) -> None:
    async with running_app(create_app(settings)) as client:
        result = (await client.post("/check-sanctions", json={"customer_id": customer_id})).json()
        assert result["is_sanctioned"] is True
        assert result["matches"][0]["list"] == "INTERNAL_BLOCKLIST"


async def test_thresholds_come_from_settings(settings: OfacSettings) -> None:
    strict = settings.model_copy(update={"ofac_block_threshold": 0.98, "ofac_review_threshold": 0.96})
    async with running_app(create_app(strict)) as client:
        result = (await client.post("/check-sanctions", json={"name": "Manuel Noriega"})).json()
        assert (result["is_sanctioned"], result["review"], result["matches"]) == (False, False, [])
        assert result["thresholds"] == {"block": 0.98, "review": 0.96}


async def test_search_api_and_its_limits(settings: OfacSettings) -> None:
    async with running_app(create_app(settings)) as client:
        response = await client.get("/search", params={"name": "maduro", "limit": 3, "min_score": 0.5})
        assert response.status_code == 200
        body = response.json()
        assert len(body["matches"]) == 3
        assert body["list_version"].startswith("sdn-2021-07-")
        filtered = await client.get(
            "/search",
            params={"name": "noriega", "country": "PA", "type": "individual", "min_score": 0.5},
        )
        found = {m["entity_id"] for m in filtered.json()["matches"]}
        assert "1572" in found
        assert "28307" not in found  # NORIEGA FIGUEROA, Venezuela
        too_many = await client.get("/search", params={"name": "maduro", "limit": 1000})
        assert too_many.status_code == 422
        assert too_many.headers["content-type"].startswith("application/problem+json")
        long_name = await client.post("/check-sanctions", json={"name": "x" * 500})
        assert long_name.status_code == 422
