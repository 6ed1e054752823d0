"""An immutable, precomputed screening index over one loaded list.

Built once per load (normalised tokens of every primary name and alias, the vocabulary of
distinct tokens, and an inverted index token -> names). A search compares the query's few
tokens with the whole vocabulary in C (rapidfuzz), and scores only the names that share a
similar token, so one screening over ~20k names takes a few milliseconds.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime

from rapidfuzz import process
from rapidfuzz.distance import JaroWinkler

from .countries import country_key
from .names import TOKEN_SIMILARITY_MIN, name_score, reorder_individual, token_similarity, tokens
from .sdnfile import Entity

LIST_NAME = "OFAC_SDN"


@dataclass(frozen=True, slots=True)
class IndexedName:
    entity_index: int
    text: str
    kind: str  # primary | aka | fka | nka
    tokens: tuple[str, ...]


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


@dataclass
class ScreeningIndex:
    version: str
    entities: list[Entity]
    loaded_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    names: list[IndexedName] = field(init=False, default_factory=list)
    vocabulary: list[str] = field(init=False, default_factory=list)
    _postings: dict[str, list[tuple[int, int]]] = field(init=False, default_factory=dict)
    _countries: list[frozenset[str]] = field(init=False, default_factory=list)

    def __post_init__(self) -> None:
        postings: dict[str, list[tuple[int, int]]] = defaultdict(list)
        for e_index, entity in enumerate(self.entities):
            self._countries.append(frozenset(country_key(c) for c in entity.countries))
            primary = reorder_individual(entity.name) if entity.entity_type == "individual" else entity.name
            seen: set[tuple[str, ...]] = set()
            candidates = [(entity.name, "primary", primary)]
            for alias in entity.aliases:
                shown = reorder_individual(alias.name) if entity.entity_type == "individual" else alias.name
                candidates.append((alias.name, alias.alias_type, shown))
            for text, kind, shown in candidates:
                toks = tokens(shown)
                if not toks or toks in seen:
                    continue
                seen.add(toks)
                n_index = len(self.names)
                self.names.append(IndexedName(e_index, text, kind, toks))
                for position, token in enumerate(toks):
                    postings[token].append((n_index, position))
        self._postings = dict(postings)
        self.vocabulary = list(self._postings)

    @property
    def entity_count(self) -> int:
        return len(self.entities)

    def entity_ids(self) -> frozenset[str]:
        return frozenset(e.entity_id for e in self.entities)

    def search(
        self, query: str, *, limit: int, min_score: float, filters: Filters | None = None
    ) -> list[Match]:
        """The best-scoring entities for `query` (best name of each), best first."""
        query_tokens = tokens(query)
        if not query_tokens or limit <= 0:
            return []
        pairs = self._candidate_pairs(query_tokens)
        weights = [len(t) for t in query_tokens]
        total = sum(weights)
        best: dict[int, Match] = {}
        for n_index, name_pairs in pairs.items():
            # Upper bound: every matched query token matched perfectly.
            covered = {i for i, _ in name_pairs}
            if sum(weights[i] for i in covered) / total < min_score:
                continue
            name = self.names[n_index]
            if filters is not None and not self._passes(name.entity_index, filters):
                continue
            score = name_score(query_tokens, name.tokens, name_pairs)
            current = best.get(name.entity_index)
            if score >= min_score and (current is None or score > current.score):
                entity = self.entities[name.entity_index]
                best[name.entity_index] = Match(entity, name.text, name.kind, score)
        ranked = sorted(best.values(), key=lambda m: (-m.score, m.entity.entity_id))
        return ranked[:limit]

    def _candidate_pairs(self, query_tokens: tuple[str, ...]) -> dict[int, dict[tuple[int, int], float]]:
        pairs: dict[int, dict[tuple[int, int], float]] = defaultdict(dict)
        for i, q in enumerate(query_tokens):
            hits = process.extract(
                q,
                self.vocabulary,
                scorer=JaroWinkler.normalized_similarity,
                score_cutoff=TOKEN_SIMILARITY_MIN,
                limit=None,
            )
            for token, _, _ in hits:
                similarity = token_similarity(q, token)
                if similarity <= 0:
                    continue
                for n_index, position in self._postings[token]:
                    pairs[n_index][(i, position)] = similarity
        return pairs

    def _passes(self, entity_index: int, filters: Filters) -> bool:
        entity = self.entities[entity_index]
        if filters.entity_types and entity.entity_type not in filters.entity_types:
            return False
        if filters.programs and not filters.programs.intersection(entity.programs):
            return False
        return not (filters.countries and not filters.countries & self._countries[entity_index])
