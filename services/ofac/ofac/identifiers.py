"""What a listed party is besides its names: dates of birth, nationality, ID numbers, IMO.

OFAC writes these into the free-text Remarks of sdn.csv as `;`-separated facts
(`DOB 19 Jun 1951; POB Giza, Egypt; Passport 1084010 (Egypt); alt. Passport 19820215; ...`).
Parsing them lets a screening compare the identifiers a payment or a customer really has,
not only a name. Pure functions, no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

_MONTH_NAMES = "jan feb mar apr may jun jul aug sep oct nov dec"
MONTHS = {m: i for i, m in enumerate(_MONTH_NAMES.split(), start=1)}
_DATE = re.compile(r"(?:(\d{1,2})\s+)?(?:([A-Za-z]{3})[a-z]*\s+)?(\d{4})")
_YEAR_RANGE = re.compile(r"(\d{4})\s+to\s+(\d{4})")
# Labels of a numbered document: "Passport 1084010 (Egypt)", "Cedula No. 123", "NIT # 8000",
# "Vessel Registration Identification IMO 9187629", "National ID No. 12756003 (Macau)".
_ID = re.compile(
    r"^(?P<label>[A-Za-z][A-Za-z .'/&-]*?)\s*(?:No\.|Number|#)?\s+"
    r"(?P<number>[A-Za-z0-9][A-Za-z0-9./-]*\d[A-Za-z0-9./-]*)"
    r"(?:\s*\((?P<country>[^)]*)\))?\.?$"
)
_ID_WORDS = (
    "passport", "id", "cedula", "nit", "ruc", "curp", "rfc", "ssn", "license", "licence",
    "registration", "identification", "imo", "mmsi", "tax", "number", "no.", "#", "certificate",
    "vat", "v.a.t.", "duns", "d-u-n-s", "folio", "registry", "tail",
)  # fmt: skip
_NOT_IDS = ("phone", "fax", "telephone", "email", "website", "digital currency", "swift", "bik", "iban")
ID_CHARS_MIN = 4
YEAR_RANGE_MAX = 10


def normalize_id(number: str) -> str:
    """`A-123 456/7` and `a1234567` are one number: letters and digits only, upper case."""
    return re.sub(r"[^A-Za-z0-9]", "", number).upper()


@dataclass(frozen=True, slots=True)
class BirthDate:
    """A date of birth as precise as the list gives it: a day, a month or only a year."""

    year: int
    month: int | None = None
    day: int | None = None

    def agrees(self, other: BirthDate) -> bool:
        """Equal on every part both sides know."""
        if self.year != other.year:
            return False
        if self.month is not None and other.month is not None and self.month != other.month:
            return False
        return self.day is None or other.day is None or self.day == other.day

    @classmethod
    def from_date(cls, value: date) -> BirthDate:
        return cls(value.year, value.month, value.day)


@dataclass(frozen=True, slots=True)
class IdNumber:
    kind: str  # the list's label, lower case ("passport", "national id", "imo")
    number: str  # normalised (normalize_id)
    country: str = ""


@dataclass(slots=True)
class Identity:
    """Identifiers of a listed party (from its remarks, addresses and vessel columns)."""

    birth_dates: list[BirthDate] = field(default_factory=list)
    nationalities: list[str] = field(default_factory=list)
    ids: list[IdNumber] = field(default_factory=list)
    gender: str = ""

    @property
    def id_numbers(self) -> frozenset[str]:
        return frozenset(i.number for i in self.ids)


def parse_birth_dates(text: str) -> list[BirthDate]:
    """`19 Jun 1951`, `Jun 1951`, `1951`, `circa 1951`, `1950 to 1953` (every year of a range)."""
    text = text.strip()
    ranged = _YEAR_RANGE.search(text)
    if ranged:
        first, last = int(ranged.group(1)), int(ranged.group(2))
        if 0 <= last - first <= YEAR_RANGE_MAX:
            return [BirthDate(y) for y in range(first, last + 1)]
    out = []
    for m in _DATE.finditer(text):
        day, month, year = m.group(1), (m.group(2) or "").lower(), int(m.group(3))
        month_no = MONTHS.get(month)
        out.append(BirthDate(year, month_no, int(day) if day and month_no else None))
    return out


def _id_of(fact: str) -> IdNumber | None:
    lower = fact.lower()
    if any(word in lower for word in _NOT_IDS):
        return None
    m = _ID.match(fact)
    if m is None:
        return None
    label = m.group("label").strip().lower()
    if not any(word in label or word in lower.split() for word in _ID_WORDS):
        return None
    number = normalize_id(m.group("number"))
    if len(number) < ID_CHARS_MIN:
        return None
    kind = "imo" if label.endswith("imo") else "mmsi" if label.endswith("mmsi") else label
    return IdNumber(kind, number, (m.group("country") or "").strip())


def parse_remarks(remarks: str) -> Identity:
    identity = Identity()
    for raw in remarks.split(";"):
        fact = raw.strip().removeprefix("alt. ").strip().rstrip(".")
        if not fact:
            continue
        head, _, rest = fact.partition(" ")
        if head == "DOB":
            identity.birth_dates.extend(parse_birth_dates(rest))
        elif head in ("nationality", "citizen"):
            identity.nationalities.append(rest.strip())
        elif head == "Gender":
            identity.gender = rest.strip().lower()
        elif (found := _id_of(fact)) is not None:
            identity.ids.append(found)
    return identity
