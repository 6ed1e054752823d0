"""The peer: OpenSanctions' nomenklatura matchers on followthemoney entities built from the
same list rows. Runs ONLY in the benchmark's own venv (.cache/bench-venv), never imported by
the project.

    python peer.py WORK_DIR ALGORITHM   # reads entities.json + queries.json, writes peer-ALGORITHM.json

One algorithm a process: logic-v1 leaves name analysis cached in the process that
logic-v2 then misreads (it scores nearly everything 0 after logic-v1 ran).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from followthemoney import model
from nomenklatura.matching import get_algorithm
from nomenklatura.matching.types import ScoringConfig

SCHEMAS = {"individual": "Person", "entity": "Organization", "vessel": "Vessel", "aircraft": "Airplane"}


def proxy(entity_id: str, entity_type: str, props: dict[str, list[str]]) -> Any:
    schema = model.get(SCHEMAS.get(entity_type, "Organization"))
    assert schema is not None
    e = model.make_entity(schema)
    e.id = entity_id
    for prop, values in props.items():
        if prop in schema.properties:
            for value in values:
                e.add(prop, value, quiet=True, cleaned=False)
    return e


def listed_props(row: dict[str, Any]) -> dict[str, list[str]]:
    return {
        "name": [row["name"]],
        "alias": row["aliases"],
        "birthDate": row["birth_dates"],
        "nationality": row["nationalities"],
        "country": row["countries"],
        "flag": row["countries"] if row["type"] == "vessel" else [],
        "idNumber": row["ids"],
        "passportNumber": row["ids"] if row["type"] == "individual" else [],
        "registrationNumber": row["ids"] if row["type"] != "individual" else [],
        "imoNumber": row["imo"],
    }


def query_props(q: dict[str, Any]) -> dict[str, list[str]]:
    """The query's name and the identifiers it carries, in the listed rows' properties."""
    ids = q.get("identifiers", {})
    birth = ids.get("date_of_birth") or (str(ids["birth_year"]) if ids.get("birth_year") else None)
    country = [ids["country"]] if ids.get("country") else []
    numbers = ids.get("id_numbers", [])
    return listed_props(
        {
            "name": q["name"],
            "aliases": [],
            "birth_dates": [birth] if birth else [],
            "nationalities": country if q["schema_type"] == "individual" else [],
            "countries": country,
            "ids": numbers,
            "imo": [ids["imo"]] if ids.get("imo") else [],
            "type": q["schema_type"],
        }
    )


def main() -> None:
    work, algo_name = Path(sys.argv[1]), sys.argv[2]
    rows = json.loads((work / "entities.json").read_text())
    queries = json.loads((work / "queries.json").read_text())
    config = ScoringConfig.defaults()
    algo = get_algorithm(algo_name)
    if algo is None:
        raise SystemExit(f"nomenklatura has no algorithm {algo_name}")
    entities = {row["id"]: proxy(row["id"], row["type"], listed_props(row)) for row in rows}
    out = []
    for q in queries:
        query = proxy("query", q["schema_type"], {"name": [q["name"]]})
        started = time.perf_counter()
        scores = [(cid, algo.compare(query, entities[cid], config).score) for cid in q["candidates"]]
        elapsed = time.perf_counter() - started
        scores.sort(key=lambda s: -s[1])
        # The same candidates with the query's identifiers: its top-1 when two parties share a name.
        with_ids = proxy("query", q["schema_type"], query_props(q))
        scores_ids = [(cid, algo.compare(with_ids, entities[cid], config).score) for cid in q["candidates"]]
        scores_ids.sort(key=lambda s: -s[1])
        out.append({"scores": scores[:10], "scores_ids": scores_ids[:10], "seconds": elapsed})
    (work / f"peer-{algo_name}.json").write_text(json.dumps(out))


if __name__ == "__main__":
    main()
