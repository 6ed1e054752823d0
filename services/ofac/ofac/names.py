"""Name normalisation and token similarity: pure functions, no I/O.

A name becomes a tuple of tokens: transliterated to ASCII (diacritics, other scripts),
lower case, punctuation split out, apostrophes dropped (O'Brien -> obrien), honorifics,
joining words, company suffixes and lone initials removed. "LAST, First" of an individual
reads "First LAST". Token order does not matter to the scorer; the order is kept for display.
"""

from __future__ import annotations

import re

from anyascii import anyascii
from rapidfuzz.distance import JaroWinkler, Levenshtein

_APOSTROPHES = re.compile(r"['`´’‘]")
_NON_ALNUM = re.compile(r"[^a-z0-9]+")

# Words that say nothing about who someone is.
STOPWORDS = frozenset({"the", "of", "and", "mr", "mrs", "ms", "miss", "dr", "jr", "sr", "mme", "m"})
# Legal-form suffixes: "ACME LTD" and "Acme Limited" are the same name.
COMPANY_SUFFIXES = frozenset(
    {
        "inc", "incorporated", "ltd", "limited", "llc", "llp", "lp", "co", "corp", "corporation",
        "company", "sa", "sas", "sarl", "srl", "spa", "gmbh", "ag", "kg", "plc", "bv", "nv", "cv",
        "oao", "ooo", "zao", "pao", "jsc", "ojsc", "cjsc", "pjsc", "pte", "pvt", "bhd", "sdn",
        "fze", "fzco", "fzc", "fzllc", "sal", "ab", "oy",
    }
)  # fmt: skip
DROPPED = STOPWORDS | COMPANY_SUFFIXES

# Below this a pair of tokens is no evidence at all.
TOKEN_SIMILARITY_MIN = 0.80
SHORT_TOKEN_CHARS = 4
# Weight of the better-covered side; the rest goes to the worse-covered side. A token
# missing on either side (a middle name, a second surname) moves a name into review, not out.
BETTER_SIDE_WEIGHT = 0.65


def reorder_individual(name: str) -> str:
    """OFAC writes individuals "SURNAME, Given names"; people write "Given names Surname"."""
    if name.count(",") == 1:
        last, first = (part.strip() for part in name.split(","))
        if last and first:
            return f"{first} {last}"
    return name


def tokens(name: str) -> tuple[str, ...]:
    text = _APOSTROPHES.sub("", anyascii(name).lower())
    raw = [t for t in _NON_ALNUM.split(text) if t]
    kept = [t for t in raw if t not in DROPPED and len(t) > 1]
    if kept:
        return tuple(kept)
    # A name made only of suffixes or initials ("A.B.", "CO") is still a name.
    return tuple(raw)


def normalize(name: str) -> str:
    return " ".join(tokens(name))


def token_similarity(a: str, b: str) -> float:
    """Jaro-Winkler, tempered by edit distance so short near-misses ("doe"/"dos") stay apart
    while real misspellings of longer tokens ("noriega"/"norega") stay close."""
    if a == b:
        return 1.0
    jw = JaroWinkler.normalized_similarity(a, b)
    if jw < TOKEN_SIMILARITY_MIN:
        return 0.0
    lev = Levenshtein.normalized_similarity(a, b)
    # One letter is a large share of a short token: "ali"/"wali" are different names.
    score = lev if min(len(a), len(b)) <= SHORT_TOKEN_CHARS else (jw + lev) / 2
    return score if score >= TOKEN_SIMILARITY_MIN else 0.0


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
    return round(BETTER_SIDE_WEIGHT * high + (1 - BETTER_SIDE_WEIGHT) * low, 4)
