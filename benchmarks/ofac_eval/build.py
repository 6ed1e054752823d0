"""Build the sanctions-screening evaluation set from the bundled list, deterministically.

    .venv/bin/python benchmarks/ofac_eval/build.py   # rewrites benchmarks/ofac_eval/eval-set.jsonl

Listed parties are turned into the variants a compliance analyst meets (kinds below); each
carries the identifiers the list gives it (date of birth, an ID number, IMO, a country), so
recall can be measured name-only (REVIEW) and with an agreeing identifier (BLOCK). Innocent
names are drawn from given names and surnames of 16 cultures and from company names; any
that is a listed name after normalisation is dropped. Same seed, same file.
"""

from __future__ import annotations

import json
import random
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "services" / "ofac"))

from ofac.lists import build_index  # noqa: E402
from ofac.main import BUNDLED_LIST  # noqa: E402
from ofac.names import normalize, reorder_individual  # noqa: E402
from ofac.sdnfile import Entity  # noqa: E402
from ofac.sources import read_directory  # noqa: E402

SEED = 11
OUT = Path(__file__).resolve().parent / "eval-set.jsonl"
LISTED_PER_KIND = 80
INNOCENT_PEOPLE = 520
INNOCENT_COMPANIES = 130

# Romanisation variants, each a (pattern, replacement) seen in real spellings of one name.
TRANSLIT = [
    (r"\bmohammed\b", "muhammad"), (r"\bmuhammad\b", "mohamed"), (r"\bmohamed\b", "mohammad"),
    (r"\bmohammad\b", "mohamad"), (r"\bosama\b", "usama"), (r"\busama\b", "osama"),
    (r"\bomar\b", "umar"), (r"\bumar\b", "omar"), (r"\babu\b", "abou"), (r"\bali\b", "aly"),
    (r"\byusuf\b", "youssef"), (r"\byousef\b", "yusuf"), (r"\bahmad\b", "ahmed"),
    (r"\bahmed\b", "ahmad"), (r"\bhussein\b", "husayn"), (r"\bhassan\b", "hasan"),
    (r"\bqaddafi\b", "gaddafi"), (r"ov\b", "off"), (r"ev\b", "eff"), (r"ph", "f"),
    (r"\bay", "ai"), (r"\bai", "ay"), (r"ou", "u"), (r"iy", "i"), (r"kh", "h"), (r"q", "k"),
    (r"ee", "i"), (r"ch", "tch"), (r"j", "dj"), (r"sh", "ch"), (r"dh", "d"), (r"aa", "a"),
    (r"([bcdfgklmnprst])\1", r"\1"), (r"y\b", "i"), (r"i\b", "y"), (r"w", "v"),
]  # fmt: skip
LEGAL_FORMS = [
    (r"\bLTD\.?$", "Limited"), (r"\bLIMITED$", "Ltd"), (r"\bLLC$", "Limited Liability Company"),
    (r"\bS\.A\.$", "Sociedad Anonima"), (r"\bCO\.,? LTD\.?$", "Company Limited"),
    (r"\bLTDA\.?$", "Limitada"), (r"\bGMBH$", "Gesellschaft mit beschraenkter Haftung"),
    (r"\bINC\.?$", "Incorporated"), (r"\bCORP\.?$", "Corporation"), (r"\bCOMPANY$", "Co."),
    (r"\bS\.A\. DE C\.V\.$", "SA de CV"), (r"\bJSC$", "Joint Stock Company"),
    (r"\bOOO\b", "Obshchestvo s Ogranichennoi Otvetstvennostyu"), (r"\bSRL$", "S.R.L."),
]  # fmt: skip
ROMAN_NUMERAL = re.compile(r"^x{0,3}(ix|iv|v?i{0,3})$")
PARTICLES = ["al", "el", "bin", "ibn", "abu", "de", "van", "von"]
CYRILLIC = {
    "shch": "щ", "sh": "ш", "ch": "ч", "zh": "ж", "kh": "х", "ts": "ц", "yu": "ю", "ya": "я",
    "yo": "ё", "a": "а", "b": "б", "v": "в", "g": "г", "d": "д", "e": "е", "z": "з", "i": "и",
    "y": "й", "k": "к", "l": "л", "m": "м", "n": "н", "o": "о", "p": "п", "r": "р", "s": "с",
    "t": "т", "u": "у", "f": "ф", "h": "х", "c": "к", "w": "в", "x": "кс", "j": "дж", "q": "к",
}  # fmt: skip


def words(text: str) -> list[str]:
    return text.split()


CULTURES: dict[str, tuple[list[str], list[str]]] = {
    "english": (
        words(
            "James Olivia Henry Charlotte George Amelia Thomas Emily Oliver Grace Harry Chloe "
            "Jack Lucy Samuel Ella"
        ),
        words(
            "Smith Jones Taylor Brown Williams Wilson Johnson Davies Robinson Wright Thompson "
            "Evans Walker White Roberts Green Hall Wood Jackson Clarke"
        ),
    ),
    "german": (
        words("Lukas Leon Finn Jonas Paul Emma Mia Hannah Lena Lea Felix Maximilian Sophie Marie Johanna"),
        words(
            "Mueller Schmidt Schneider Fischer Weber Meyer Wagner Becker Schulz Hoffmann Koch "
            "Richter Klein Wolf Neumann"
        ),
    ),
    "french": (
        words("Louis Gabriel Jules Adam Hugo Jade Louise Alice Lina Rose Camille Manon Theo Arthur Chloe"),
        words(
            "Martin Bernard Dubois Thomas Robert Richard Petit Durand Leroy Moreau Simon "
            "Laurent Lefebvre Michel Garnier"
        ),
    ),
    "spanish": (
        words(
            "Carlos Lucia Javier Sofia Alejandro Martina Diego Valeria Pablo Camila Mateo "
            "Daniela Andres Paula Sergio"
        ),
        words(
            "Garcia Martinez Lopez Sanchez Perez Gomez Martin Jimenez Ruiz Hernandez Diaz "
            "Moreno Alvarez Romero Navarro"
        ),
    ),
    "portuguese": (
        words("Joao Maria Pedro Ana Tiago Beatriz Rafael Mariana Lucas Ines Gabriel Leonor Miguel Carolina"),
        words(
            "Silva Santos Ferreira Pereira Oliveira Costa Rodrigues Martins Jesus Sousa "
            "Fernandes Goncalves Gomes Lopes"
        ),
    ),
    "italian": (
        words("Giulia Francesco Sofia Alessandro Aurora Lorenzo Ginevra Mattia Alice Leonardo Emma Riccardo"),
        words("Rossi Russo Ferrari Esposito Bianchi Romano Colombo Ricci Marino Greco Bruno Gallo Conti"),
    ),
    "russian": (
        words(
            "Ivan Dmitri Sergei Anastasia Maria Alexei Natalia Olga Nikolai Tatiana Andrei "
            "Yekaterina Pavel Svetlana"
        ),
        words(
            "Ivanov Smirnov Kuznetsov Popov Vasiliev Petrov Sokolov Mikhailov Novikov Fedorov "
            "Morozov Volkov Lebedev Kozlov"
        ),
    ),
    "polish": (
        words("Jan Anna Piotr Katarzyna Tomasz Agnieszka Pawel Magdalena Krzysztof Joanna Michal Ewa"),
        words(
            "Nowak Kowalski Wisniewski Wojcik Kowalczyk Kaminski Lewandowski Zielinski "
            "Szymanski Wozniak Dabrowski"
        ),
    ),
    "arabic": (
        words(
            "Mohammed Ahmed Fatima Omar Aisha Youssef Layla Khalid Mariam Hassan Noor Tariq "
            "Salma Ibrahim Zainab Karim"
        ),
        words(
            "Haddad Khoury Nasser Saleh Mansour Hamdan Darwish Aziz Qasim Farouk Sabbagh "
            "Najjar Haddadin Barakat Suleiman"
        ),
    ),
    "persian": (
        words("Reza Maryam Ali Zahra Hossein Fatemeh Mehdi Narges Amir Parisa Dariush Shirin"),
        words("Mohammadi Hosseini Ahmadi Rezaei Moradi Karimi Jafari Rahimi Kazemi Ghorbani Sadeghi Najafi"),
    ),
    "turkish": (
        words("Mehmet Ayse Mustafa Fatma Ahmet Emine Ali Hatice Huseyin Zeynep Emre Elif"),
        words("Yilmaz Kaya Demir Sahin Celik Yildiz Yildirim Ozturk Aydin Ozdemir Arslan Dogan"),
    ),
    "indian": (
        words("Aarav Priya Vivaan Ananya Aditya Diya Arjun Isha Rohan Kavya Rahul Sneha Vikram"),
        words("Sharma Verma Gupta Patel Reddy Iyer Nair Singh Kumar Joshi Mehta Rao Das Chatterjee"),
    ),
    "chinese": (
        words("Wei Fang Jing Lei Min Jun Yan Hui Xiu Ying Ming Hong Tao Li Na"),
        words("Wang Li Zhang Liu Chen Yang Huang Zhao Wu Zhou Xu Sun Ma Zhu Hu Guo"),
    ),
    "vietnamese": (
        words("Anh Minh Thanh Huong Linh Tuan Lan Hung Mai Duc Trang Phuong"),
        words("Nguyen Tran Le Pham Hoang Phan Vu Dang Bui Do Ho Ngo"),
    ),
    "korean_japanese": (
        words("Min-jun Seo-yeon Ji-ho Haruto Yui Sota Hina Ren Yuna Jae-won"),
        words("Kim Lee Park Choi Jung Sato Suzuki Takahashi Tanaka Watanabe Ito"),
    ),
    "nigerian": (
        words("Chinedu Ngozi Oluwaseun Amaka Emeka Funmilayo Tunde Chioma Ifeanyi Yetunde Babatunde"),
        words("Okafor Okonkwo Adeyemi Ogunleye Eze Nwosu Balogun Okeke Adebayo Obi Nnamdi"),
    ),
}
COMPANY_WORDS = (
    [
        "Blue",
        "Harbor",
        "Summit",
        "Pioneer",
        "Evergreen",
        "Silver",
        "Maple",
        "Northern",
        "Golden",
        "Bright",
        "Crescent",
        "Atlas",
        "Meridian",
        "Horizon",
        "Oak",
        "River",
        "Granite",
        "Coastal",
        "Alpine",
        "Prairie",
        "Cedar",
        "Lakeside",
        "Sunrise",
        "Redwood",
    ],
    [
        "Bakery",
        "Logistics",
        "Consulting",
        "Software",
        "Textiles",
        "Dental",
        "Farms",
        "Electric",
        "Builders",
        "Analytics",
        "Foods",
        "Pharmacy",
        "Motors",
        "Studios",
        "Partners",
        "Imports",
        "Supplies",
        "Furniture",
        "Optics",
        "Travel",
    ],
    words("Inc LLC Ltd GmbH S.A. Co. Limited SARL B.V. Pty Ltd AG S.r.l."),
)


def display_name(entity: Entity, name: str) -> str:
    return reorder_individual(name) if entity.entity_type == "individual" else name


def identifiers(entity: Entity, rng: random.Random) -> dict[str, Any]:
    """The evidence a real record of this party would carry, if the list gives any."""
    ident = entity.identity
    out: dict[str, Any] = {}
    full = [d for d in ident.birth_dates if d.day is not None]
    if full:
        d = rng.choice(full)
        out["date_of_birth"] = f"{d.year:04d}-{d.month:02d}-{d.day:02d}"
    elif ident.birth_dates:
        out["birth_year"] = rng.choice(ident.birth_dates).year
    if ident.ids:
        pick = rng.choice(ident.ids)
        if pick.kind == "imo":
            out["imo"] = pick.number
        else:
            out["id_numbers"] = [pick.number]
    countries = entity.all_countries
    if countries:
        out["country"] = rng.choice(countries)
    out["entity_type"] = entity.entity_type
    return out


def _typo(name: str, rng: random.Random) -> str | None:
    words = name.split()
    long = [i for i, w in enumerate(words) if len(w) >= 5 and w.isalpha()]
    if not long:
        return None
    i = rng.choice(long)
    w = words[i]
    k = rng.randrange(1, len(w) - 2)
    op = rng.choice(["swap", "drop", "double"])
    if op == "swap":
        w = w[:k] + w[k + 1] + w[k] + w[k + 2 :]
    elif op == "drop":
        w = w[:k] + w[k + 1 :]
    else:
        w = w[:k] + w[k] + w[k:]
    words[i] = w
    return " ".join(words)


def _translit(entity: Entity, name: str, rng: random.Random) -> str | None:
    # An aircraft's registration mark (EP-GOY) is not romanised; neither is a vessel's roman
    # numeral (BICENTENARIO VIII is never written "Viiy"): only the name's words are.
    if entity.entity_type == "aircraft":
        return None
    lower = name.lower()
    rules = [r for r in TRANSLIT if re.search(r[0], lower)]
    if not rules:
        return None
    for pattern, repl in rng.sample(rules, min(2, len(rules))):
        lower = re.sub(pattern, repl, lower, count=1)
    numerals = [w for w in name.lower().split() if ROMAN_NUMERAL.match(w)]
    if any(w not in lower.split() for w in numerals):
        return None
    return lower.title() if lower != name.lower() else None


def _missing_middle(entity: Entity, name: str) -> str | None:
    if entity.entity_type != "individual" or "," not in name:
        return None
    last, first = (p.strip() for p in name.split(",", 1))
    given = first.split()
    if len(given) < 2:
        return None
    return f"{given[0]} {last}"


def _particles(name: str, rng: random.Random) -> str | None:
    words = name.replace("-", " ").split()
    lower = [w.lower() for w in words]
    present = [i for i, w in enumerate(lower) if w in PARTICLES]
    if present:
        i = rng.choice(present)
        if rng.random() < 0.5:
            return " ".join(w for j, w in enumerate(words) if j != i)
        words[i] = {"al": "El", "el": "Al", "bin": "Ibn", "ibn": "Bin", "abu": "Abou"}.get(lower[i], words[i])
        return " ".join(words)
    return None


def _legal_form(entity: Entity, name: str) -> str | None:
    if entity.entity_type != "entity":
        return None
    for pattern, repl in LEGAL_FORMS:
        if re.search(pattern, name, flags=re.IGNORECASE):
            return re.sub(pattern, repl, name, flags=re.IGNORECASE)
    return None


def _cyrillic(entity: Entity, name: str) -> str | None:
    if entity.entity_type != "individual":
        return None
    text = name.lower()
    out = []
    i = 0
    while i < len(text):
        for size in (4, 2, 1):
            chunk = text[i : i + size]
            if chunk in CYRILLIC:
                out.append(CYRILLIC[chunk])
                i += size
                break
        else:
            out.append(text[i])
            i += 1
    return "".join(out).title()


def _word_order(entity: Entity, name: str, rng: random.Random) -> str | None:
    words = name.replace(",", "").split()
    if len(words) < 2:
        return None
    shuffled = words[:]
    while shuffled == words:
        rng.shuffle(shuffled)
    return " ".join(shuffled).upper() if rng.random() < 0.5 else " ".join(shuffled).lower()


def _vessel(entity: Entity, name: str, rng: random.Random) -> str | None:
    if entity.entity_type not in ("vessel", "aircraft"):
        return None
    how = rng.choice(["typo", "prefix", "case"])
    if how == "typo":
        return _typo(name, rng)
    return f"M/V {name.title()}" if how == "prefix" and entity.entity_type == "vessel" else name.lower()


def _alias(entity: Entity, rng: random.Random) -> str | None:
    aliases = [a.name for a in entity.aliases]
    return display_name(entity, rng.choice(aliases)) if aliases else None


def variant(kind: str, entity: Entity, rng: random.Random) -> str | None:
    name = display_name(entity, entity.name)
    makers = {
        "alias": lambda: _alias(entity, rng),
        "typo": lambda: _typo(name, rng),
        "transliteration": lambda: _translit(entity, name, rng),
        "missing_middle_name": lambda: _missing_middle(entity, entity.name),
        "particles": lambda: _particles(name, rng),
        "legal_form": lambda: _legal_form(entity, entity.name),
        "non_latin_script": lambda: _cyrillic(entity, name),
        "word_order": lambda: _word_order(entity, name, rng),
        "vessel_or_aircraft": lambda: _vessel(entity, name, rng),
    }
    return makers[kind]()


KINDS = [
    "word_order", "typo", "transliteration", "missing_middle_name", "particles", "legal_form",
    "alias", "non_latin_script", "vessel_or_aircraft",
]  # fmt: skip


def listed(entities: list[Entity], rng: random.Random) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for kind in KINDS:
        pool = entities[:]
        rng.shuffle(pool)
        made = 0
        # Vessels and aircraft get their share through the kinds that apply to them.
        for entity in pool:
            if made >= LISTED_PER_KIND:
                break
            query = variant(kind, entity, rng)
            if not query or normalize(query) == "":
                continue
            rows.append(
                {
                    "set": "listed",
                    "kind": kind,
                    "entity_type": entity.entity_type,
                    "expected": entity.entity_id,
                    "name": query,
                    "identifiers": identifiers(entity, rng),
                }
            )
            made += 1
    return rows


def innocent(listed_names: set[str], rng: random.Random) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    cultures = sorted(CULTURES)
    while len(rows) < INNOCENT_PEOPLE:
        culture = cultures[len(rows) % len(cultures)]
        given, family = CULTURES[culture]
        name = f"{rng.choice(given)} {rng.choice(family)}"
        if rng.random() < 0.2:
            name = f"{rng.choice(given)} {name}"
        key = " ".join(sorted(normalize(name).split()))
        if key in seen or key in listed_names:
            continue
        seen.add(key)
        rows.append({"set": "innocent", "kind": f"person_{culture}", "name": name})
    companies = 0
    while companies < INNOCENT_COMPANIES:
        a, b, form = (rng.choice(words) for words in COMPANY_WORDS)
        name = f"{a} {b} {form}"
        key = " ".join(sorted(normalize(name).split()))
        if key in seen or key in listed_names:
            continue
        seen.add(key)
        rows.append({"set": "innocent", "kind": "company", "name": name})
        companies += 1
    for row in rows:
        # Realistic but unrelated identifiers: a random adult's birth date and a country.
        year = rng.randrange(1940, 2004)
        row["identifiers"] = {
            "date_of_birth": f"{year:04d}-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}",
            "country": rng.choice(["US", "GB", "DE", "FR", "CN", "IN", "EG", "IR", "RU", "MX", "NG", "TR"]),
            "entity_type": "entity" if row["kind"] == "company" else "individual",
        }
        if row["kind"] == "company":
            del row["identifiers"]["date_of_birth"]
    return rows


def main() -> None:
    index = build_index(read_directory(BUNDLED_LIST, 64 * 1024 * 1024))
    rng = random.Random(SEED)
    # An "innocent" name that is a listed name (any order) would be a true hit: leave it out.
    listed_names = {" ".join(sorted(n.tokens)) for n in index.names}
    rows = listed(index.entities, rng) + innocent(listed_names, rng)
    with OUT.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")
    kinds: dict[str, int] = {}
    for row in rows:
        kinds[row["set"]] = kinds.get(row["set"], 0) + 1
    print(f"wrote {OUT.name}: {kinds}")


if __name__ == "__main__":
    main()
