"""The loaded lists, swapped atomically: a screening takes one reference to the current index
at its start and uses only that, so a reload can never show it half a list.

Several lists (OFAC SDN and Consolidated in CSV or XML, FollowTheMoney JSON) are fetched and
parsed each on its own and screened as one index; every entity remembers its list, and the
index each list's version. A refresh that fails keeps that list's last good version (and its
age shows how stale it is); a list that shrank suspiciously is refused the same way. When a
refresh brings new or changed parties, `on_change` hears which (re-screening).

Risk keeps screenings between payments while the lists' change mark stands (paykit.marks):
a load or refresh renews it before anything may change (and is refused, changing nothing,
when it cannot) and again once the new index is in place.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import httpx
from paykit.marks import SANCTIONS_LISTS, ChangeMarks, MarksUnavailable

from .index import ScreeningIndex
from .listformats import parse_advanced_xml, parse_ftm
from .sdnfile import Entity, ListFormatError, parse_list
from .sources import (
    CONSOLIDATED_FILES,
    SDN_FILES,
    FileSet,
    ListFiles,
    ListSourceError,
    download,
    download_file,
    is_url,
    read_directory,
    read_file,
)

log = logging.getLogger("ofac.lists")
ListFormat = Literal["ofac_csv", "ofac_cons_csv", "ofac_xml", "ftm"]
FORMATS: tuple[ListFormat, ...] = ("ofac_csv", "ofac_cons_csv", "ofac_xml", "ftm")
CSV_FILES: dict[str, FileSet] = {"ofac_csv": SDN_FILES, "ofac_cons_csv": CONSOLIDATED_FILES}


class ListShrankError(ListSourceError):
    """The new version has far fewer parties than the one in use: a truncated download or a
    broken export is likelier than a mass delisting, so it is not swapped in."""


@dataclass(frozen=True, slots=True)
class SourceLimits:
    download_timeout_s: float
    file_bytes_max: int
    # Refuse a new version with fewer than (1 - this) times the parties of the current one.
    shrink_max: float = 0.2


@dataclass(frozen=True, slots=True)
class ListSpec:
    """One configured list: `NAME=format:location`, e.g. `OFAC_SDN=ofac_csv:https://...`."""

    name: str
    format: ListFormat
    location: str

    @classmethod
    def parse(cls, text: str) -> ListSpec:
        name, sep, rest = text.partition("=")
        fmt, sep2, location = rest.partition(":")
        if not (sep and sep2 and name.strip() and location.strip()) or fmt not in FORMATS:
            raise ValueError(
                f"a list is NAME=format:location with format one of {', '.join(FORMATS)}: {text!r}"
            )
        return cls(name.strip(), fmt, location.strip())


@dataclass
class ListState:
    """One list as the service holds it: its last good version and how its refreshes went."""

    spec: ListSpec
    version: str | None = None
    entities: list[Entity] = field(default_factory=list)
    loaded_at: datetime | None = None  # last time it was fetched and found good
    changed_at: datetime | None = None  # last time its version changed
    last_attempt_at: datetime | None = None
    last_error: str | None = None
    failures: int = 0

    def age_s(self, now: datetime) -> float | None:
        return (now - self.loaded_at).total_seconds() if self.loaded_at else None


@dataclass(frozen=True, slots=True)
class Change:
    """What a refresh brought: parties added to or changed on a list."""

    list_name: str
    version: str
    previous_version: str | None
    parties: list[Entity]


ChangeHandler = Callable[[ScreeningIndex, Change], Awaitable[None]]


def parse_files(spec: ListSpec, files: ListFiles) -> dict[str, Entity]:
    f = files.files
    if spec.format in CSV_FILES:
        names = CSV_FILES[spec.format].names
        return parse_list(*(f.get(n, b"") for n in names), source=spec.name)
    data = next(iter(f.values()), b"")
    if spec.format == "ofac_xml":
        return parse_advanced_xml(data, source=spec.name)
    return parse_ftm(data, source=spec.name)


def _fingerprint(entity: Entity) -> tuple[object, ...]:
    """What screening reads of a party: a change in any of it is a change to re-screen."""
    return (
        entity.name,
        entity.entity_type,
        tuple(sorted(a.name for a in entity.aliases)),
        tuple(entity.identity.birth_dates),
        tuple(sorted(entity.identity.id_numbers)),
        tuple(entity.all_countries),
    )


def changed_parties(before: list[Entity], after: list[Entity]) -> list[Entity]:
    old = {e.entity_id: _fingerprint(e) for e in before}
    return [e for e in after if old.get(e.entity_id) != _fingerprint(e)]


def build_index(files: ListFiles, spec: ListSpec | None = None) -> ScreeningIndex:
    """One list on its own (tools, tests, benchmarks). CPU-bound."""
    spec = spec or ListSpec("OFAC_SDN", "ofac_csv", files.label)
    entities = parse_files(spec, files)
    return ScreeningIndex(files.version, list(entities.values()), source_versions={spec.name: files.version})


class ListChangeUnannounced(Exception):
    """The lists' change mark could not be written, so no list was changed."""


class ListHolder:
    def __init__(
        self,
        specs: list[ListSpec],
        limits: SourceLimits,
        transport: httpx.AsyncBaseTransport | None = None,
        on_change: ChangeHandler | None = None,
    ) -> None:
        if not specs:
            raise ValueError("at least one list must be configured")
        self._states = {s.name: ListState(s) for s in specs}
        self._current: ScreeningIndex | None = None
        self._lock = asyncio.Lock()
        self._limits = limits
        self._transport = transport
        self.on_change = on_change
        self.marks: ChangeMarks | None = None

    @property
    def current(self) -> ScreeningIndex:
        index = self._current
        if index is None:
            raise ListSourceError("no list loaded")
        return index

    @property
    def loaded(self) -> bool:
        return self._current is not None

    @property
    def primary(self) -> ListSpec:
        return next(iter(self._states.values())).spec

    def states(self) -> list[ListState]:
        return list(self._states.values())

    async def load(self, location: str | None = None) -> ScreeningIndex:
        """Fetch the primary list (from `location` when given, else its configured place), then
        swap it in. Errors propagate; the lists in use stay."""
        spec = self.primary
        if location is not None:
            spec = ListSpec(spec.name, spec.format, location)
        async with self._lock, self._announced():
            change = await self._load_one(spec)
            index = await self._swap()
        await self._notify(index, [change] if change else [])
        return index

    async def refresh(self) -> dict[str, str | None]:
        """Every configured list from its configured place; a failure is recorded, not raised.
        Returns list name -> error (None when it is good)."""
        outcome: dict[str, str | None] = {}
        changes: list[Change] = []
        async with self._lock:
            try:
                await self._announce_before()
            except ListChangeUnannounced as exc:
                return {name: str(exc) for name in self._states}
            for state in self._states.values():
                try:
                    change = await self._load_one(state.spec)
                except (ListSourceError, ListFormatError) as exc:
                    outcome[state.spec.name] = str(exc)
                    continue
                outcome[state.spec.name] = None
                if change:
                    changes.append(change)
            index = await self._swap() if any(s.version for s in self._states.values()) else None
            await self._announce_after()
        if index is not None:
            await self._notify(index, changes)
        return outcome

    async def _announce_before(self) -> None:
        if self.marks is not None:
            try:
                await self.marks.renew(SANCTIONS_LISTS)
            except MarksUnavailable as exc:
                raise ListChangeUnannounced(f"lists not reloaded: {exc}") from exc

    async def _announce_after(self) -> None:
        if self.marks is not None:
            await self.marks.renew_after(SANCTIONS_LISTS)

    @contextlib.asynccontextmanager
    async def _announced(self) -> AsyncIterator[None]:
        await self._announce_before()
        try:
            yield
        finally:
            await self._announce_after()

    async def _load_one(self, spec: ListSpec) -> Change | None:
        state = self._states[spec.name]
        now = datetime.now(UTC)
        state.last_attempt_at = now
        try:
            files = await self._fetch(spec)
            if files.version == state.version:
                state.loaded_at, state.last_error = now, None
                return None
            entities = list((await asyncio.to_thread(parse_files, spec, files)).values())
            self._check_shrink(state, entities)
        except (ListSourceError, ListFormatError) as exc:
            state.failures += 1
            state.last_error = str(exc)
            log.warning("list %s not refreshed, keeping %s: %s", spec.name, state.version, exc)
            raise
        change = None
        if state.version is not None:
            change = Change(
                spec.name, files.version, state.version, changed_parties(state.entities, entities)
            )
        state.version, state.entities = files.version, entities
        state.loaded_at = state.changed_at = now
        state.last_error = None
        return change

    def _check_shrink(self, state: ListState, entities: list[Entity]) -> None:
        before = len(state.entities)
        if before and len(entities) < before * (1 - self._limits.shrink_max):
            raise ListShrankError(
                f"{state.spec.name} shrank from {before} to {len(entities)} parties; keeping {state.version}"
            )

    async def _swap(self) -> ScreeningIndex:
        loaded = [s for s in self._states.values() if s.version]
        versions = {s.spec.name: s.version or "" for s in loaded}
        # One list keeps its own version as the index's; several name theirs.
        version = loaded[0].version if len(loaded) == 1 else "+".join(f"{n}:{v}" for n, v in versions.items())
        entities = [e for s in loaded for e in s.entities]
        index = await asyncio.to_thread(ScreeningIndex, version or "", entities, source_versions=versions)
        self._current = index  # a single reference assignment: the atomic swap
        return index

    async def _notify(self, index: ScreeningIndex, changes: list[Change]) -> None:
        if self.on_change is None:
            return
        for change in changes:
            if change.parties:
                await self.on_change(index, change)

    async def _fetch(self, spec: ListSpec) -> ListFiles:
        limits = self._limits
        single = spec.format not in CSV_FILES
        if is_url(spec.location):
            if single:
                return await download_file(
                    spec.location,
                    timeout_s=limits.download_timeout_s,
                    bytes_max=limits.file_bytes_max,
                    transport=self._transport,
                )
            return await download(
                spec.location,
                timeout_s=limits.download_timeout_s,
                bytes_max=limits.file_bytes_max,
                transport=self._transport,
                file_set=CSV_FILES[spec.format],
            )
        path = Path(spec.location)
        if single:
            return await asyncio.to_thread(read_file, path, limits.file_bytes_max)
        return await asyncio.to_thread(read_directory, path, limits.file_bytes_max, CSV_FILES[spec.format])
