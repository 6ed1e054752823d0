"""Answers that do not change from one payment to the next, kept a short while.

A customer's name and country (account), their KYC status and tier limits (kyc) and their
sanctions screening (ofac) are the same for every payment they make within seconds; asking
again on every payment was most of risk's round trips. Each cache is bounded (entries) and
expiring (seconds); only usable answers are kept (a failed call is asked again next time).

A kept KYC status or screening is used only while its change mark stands (paykit.marks):
kyc writes a new mark for a customer whenever their status changes, ofac one for the lists
whenever it swaps them, so a customer held or newly listed is seen on their very next
payment. Without marks (no Redis, or Redis not answering in time) those two answers are
asked on every payment and none is kept.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable, Iterable
from dataclasses import dataclass
from typing import Generic, TypeVar

from cachetools import TTLCache
from paykit import marks as change_marks
from paykit.marks import ChangeMarks

from .clients import Customer, KycAnswer, SanctionsAnswer

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
Check = tuple[str | None, str, str | None]  # (customer id, name, country) screened


class AnswerCache(Generic[K, V]):
    def __init__(self, entries_max: int, ttl_s: float) -> None:
        self._entries: TTLCache[K, V] | None = (
            TTLCache(maxsize=entries_max, ttl=ttl_s) if entries_max > 0 and ttl_s > 0 else None
        )

    @property
    def enabled(self) -> bool:
        return self._entries is not None

    async def get_or_load(self, key: K, load: Callable[[], Awaitable[V]]) -> V:
        if self._entries is not None and key in self._entries:
            return self._entries[key]
        value = await load()  # raises on a failed call: nothing is kept
        if self._entries is not None:
            self._entries[key] = value
        return value

    def get(self, key: K) -> V | None:
        return self._entries.get(key) if self._entries is not None else None

    def keep(self, key: K, value: V) -> None:
        if self._entries is not None:
            self._entries[key] = value


class MarkedAnswers(Generic[K, V]):
    """Answers kept with the change mark read before they were asked for."""

    def __init__(self, entries_max: int, ttl_s: float) -> None:
        self._answers: AnswerCache[K, tuple[bytes, V]] = AnswerCache(entries_max, ttl_s)

    @property
    def enabled(self) -> bool:
        return self._answers.enabled

    def current(self, keys: Iterable[tuple[K, bytes]]) -> dict[K, V]:
        """The kept answers among `keys` whose mark is still the given one."""
        found: dict[K, V] = {}
        for key, mark in keys:
            kept = self._answers.get(key)
            if kept is not None and kept[0] == mark:
                found[key] = kept[1]
        return found

    def keep(self, key: K, mark: bytes, value: V) -> None:
        self._answers.keep(key, (mark, value))


@dataclass(frozen=True)
class Marks:
    """The change marks of one assessment, read before anything is asked."""

    kyc: dict[str, bytes]
    sanctions: bytes


@dataclass
class Caches:
    customers: AnswerCache[str, Customer | None]
    kyc: MarkedAnswers[str, KycAnswer | None]
    sanctions: MarkedAnswers[Check, SanctionsAnswer]
    marks: ChangeMarks | None = None

    @classmethod
    def build(
        cls,
        entries_max: int,
        lookup_ttl_s: float,
        kyc_ttl_s: float,
        screening_ttl_s: float,
        marks: ChangeMarks | None = None,
    ) -> Caches:
        return cls(
            customers=AnswerCache(entries_max, lookup_ttl_s),
            kyc=MarkedAnswers(entries_max, kyc_ttl_s),
            sanctions=MarkedAnswers(entries_max, screening_ttl_s),
            marks=marks,
        )

    @classmethod
    def disabled(cls) -> Caches:
        return cls.build(0, 0, 0, 0)

    async def read_marks(self, customer_ids: list[str]) -> Marks | None:
        """The marks of these customers' KYC statuses and of the lists; None: ask for everything
        and keep nothing (no marks, or they could not be read in time)."""
        if self.marks is None or not (self.kyc.enabled or self.sanctions.enabled):
            return None
        names = {change_marks.kyc_status(c): c for c in customer_ids}
        read = await self.marks.read([*names, change_marks.SANCTIONS_LISTS])
        if read is None:
            return None
        return Marks({c: read[name] for name, c in names.items()}, read[change_marks.SANCTIONS_LISTS])
