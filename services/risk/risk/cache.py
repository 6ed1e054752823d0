"""Answers that do not change from one payment to the next, kept a short while.

A customer's name and country (account), their KYC status and tier limits (kyc) and their
sanctions screening (ofac) are the same for every payment they make within seconds; asking
again on every payment was most of risk's round trips. Each cache is bounded (entries) and
expiring (seconds); only usable answers are kept (a failed call is asked again next time).
Screenings are also tied to the sanctions list version: the first answer that names a new
version empties the screening cache, so a list reload is never hidden behind it for longer
than one expiry. That expiry is still too long for a newly listed or KYC-held customer (they
could pay or be paid until it passed), so the KYC and screening caches are off by default
(risk/main.py); only the customer details cache is on.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable, Iterable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from cachetools import TTLCache

from .clients import Customer, KycAnswer, SanctionsAnswer

K = TypeVar("K", bound=Hashable)
_MISSING: Any = object()
V = TypeVar("V")


class AnswerCache(Generic[K, V]):
    def __init__(self, entries_max: int, ttl_s: float) -> None:
        self._entries: TTLCache[K, V] | None = (
            TTLCache(maxsize=entries_max, ttl=ttl_s) if entries_max > 0 and ttl_s > 0 else None
        )

    async def get_or_load(self, key: K, load: Callable[[], Awaitable[V]]) -> V:
        if self._entries is not None and key in self._entries:
            return self._entries[key]
        value = await load()  # raises on a failed call: nothing is kept
        if self._entries is not None:
            self._entries[key] = value
        return value

    def cached(self, keys: Iterable[K]) -> dict[K, V]:
        """The kept answers among `keys` (a batch asks only for the others)."""
        if self._entries is None:
            return {}
        found: dict[K, V] = {}
        for key in keys:
            value = self._entries.get(key, _MISSING)
            if value is not _MISSING:
                found[key] = value
        return found

    def keep(self, key: K, value: V) -> None:
        if self._entries is not None:
            self._entries[key] = value

    def clear(self) -> None:
        if self._entries is not None:
            self._entries.clear()


@dataclass
class Caches:
    customers: AnswerCache[str, Customer | None]
    kyc: AnswerCache[str, KycAnswer | None]
    sanctions: AnswerCache[tuple[str | None, str, str | None], SanctionsAnswer]
    list_version: str | None = None

    @classmethod
    def build(cls, entries_max: int, lookup_ttl_s: float, kyc_ttl_s: float, screening_ttl_s: float) -> Caches:
        return cls(
            customers=AnswerCache(entries_max, lookup_ttl_s),
            kyc=AnswerCache(entries_max, kyc_ttl_s),
            sanctions=AnswerCache(entries_max, screening_ttl_s),
        )

    @classmethod
    def disabled(cls) -> Caches:
        return cls.build(0, 0, 0, 0)

    def saw_list_version(self, version: str | None) -> None:
        if version is not None and version != self.list_version:
            if self.list_version is not None:
                self.sanctions.clear()
            self.list_version = version
