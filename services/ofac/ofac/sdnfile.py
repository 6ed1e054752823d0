"""Parsing of the OFAC SDN list in its legacy CSV format (sdn, add, alt, sdn_comments).

Format (OFAC `dat_spec.txt`): no header row, CRLF records, quoted text fields, the null
value `-0-` (often written `-0- `), and a trailing 0x1A byte after the last record. Rows of
add/alt/comments that name an ent_num absent from sdn.csv are tolerated and ignored.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from .identifiers import Identity, parse_remarks

NULL = "-0-"
SDN_COLUMNS_MIN = 4
ADD_COLUMNS_MIN = 5
ALT_COLUMNS_MIN = 4
COMMENT_COLUMNS_MIN = 2
ENTITY_TYPES = ("individual", "entity", "vessel", "aircraft")


class ListFormatError(ValueError):
    """The files are not an SDN list we can screen against (empty, wrong columns...)."""


@dataclass(frozen=True, slots=True)
class Address:
    address: str
    city: str
    country: str


@dataclass(frozen=True, slots=True)
class Alias:
    alias_type: str  # aka | fka | nka
    name: str


@dataclass(slots=True)
class Entity:
    entity_id: str
    name: str
    entity_type: str
    programs: tuple[str, ...]
    remarks: str = ""
    addresses: list[Address] = field(default_factory=list)
    aliases: list[Alias] = field(default_factory=list)
    identity: Identity = field(default_factory=Identity)
    # Which list it is on (OFAC_SDN, OFAC_CONSOLIDATED, an OpenSanctions dataset...).
    source: str = "OFAC_SDN"
    vessel_flag: str = ""

    @property
    def countries(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(a.country for a in self.addresses if a.country))

    @property
    def all_countries(self) -> tuple[str, ...]:
        """Address countries, nationalities and a vessel's flag: what a country can agree with."""
        found = [*self.countries, *self.identity.nationalities]
        if self.vessel_flag:
            found.append(self.vessel_flag)
        return tuple(dict.fromkeys(found))


def _clean(value: str) -> str:
    value = value.strip()
    return "" if value == NULL else value


def _rows(data: bytes, columns_min: int) -> list[list[str]]:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("cp1252", errors="replace")
    text = text.replace("\x1a", "")
    rows = []
    for row in csv.reader(io.StringIO(text, newline="")):
        if not row or all(not cell.strip() for cell in row):
            continue
        if len(row) < columns_min:
            raise ListFormatError(f"a record has {len(row)} fields, expected at least {columns_min}")
        rows.append([_clean(cell) for cell in row])
    return rows


def _programs(value: str) -> tuple[str, ...]:
    # Several programs are written "SDGT] [IFSR".
    parts = value.replace("[", " ").replace("]", " ").split()
    return tuple(dict.fromkeys(p for p in parts if p))


def parse_list(
    sdn: bytes, add: bytes = b"", alt: bytes = b"", comments: bytes = b"", *, source: str = "OFAC_SDN"
) -> dict[str, Entity]:
    """The entities of one consistent download, keyed by ent_num."""
    entities: dict[str, Entity] = {}
    for row in _rows(sdn, SDN_COLUMNS_MIN):
        entity_id, name, sdn_type, program = row[0], row[1], row[2].lower(), row[3]
        if not entity_id or not name:
            continue
        remarks = row[11] if len(row) > 11 else ""
        entities[entity_id] = Entity(
            entity_id=entity_id,
            name=name,
            entity_type=sdn_type if sdn_type in ENTITY_TYPES else "entity",
            programs=_programs(program),
            remarks=remarks,
            source=source,
            vessel_flag=row[9] if len(row) > 9 else "",
        )
    if not entities:
        raise ListFormatError("sdn.csv holds no records")
    for row in _rows(add, ADD_COLUMNS_MIN) if add else []:
        entity = entities.get(row[0])
        if entity is not None:
            entity.addresses.append(Address(address=row[2], city=row[3], country=row[4]))
    for row in _rows(alt, ALT_COLUMNS_MIN) if alt else []:
        entity = entities.get(row[0])
        if entity is not None and row[3]:
            entity.aliases.append(Alias(alias_type=(row[2] or "aka").lower(), name=row[3]))
    for row in _rows(comments, COMMENT_COLUMNS_MIN) if comments else []:
        entity = entities.get(row[0])
        if entity is not None and row[1]:
            # Overflow of a Remarks field too long for sdn.csv (watchman's mergeSpilloverRecords).
            entity.remarks = f"{entity.remarks}{row[1]}"
    for entity in entities.values():
        entity.identity = parse_remarks(entity.remarks)
    return entities
