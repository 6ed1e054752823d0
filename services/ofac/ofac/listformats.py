"""The other list formats: OFAC's current XML (`SDN_ADVANCED.xml`, `CONS_ADVANCED.xml`) and
FollowTheMoney entities as JSON lines (how OpenSanctions publishes the UN, EU and UK lists).
Both become the same `Entity` as the legacy CSV, with the identifiers the matcher uses.

The XML is a normalised document: reference value sets (party types, feature types, ID
document types, countries), locations, ID documents keyed by identity, and the distinct
parties whose aliases are made of name parts. Tags are read without their namespace: OFAC
has published it under more than one.
"""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET
from collections import defaultdict
from typing import Any

from .identifiers import BirthDate, Identity, IdNumber, normalize_id
from .sdnfile import ENTITY_TYPES, Address, Alias, Entity, ListFormatError

FTM_TYPES = {
    "Person": "individual", "Organization": "entity", "Company": "entity", "LegalEntity": "entity",
    "PublicBody": "entity", "Vessel": "vessel", "Airplane": "aircraft",
}  # fmt: skip
FTM_ALIASES = ("alias", "weakAlias", "previousName")
FTM_IDS = (
    "passportNumber", "idNumber", "taxNumber", "registrationNumber", "innCode", "ogrnCode",
    "imoNumber", "mmsi", "leiCode", "swiftBic", "vatCode",
)  # fmt: skip
FTM_LINE_BYTES_MAX = 1024 * 1024
XML_PARTY_TYPES = {"individual": "individual", "entity": "entity", "vessel": "vessel", "aircraft": "aircraft"}


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _children(element: ET.Element, name: str) -> list[ET.Element]:
    return [c for c in element.iter() if _local(c.tag) == name]


def _text(element: ET.Element | None) -> str:
    return (element.text or "").strip() if element is not None else ""


def _reference_values(root: ET.Element) -> dict[str, dict[str, str]]:
    """`PartyType`, `FeatureType`, `IDRegDocType`, `Country`...: id -> text, per set."""
    values: dict[str, dict[str, str]] = defaultdict(dict)
    for rvs in (e for e in root if _local(e.tag) == "ReferenceValueSets"):
        for group in rvs:
            for value in group:
                values[_local(value.tag)][value.get("ID", "")] = _text(value)
    return values


def _sub_types(root: ET.Element, refs: dict[str, dict[str, str]]) -> dict[str, str]:
    """PartySubType id -> individual | entity | vessel | aircraft."""
    out: dict[str, str] = {}
    for sub in _children(root, "PartySubType"):
        name = _text(sub).lower()
        party_type = refs["PartyType"].get(sub.get("PartyTypeID", ""), "").lower()
        kind = XML_PARTY_TYPES.get(name) or XML_PARTY_TYPES.get(party_type, "entity")
        out[sub.get("ID", "")] = kind
    return out


def _locations(root: ET.Element, refs: dict[str, dict[str, str]]) -> dict[str, str]:
    """Location id -> country name."""
    out: dict[str, str] = {}
    for location in _children(root, "Location"):
        for country in _children(location, "LocationCountry"):
            out[location.get("ID", "")] = refs["Country"].get(country.get("CountryID", ""), "")
    return out


def _documents(root: ET.Element, refs: dict[str, dict[str, str]]) -> dict[str, list[IdNumber]]:
    """Identity id -> its ID documents."""
    out: dict[str, list[IdNumber]] = defaultdict(list)
    for doc in _children(root, "IDRegDocument"):
        number = normalize_id(_text(next(iter(_children(doc, "IDRegistrationNo")), None)))
        if number:
            kind = refs["IDRegDocType"].get(doc.get("IDRegDocTypeID", ""), "id").lower()
            out[doc.get("IdentityID", "")].append(IdNumber(kind, number))
    return out


def _programs(root: ET.Element) -> dict[str, tuple[str, ...]]:
    out: dict[str, list[str]] = defaultdict(list)
    for entry in _children(root, "SanctionsEntry"):
        for measure in _children(entry, "SanctionsMeasure"):
            comment = _text(next(iter(_children(measure, "Comment")), None))
            if comment:
                out[entry.get("ProfileID", "")].append(comment)
    return {k: tuple(dict.fromkeys(v)) for k, v in out.items()}


def _alias_name(alias: ET.Element) -> str:
    parts = [_text(v) for v in _children(alias, "NamePartValue") if _text(v)]
    return " ".join(parts)


def _birth_date(feature: ET.Element) -> BirthDate | None:
    start = next(iter(_children(feature, "From")), None)
    if start is None:
        return None
    year = _text(next(iter(_children(start, "Year")), None))
    month = _text(next(iter(_children(start, "Month")), None))
    day = _text(next(iter(_children(start, "Day")), None))
    if not year.isdigit():
        return None
    return BirthDate(int(year), int(month) if month.isdigit() else None, int(day) if day.isdigit() else None)


def _party(
    party: ET.Element,
    refs: dict[str, dict[str, str]],
    sub_types: dict[str, str],
    locations: dict[str, str],
    documents: dict[str, list[IdNumber]],
    programs: dict[str, tuple[str, ...]],
    source: str,
) -> Entity | None:
    profile = next(iter(_children(party, "Profile")), None)
    if profile is None:
        return None
    names: list[tuple[bool, str]] = []
    identity = Identity()
    for ident in _children(profile, "Identity"):
        identity.ids.extend(documents.get(ident.get("ID", ""), []))
        for alias in (a for a in ident if _local(a.tag) == "Alias"):
            name = _alias_name(alias)
            if name:
                names.append((alias.get("Primary") == "true", name))
    if not names:
        return None
    names.sort(key=lambda n: not n[0])
    addresses: list[Address] = []
    for feature in _children(profile, "Feature"):
        feature_type = refs["FeatureType"].get(feature.get("FeatureTypeID", ""), "").lower()
        if feature_type == "birthdate" and (dob := _birth_date(feature)) is not None:
            identity.birth_dates.append(dob)
        country = next(
            (locations.get(v.get("LocationID", ""), "") for v in _children(feature, "VersionLocation")), ""
        )
        if country and ("nationality" in feature_type or "citizenship" in feature_type):
            identity.nationalities.append(country)
        elif country and "location" in feature_type:
            addresses.append(Address("", "", country))
        elif "imo" in feature_type or "mmsi" in feature_type:
            number = normalize_id(" ".join(_text(d) for d in _children(feature, "VersionDetail")))
            if number:
                identity.ids.append(IdNumber("imo" if "imo" in feature_type else "mmsi", number))
    entity_id = party.get("FixedRef") or profile.get("ID") or ""
    entity_type = sub_types.get(profile.get("PartySubTypeID", ""), "entity")
    return Entity(
        entity_id=entity_id,
        name=names[0][1],
        entity_type=entity_type if entity_type in ENTITY_TYPES else "entity",
        programs=programs.get(profile.get("ID", ""), ()),
        addresses=addresses,
        aliases=[Alias("aka", n) for _, n in names[1:]],
        identity=identity,
        source=source,
    )


def parse_advanced_xml(data: bytes, *, source: str) -> dict[str, Entity]:
    """The parties of an OFAC ADVANCED_XML document (SDN or Consolidated)."""
    try:
        root = ET.parse(io.BytesIO(data)).getroot()  # noqa: S314 - OFAC's own file, size-capped
    except ET.ParseError as exc:
        raise ListFormatError(f"the XML list does not parse ({exc})") from None
    refs = _reference_values(root)
    sub_types = _sub_types(root, refs)
    locations = _locations(root, refs)
    documents = _documents(root, refs)
    programs = _programs(root)
    entities: dict[str, Entity] = {}
    for party in _children(root, "DistinctParty"):
        entity = _party(party, refs, sub_types, locations, documents, programs, source)
        if entity is not None:
            entities[entity.entity_id] = entity
    if not entities:
        raise ListFormatError("the XML list holds no parties")
    return entities


def _ftm_birth_date(value: str) -> BirthDate | None:
    parts = value.split("-")
    try:
        numbers = [int(p) for p in parts[:3]]
    except ValueError:
        return None
    if not numbers:
        return None
    return BirthDate(
        numbers[0], numbers[1] if len(numbers) > 1 else None, numbers[2] if len(numbers) > 2 else None
    )


def _ftm_entity(row: dict[str, Any], source: str) -> Entity | None:
    kind = FTM_TYPES.get(str(row.get("schema", "")))
    props: dict[str, list[str]] = row.get("properties") or {}
    names = [str(n) for n in props.get("name", []) if str(n).strip()]
    entity_id = str(row.get("id") or "")
    if kind is None or not names or not entity_id:
        return None
    identity = Identity(
        birth_dates=[d for v in props.get("birthDate", []) if (d := _ftm_birth_date(str(v)))],
        nationalities=[str(c) for key in ("nationality", "citizenship") for c in props.get(key, [])],
        ids=[
            IdNumber("imo" if key == "imoNumber" else key, n)
            for key in FTM_IDS
            for v in props.get(key, [])
            # "IMO 9876543" is IMO number 9876543.
            if (n := normalize_id(str(v)).removeprefix("IMO" if key == "imoNumber" else ""))
        ],
        gender=str((props.get("gender") or [""])[0]).lower(),
    )
    return Entity(
        entity_id=entity_id,
        name=names[0],
        entity_type=kind,
        programs=tuple(str(p) for p in props.get("programId", props.get("program", []))),
        addresses=[Address("", "", str(c)) for c in props.get("country", []) + props.get("flag", [])],
        aliases=[Alias("aka", str(n)) for n in names[1:]]
        + [Alias("aka", str(n)) for key in FTM_ALIASES for n in props.get(key, [])],
        identity=identity,
        source=source,
    )


def parse_ftm(data: bytes, *, source: str) -> dict[str, Entity]:
    """FollowTheMoney entities, one JSON object a line; schemata other than parties are skipped."""
    entities: dict[str, Entity] = {}
    for number, line in enumerate(data.splitlines(), start=1):
        if not line.strip():
            continue
        if len(line) > FTM_LINE_BYTES_MAX:
            raise ListFormatError(f"line {number} of the FollowTheMoney list is too long")
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            raise ListFormatError(f"line {number} of the FollowTheMoney list is not JSON") from None
        if isinstance(row, dict) and (entity := _ftm_entity(row, source)) is not None:
            entities[entity.entity_id] = entity
    if not entities:
        raise ListFormatError("the FollowTheMoney list holds no parties")
    return entities
