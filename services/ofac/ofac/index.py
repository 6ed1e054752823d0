"""An immutable, precomputed screening index over one loaded list.

Built once per load (normalised tokens of every primary name and alias, the vocabulary of
distinct tokens, an inverted index token -> names, and a phonetic index sound key -> tokens).
Blocking: a search compares the query's few tokens with the vocabulary tokens of the lengths
that can be similar (a length index), in C (rapidfuzz), looks up their sound keys, and scores
only the names that share a similar or same-sounding token, so one screening over ~20k names
takes a few milliseconds.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime

from rapidfuzz import process
from rapidfuzz.distance import JaroWinkler

from .common_names import COMMON_NAME_PARTS
from .countries import country_key
from .names import (
    BETTER_SIDE_WEIGHT,
    SINGLE_TOKEN_SIDE_WEIGHT,
    TOKEN_SIMILARITY_MIN,
    lengths_can_match,
    name_score,
    phonetic_key,
    reorder_individual,
    token_similarity,
    tokens,
)
from .sdnfile import Entity

LIST_NAME = "OFAC_SDN"
SIMILAR_CACHE_ENTRIES_MAX = 50_000
# A token on this many listed parties' names is common there ("trading", "mohammad").
COMMON_TOKEN_ENTITIES_MIN = 8
# An organisation's name of this many words is distinctive whatever the words.
ORG_WORDS_DISTINCTIVE = 3
# A name shorter than this (letters) is short enough to be shared by many people.
DISTINCTIVE_CHARS_MIN = 10
# An individual's first given name and surname, without the middle names: a match on it
# counts a little less than one on the listed name, and is never exact.
SHORT_FORM = "short_form"
SHORT_FORM_FACTOR = 0.95
GIVEN_NAMES_MIN = 2


def short_forms(listed: str) -> list[str]:
    if listed.count(",") != 1:
        return []
    last, first = (p.strip() for p in listed.split(","))
    given = first.split()
    if len(given) < GIVEN_NAMES_MIN or not last:
        return []
    return [f"{given[0]} {last}"]


@dataclass(frozen=True, slots=True)
class IndexedName:
    entity_index: int
    text: str
    kind: str  # primary | aka | fka | nka | short_form
    tokens: tuple[str, ...]
    chars: int  # letters in the tokens, precomputed: the scorer's hot loop reads it


def _score_bound(
    pairs: dict[tuple[int, int], float], weights: list[int], total: int, name: IndexedName
) -> float:
    """An upper bound of `name_score` from each side's best pair per token: cheap, and it
    drops the thousands of names that share only a common word ("al", "trading")."""
    q_best: dict[int, float] = {}
    n_best: dict[int, float] = {}
    for (i, j), s in pairs.items():
        if s > q_best.get(i, 0.0):
            q_best[i] = s
        if s > n_best.get(j, 0.0):
            n_best[j] = s
    q_cover = min(1.0, sum(weights[i] * s for i, s in q_best.items()) / total)
    n_cover = min(1.0, sum(len(name.tokens[j]) * s for j, s in n_best.items()) / name.chars)
    high, low = max(q_cover, n_cover), min(q_cover, n_cover)
    return BETTER_SIDE_WEIGHT * high + (1 - BETTER_SIDE_WEIGHT) * low


@dataclass(frozen=True, slots=True)
class _Floors:
    """The name score a candidate needs: lower for the entities in `lifted`."""

    default: float
    lifted: frozenset[int]
    lifted_min: float | None

    @property
    def lowest(self) -> float:
        if self.lifted and self.lifted_min is not None:
            return min(self.default, self.lifted_min)
        return self.default

    def of(self, entity_index: int) -> float:
        if self.lifted_min is not None and entity_index in self.lifted:
            return self.lifted_min
        return self.default


@dataclass(frozen=True, slots=True)
class Filters:
    countries: frozenset[str] = frozenset()  # country keys
    entity_types: frozenset[str] = frozenset()
    programs: frozenset[str] = frozenset()

    @classmethod
    def build(cls, country: str | None, entity_type: str | None, program: str | None) -> Filters:
        def split(value: str | None) -> list[str]:
            return [v.strip() for v in (value or "").split(",") if v.strip()]

        return cls(
            countries=frozenset(country_key(c) for c in split(country)),
            entity_types=frozenset(t.lower() for t in split(entity_type)),
            programs=frozenset(p.upper() for p in split(program)),
        )


@dataclass(frozen=True, slots=True)
class Match:
    entity: Entity
    matched_name: str
    matched_kind: str
    score: float
    # The query is this listed name after normalisation (same tokens, any order).
    exact: bool = False
    # The listed name has a part that is not a common name part...
    distinctive: bool = False
    # ...and is long enough to be rare: an exact match on it can block on its own.
    rare: bool = False


@dataclass
class ScreeningIndex:
    version: str
    entities: list[Entity]
    loaded_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    # List name -> version, for every list in this index (each match says its list's version).
    source_versions: dict[str, str] = field(default_factory=dict)
    names: list[IndexedName] = field(init=False, default_factory=list)
    vocabulary: list[str] = field(init=False, default_factory=list)
    _postings: dict[str, list[tuple[int, int]]] = field(init=False, default_factory=dict)
    _countries: list[frozenset[str]] = field(init=False, default_factory=list)
    _similar_cache: dict[str, dict[str, float]] = field(init=False, default_factory=dict)
    _neighbours: dict[str, dict[str, float]] = field(init=False, default_factory=dict)
    _sounds: dict[str, list[str]] = field(init=False, default_factory=dict)
    _by_length: dict[int, list[str]] = field(init=False, default_factory=dict)
    _names_of: dict[str, list[int]] = field(init=False, default_factory=dict)
    _longest_share: list[float] = field(init=False, default_factory=list)
    _by_birth_year: dict[int, set[int]] = field(init=False, default_factory=dict)
    _by_id_number: dict[str, set[int]] = field(init=False, default_factory=dict)
    _all_countries: list[frozenset[str]] = field(init=False, default_factory=list)
    _common: frozenset[str] = field(init=False, default_factory=frozenset)
    _frequent: frozenset[str] = field(init=False, default_factory=frozenset)
    _position: dict[tuple[str, str], int] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        postings: dict[str, list[tuple[int, int]]] = defaultdict(list)
        for e_index, entity in enumerate(self.entities):
            for birth in entity.identity.birth_dates:
                self._by_birth_year.setdefault(birth.year, set()).add(e_index)
            for number in entity.identity.id_numbers:
                self._by_id_number.setdefault(number, set()).add(e_index)
            self._position[(entity.source, entity.entity_id)] = e_index
            self._countries.append(frozenset(country_key(c) for c in entity.countries))
            self._all_countries.append(frozenset(country_key(c) for c in entity.all_countries))
            primary = reorder_individual(entity.name) if entity.entity_type == "individual" else entity.name
            seen: set[tuple[str, ...]] = set()
            candidates = [(entity.name, "primary", primary)]
            for alias in entity.aliases:
                shown = reorder_individual(alias.name) if entity.entity_type == "individual" else alias.name
                candidates.append((alias.name, alias.alias_type, shown))
            if entity.entity_type == "individual":
                # "RADKOV, Aleksandr Mikhailovich" is often written "Aleksandr Radkov".
                candidates.extend((entity.name, SHORT_FORM, s) for s in short_forms(entity.name))
            for text, kind, shown in candidates:
                toks = tokens(shown)
                if not toks or toks in seen:
                    continue
                seen.add(toks)
                n_index = len(self.names)
                self.names.append(IndexedName(e_index, text, kind, toks, sum(len(t) for t in toks)))
                for position, token in enumerate(toks):
                    postings[token].append((n_index, position))
        self._postings = dict(postings)
        self._longest_share = [max(len(t) for t in n.tokens) / n.chars for n in self.names]
        self._names_of = {t: sorted({n for n, _ in posts}) for t, posts in self._postings.items()}
        self.vocabulary = list(self._postings)
        sounds: dict[str, list[str]] = defaultdict(list)
        for token in self.vocabulary:
            sounds[phonetic_key(token)].append(token)
        self._sounds = dict(sounds)
        by_length: dict[int, list[str]] = defaultdict(list)
        for token in self.vocabulary:
            by_length[len(token)].append(token)
        self._by_length = dict(by_length)
        entities_of = {
            t: len({self.names[n].entity_index for n, _ in posts}) for t, posts in self._postings.items()
        }
        frequent = {t for t, count in entities_of.items() if count >= COMMON_TOKEN_ENTITIES_MIN}
        self._frequent = frozenset(frequent)
        # The list's frequent tokens (Muhammad, Ahmed, Trading) are in most screened names:
        # their neighbourhoods are part of the index, so no screening scans for them.
        self._neighbours = {t: self._scan(t) for t in sorted(frequent)}
        self._common = COMMON_NAME_PARTS | frequent

    def countries_of_entity(self, entity: Entity) -> frozenset[str]:
        """Country keys of addresses, nationalities and flag."""
        return self._all_countries[self._position[(entity.source, entity.entity_id)]]

    def distinctive(self, name_tokens: tuple[str, ...], entity_type: str = "individual") -> bool:
        """Not made only of common parts. People's given names and surnames are common
        worldwide; an organisation's or a vessel's name is common only when it is short and
        made of words many listed names share ("trading company")."""
        if entity_type == "individual":
            return any(t not in self._common for t in name_tokens)
        return len(name_tokens) >= ORG_WORDS_DISTINCTIVE or any(t not in self._frequent for t in name_tokens)

    def identified_by(self, birth_year: int | None, id_numbers: frozenset[str]) -> frozenset[int]:
        """Positions of the entities born in `birth_year` or holding one of `id_numbers`:
        the only ones an agreeing identifier can lift into the bands."""
        found: set[int] = set(self._by_birth_year.get(birth_year, ())) if birth_year else set()
        for number in id_numbers:
            found.update(self._by_id_number.get(number, ()))
        return frozenset(found)

    @property
    def entity_count(self) -> int:
        return len(self.entities)

    def entity_ids(self) -> frozenset[str]:
        return frozenset(e.entity_id for e in self.entities)

    def search(
        self,
        query: str,
        *,
        limit: int,
        min_score: float,
        filters: Filters | None = None,
        lifted: frozenset[int] = frozenset(),
        lifted_min_score: float | None = None,
    ) -> list[Match]:
        """The best-scoring entities for `query` (best name of each), best first. The
        entities at positions `lifted` need only `lifted_min_score` (an identifier of theirs
        agrees with the query's and lifts the score)."""
        query_tokens = tokens(query)
        if not query_tokens or limit <= 0:
            return []
        similar = [self._similar_tokens(q) for q in query_tokens]
        weights = [len(t) for t in query_tokens]
        total = sum(weights)
        floors = _Floors(min_score, lifted, lifted_min_score)
        best: dict[int, Match] = {}
        for n_index in self._candidates(similar, weights, floors):
            name = self.names[n_index]
            floor = floors.of(name.entity_index)
            pairs = {
                (i, j): s
                for j, token in enumerate(name.tokens)
                for i, sims in enumerate(similar)
                if (s := sims.get(token, 0.0)) > 0
            }
            if _score_bound(pairs, weights, total, name) < floor:
                continue
            if filters is not None and not self._passes(name.entity_index, filters):
                continue
            score = name_score(query_tokens, name.tokens, pairs)
            short = name.kind == SHORT_FORM
            if short:
                score = round(score * SHORT_FORM_FACTOR, 4)
            current = best.get(name.entity_index)
            if score >= floor and (current is None or score > current.score):
                entity = self.entities[name.entity_index]
                exact = not short and score >= 1.0 and len(name.tokens) == len(query_tokens)
                # What makes a person's name distinctive must be in what matched: "Diego
                # Gomez" is not "VILLEGAS GOMEZ, Diego" just because VILLEGAS is rare.
                matched = (
                    tuple({name.tokens[j] for (_, j) in pairs})
                    if entity.entity_type == "individual"
                    else name.tokens
                )
                distinctive = self.distinctive(matched, entity.entity_type)
                rare = distinctive and name.chars >= DISTINCTIVE_CHARS_MIN
                best[name.entity_index] = Match(entity, name.text, name.kind, score, exact, distinctive, rare)
        ranked = sorted(best.values(), key=lambda m: (-m.score, m.entity.entity_id))
        return ranked[:limit]

    def _candidates(self, similar: list[dict[str, float]], weights: list[int], floors: _Floors) -> list[int]:
        """Names that can reach their floor. Even with the listed name fully covered, the
        score stays below the floor unless the query's covered share reaches `needed`; so a
        name must share a token with the rarest query tokens whose weight exceeds the rest
        (prefix filtering): names sharing only a common word ("al") are never visited. Of
        those, a name whose shared query tokens cannot cover that share is dropped before
        any pairing ("Ali" alone in "Narges Ali Mohammadi"): most candidates of a query made
        of common names share one of them only."""
        total = sum(weights)
        needed = (floors.lowest - BETTER_SIDE_WEIGHT) / (1 - BETTER_SIDE_WEIGHT) * total
        hit_by: list[set[int]] = []
        for sims in similar:
            names: set[int] = set()
            for token in sims:
                names.update(self._names_of[token])
            hit_by.append(names)
        rest = total
        candidates: set[int] = set()
        for i in sorted(range(len(similar)), key=lambda k: len(hit_by[k])):
            if rest < needed:
                break
            rest -= weights[i]
            candidates |= hit_by[i]
        # Names sharing two or more query tokens: weighed one by one (set algebra in C
        # finds them). A name sharing one token only is kept by that token's weight alone.
        multi: set[int] = set()
        for i in range(len(hit_by)):
            for k in range(i + 1, len(hit_by)):
                multi |= hit_by[i] & hit_by[k]
        multi &= candidates

        def shared_share(n_index: int) -> float:
            return sum(w for w, names in zip(weights, hit_by, strict=True) if n_index in names) / total

        multi_weight = 1 - BETTER_SIDE_WEIGHT
        kept = [
            n
            for n in multi
            if BETTER_SIDE_WEIGHT + multi_weight * shared_share(n) >= floors.of(self.names[n].entity_index)
        ]
        for weight, names in zip(weights, hit_by, strict=True):
            share = weight / total
            if SINGLE_TOKEN_SIDE_WEIGHT + (1 - SINGLE_TOKEN_SIDE_WEIGHT) * share < floors.lowest:
                continue
            # One query token pairs with one name token: the name's covered share is at most
            # its longest token's ("Mukhammad" in "MUHAMMAD, Abd al-Rahman Ali").
            for n_index in (names & candidates) - multi:
                longest = self._longest_share[n_index]
                high, low = max(share, longest), min(share, longest)
                bound = SINGLE_TOKEN_SIDE_WEIGHT * high + (1 - SINGLE_TOKEN_SIDE_WEIGHT) * low
                if bound >= floors.of(self.names[n_index].entity_index):
                    kept.append(n_index)
        return sorted(kept)  # names in index order: on a tie, an entity shows its primary name

    def _similar_tokens(self, token: str) -> dict[str, float]:
        """Vocabulary tokens similar to `token`, memoised: the same customers are screened
        on every payment, so their tokens come back again and again."""
        cached = self._neighbours.get(token) or self._similar_cache.get(token)
        if cached is not None:
            return cached
        similar = self._scan(token)
        if len(self._similar_cache) >= SIMILAR_CACHE_ENTRIES_MAX:
            self._similar_cache.clear()
        self._similar_cache[token] = similar
        return similar

    def _scan(self, token: str) -> dict[str, float]:
        similar: dict[str, float] = {}
        # Only the lengths that can be similar by spelling: half the vocabulary or less.
        for length, bucket in self._by_length.items():
            if not lengths_can_match(len(token), length):
                continue
            hits = process.extract(
                token,
                bucket,
                scorer=JaroWinkler.normalized_similarity,
                score_cutoff=TOKEN_SIMILARITY_MIN,
                limit=None,
            )
            similar.update((t, s) for t, _, _ in hits if (s := token_similarity(token, t)) > 0)
        # Same sound, other spelling (Mohammed/Muhammad, Umar/Omar): the phonetic block.
        for other in self._sounds.get(phonetic_key(token), ()):
            if other not in similar and (s := token_similarity(token, other)) > 0:
                similar[other] = s
        return similar

    def _passes(self, entity_index: int, filters: Filters) -> bool:
        entity = self.entities[entity_index]
        if filters.entity_types and entity.entity_type not in filters.entity_types:
            return False
        if filters.programs and not filters.programs.intersection(entity.programs):
            return False
        return not (filters.countries and not filters.countries & self._countries[entity_index])
