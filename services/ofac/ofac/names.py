"""Name normalisation and token similarity: pure functions, no I/O.

A name becomes a tuple of tokens: transliterated to ASCII (diacritics, other scripts:
anyascii), lower case, apostrophes dropped (O'Brien -> obrien), legal forms brought to one
spelling (rigour: "Limitada" -> "ltd", "Obshchestvo s ogranichennoi..." -> "ooo") and then
dropped with honorifics, particles (al-, el-, bin, ibn, de, van...) and lone initials.
"LAST, First" of an individual reads "First LAST". Token order does not matter to the scorer.

Two tokens are similar by spelling (Jaro-Winkler tempered by an edit distance that counts a
transposition as one edit) or by sound: equal metaphone keys (rigour) make Mohammed/Muhammad,
Umar/Omar, Aly/Ali, Abou/Abu, Radkov/Radkoff, Yusuf/Youssef close even when short.
"""

from __future__ import annotations

import re
from functools import lru_cache

from anyascii import anyascii
from rapidfuzz.distance import OSA, JaroWinkler
from rigour.names import replace_org_types_compare
from rigour.text import metaphone

_APOSTROPHES = re.compile(r"['`´’‘ʼʻ]")
_NON_ALNUM = re.compile(r"[^a-z0-9]+")
_ROMAN = frozenset({"i", "v", "x"})
# A roman numeral tells one vessel from another (BICENTENARIO VI / VIII): never folded.
_ROMAN_NUMERAL = re.compile(r"^x{0,3}(ix|iv|v?i{0,3})$")
# "M/V IRAN SHAHR", "M.T. ADRIAN": a ship prefix, written as one stopword ("mv", "mt").
_SHIP_PREFIX = re.compile(r"\bm\s*[/.]\s*([vt])\b\.?")
# "Co." spelled out, so a half-abbreviated legal form ("Closed Joint-Stock Co.") is known.
_CO = re.compile(r"\bco\b\.?")
# Dotted initials are an acronym ("A.W.A. ENGINEERING"), not lone initials to drop.
_ACRONYM = re.compile(r"\b(?:[a-z]\.){2,}")

# Words that say nothing about who someone is: honorifics, titles, generational suffixes.
STOPWORDS = frozenset(
    {
        "the", "of", "and", "mr", "mrs", "ms", "miss", "dr", "prof", "jr", "sr", "mme", "m", "sir",
        "lord", "madam", "sheikh", "shaikh", "sheik", "shaykh", "haji", "hajji",
        "hadji", "mullah", "mulla", "maulana", "mawlawi", "maulvi", "imam", "general", "gen",
        "colonel", "col", "captain", "capt", "lt", "major", "sayed", "sayyed", "engineer", "eng",
        # Ship prefixes: "M/V Iran Shahr" is the vessel IRAN SHAHR.
        "mv", "mt", "ss",
    }
)  # fmt: skip
# Particles of names: written, dropped, joined or not as the writer pleases.
PARTICLES = frozenset(
    {
        "al", "el", "ul", "ad", "ar", "as", "at", "az", "bin", "ibn", "bint", "de", "del", "della",
        "di", "dos", "das", "van", "von", "der", "den", "y",
    }
)  # fmt: skip
# Legal-form suffixes (after rigour's canonical spelling): "ACME LTD" is "Acme Limited".
COMPANY_SUFFIXES = frozenset(
    {
        "inc", "incorporated", "ltd", "ltda", "limited", "limitada", "llc", "llp", "lp", "co",
        "corp", "corporation", "company", "cia", "compania", "sa", "sas", "sarl", "srl", "spa",
        "gmbh", "ag", "kg", "plc", "bv", "nv", "cv", "oao", "ooo", "zao", "pao", "jsc", "ojsc",
        "cjsc", "pjsc", "ao", "tov", "pte", "pvt", "bhd", "sdn", "fze", "fzco", "fzc", "fzllc",
        "sal", "ab", "oy", "as", "aps", "kft", "sro", "doo", "ead", "eood", "sae", "wll",
        "scs", "sapi", "rl", "ca", "coltd", "sacv", "sadecv",
        # Written as dotted initials on the list, unknown to rigour: E.U., C.I., S.P.R., A.C.,
        # S.L., K.K., P.J.S., E.I.R.L., V.Z.W., P.C.
        "eu", "ci", "spr", "ac", "sl", "kk", "pjs", "eirl", "vzw", "pc",
    }
)  # fmt: skip
DROPPED = STOPWORDS | PARTICLES | COMPANY_SUFFIXES

# Below this a pair of tokens is no evidence at all.
TOKEN_SIMILARITY_MIN = 0.80
SHORT_TOKEN_CHARS = 4
# Two tokens that sound alike (equal phonetic keys of at least this length) are this close.
PHONETIC_KEY_CHARS_MIN = 2
PHONETIC_SIMILARITY = 0.9
PHONETIC_SIMILARITY_SHORT = 0.85
# ...and only when their romanisations also look alike (Jaro-Winkler): Kavya and Guowei share
# the key KF, Singh and Ceng SNK, and nothing else.
PHONETIC_SPELLING_MIN = 0.75
# Weight of the better-covered side; the rest goes to the worse-covered side. A token
# missing on either side (a middle name, a second surname) moves a name into review, not out.
BETTER_SIDE_WEIGHT = 0.7
SINGLE_TOKEN_SIDE_WEIGHT = 0.5


def reorder_individual(name: str) -> str:
    """OFAC writes individuals "SURNAME, Given names"; people write "Given names Surname"."""
    if name.count(",") == 1:
        last, first = (part.strip() for part in name.split(","))
        if last and first:
            return f"{first} {last}"
    return name


def tokens(name: str) -> tuple[str, ...]:
    text = _APOSTROPHES.sub("", anyascii(name).lower())
    # Cyrillic and other romanisations write English/Spanish "j" as "dzh" (Джон -> Dzhon).
    text = text.replace("dzh", "j")
    text = _CO.sub("company", _SHIP_PREFIX.sub(r"m\1", text))
    written = set(_NON_ALNUM.split(text))
    text = replace_org_types_compare(text)
    acronyms = {m.replace(".", "") for m in _ACRONYM.findall(text)}
    text = _ACRONYM.sub(lambda m: m.group(0).replace(".", ""), text)
    written |= acronyms
    raw = [t for t in _NON_ALNUM.split(text) if t]
    # A word rigour wrote is the compare form of a legal form ("s. en c." -> "sc").
    words = [t for t in raw if t not in DROPPED and t in written]
    # Numbers tell vessels apart ("RUNG RA 1" / "RUNG RA 2", "BICENTENARIO V"); other lone
    # letters are initials, which people write or not.
    kept = [t for t in words if len(t) > 1 or t.isdigit() or t in _ROMAN]
    if kept:
        return tuple(kept)
    # A name made only of initials ("J & E S. de R.L. de C.V.") is its initials; one made
    # only of suffixes ("CO", "LTD") is still a name.
    return tuple(words or raw)


# One sound, several romanisations (Arabic, Persian, Russian written the English, French or
# German way): Khiti/Hity, Shihabi/Chihaby, Darwish/Darvich, Alwefaq/Alvefak, Djuddi/Juddi.
_ROMANISATIONS = (
    ("dzh", "j"), ("dj", "j"), ("tch", "sh"), ("ch", "sh"), ("kh", "h"), ("gh", "g"), ("q", "k"),
    ("w", "v"), ("ph", "f"), ("ou", "u"), ("oo", "u"), ("ee", "i"), ("y", "i"),
)  # fmt: skip
_DOUBLED = re.compile(r"(.)\1+")


def romanisation_fold(token: str) -> str:
    for written, sound in _ROMANISATIONS:
        token = token.replace(written, sound)
    return _DOUBLED.sub(r"\1", token)


@lru_cache(maxsize=100_000)
def phonetic_key(token: str) -> str:
    """Metaphone of the token with its romanisation variants folded, any leading vowel
    written "A": Umar/Omar, Osama/Usama, Khiti/Hity sound alike."""
    if token.isdigit():
        return token
    key = metaphone(romanisation_fold(token))
    if key[:1] in ("A", "E", "I", "O", "U"):
        key = "A" + key[1:]
    return key


def normalize(name: str) -> str:
    return " ".join(tokens(name))


def token_similarity(a: str, b: str) -> float:
    """Jaro-Winkler tempered by edit distance (a transposition is one edit), so short
    near-misses ("doe"/"dos") stay apart while misspellings of longer tokens
    ("noriega"/"norega", "daimr"/"damir") stay close; or equal sound keys."""
    if a == b:
        return 1.0
    score = 0.0
    jw = JaroWinkler.normalized_similarity(a, b)
    if jw >= TOKEN_SIMILARITY_MIN:
        edit = OSA.normalized_similarity(a, b)
        # One letter is a large share of a short token: "ali"/"wali" are different names.
        score = edit if min(len(a), len(b)) <= SHORT_TOKEN_CHARS else (jw + edit) / 2
    if score < PHONETIC_SIMILARITY and not (a.isdigit() or b.isdigit()):
        key = phonetic_key(a)
        folded_a, folded_b = romanisation_fold(a), romanisation_fold(b)
        # One spelling once romanisations are folded (Kai/Kay, Aly/Ali), however short.
        numeral = bool(_ROMAN_NUMERAL.match(a) or _ROMAN_NUMERAL.match(b))
        if (folded_a == folded_b and not numeral) or (
            len(key) >= PHONETIC_KEY_CHARS_MIN
            and key == phonetic_key(b)
            and JaroWinkler.normalized_similarity(folded_a, folded_b) >= PHONETIC_SPELLING_MIN
        ):
            # Short names collide by sound far more often (Jing/Jong, Sun/Son).
            short = min(len(a), len(b)) <= SHORT_TOKEN_CHARS
            score = max(score, PHONETIC_SIMILARITY_SHORT if short else PHONETIC_SIMILARITY)
    return score if score >= TOKEN_SIMILARITY_MIN else 0.0


# Jaro-Winkler's prefix bonus: at most 4 characters at 0.1 each.
_JW_PREFIX_BONUS_MAX = 0.4


def lengths_can_match(a: int, b: int) -> bool:
    """Whether tokens of `a` and `b` letters can be similar by spelling in `token_similarity`
    (sound-alike pairs are found by their keys instead). It lets the index skip whole length
    buckets of its vocabulary without changing any result. Short: the edit similarity
    1 - d/longer must reach the minimum, and d >= the length gap. Long: with r = shorter/longer,
    Jaro <= (2 + r) / 3, Jaro-Winkler <= 0.6 + 0.4 * Jaro and edit <= r; their mean must reach
    the minimum."""
    short, long = min(a, b), max(a, b)
    if short <= 0:
        return False
    if short <= SHORT_TOKEN_CHARS:
        return long - short <= (1 - TOKEN_SIMILARITY_MIN) * long + 1e-9
    ratio = short / long
    jaro_max = (2 + ratio) / 3
    jw_max = jaro_max + _JW_PREFIX_BONUS_MAX * (1 - jaro_max)
    return (jw_max + ratio) / 2 >= TOKEN_SIMILARITY_MIN - 1e-9


def name_score(
    query: tuple[str, ...], name: tuple[str, ...], pairs: dict[tuple[int, int], float] | None = None
) -> float:
    """Score in 0..1 of how well `name` (a listed name) explains `query`.

    Tokens are paired best-first, each used once (Watchman's best-pairs). Each side's
    coverage is the share of its characters matched, weighted by similarity; the score
    leans on the better-covered side and is pulled down by the other, symmetrically, so a
    missing or extra token lowers it and a single shared word is no match.
    """
    if not query or not name:
        return 0.0
    if pairs is None:
        pairs = {}
        for i, q in enumerate(query):
            for j, n in enumerate(name):
                s = token_similarity(q, n)
                if s > 0:
                    pairs[(i, j)] = s
    used_q: set[int] = set()
    used_n: set[int] = set()
    matched_q = 0.0
    matched_n = 0.0
    for (i, j), s in sorted(pairs.items(), key=lambda item: -item[1]):
        if i in used_q or j in used_n:
            continue
        used_q.add(i)
        used_n.add(j)
        matched_q += len(query[i]) * s
        matched_n += len(name[j]) * s
    query_cover = matched_q / sum(len(t) for t in query)
    name_cover = matched_n / sum(len(t) for t in name)
    high, low = max(query_cover, name_cover), min(query_cover, name_cover)
    # One shared word is weak evidence: "Sunrise Travel Ltd" is not the vessel SUNRISE.
    weight = BETTER_SIDE_WEIGHT if len(used_q) > 1 else SINGLE_TOKEN_SIDE_WEIGHT
    return round(weight * high + (1 - weight) * low, 4)
