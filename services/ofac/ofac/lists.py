"""The loaded list, swapped atomically: a screening takes one reference to the current index
at its start and uses only that, so a reload can never show it half a list."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

import httpx

from .index import ScreeningIndex
from .sdnfile import parse_list
from .sources import ListFiles, ListSourceError, download, is_url, read_directory


@dataclass(frozen=True, slots=True)
class SourceLimits:
    download_timeout_s: float
    file_bytes_max: int


def build_index(files: ListFiles) -> ScreeningIndex:
    """CPU-bound: parse and precompute; run in a worker thread."""
    f = files.files
    entities = parse_list(
        f["sdn.csv"], f.get("add.csv", b""), f.get("alt.csv", b""), f.get("sdn_comments.csv", b"")
    )
    return ScreeningIndex(files.version, list(entities.values()))


class ListHolder:
    def __init__(self, limits: SourceLimits, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._current: ScreeningIndex | None = None
        self._lock = asyncio.Lock()
        self._limits = limits
        self._transport = transport

    @property
    def current(self) -> ScreeningIndex:
        index = self._current
        if index is None:
            raise ListSourceError("no list loaded")
        return index

    @property
    def loaded(self) -> bool:
        return self._current is not None

    async def load(self, source: str) -> ScreeningIndex:
        """Fetch, parse and index the list at `source`, then swap it in. One reload at a time;
        on any failure the current list stays."""
        async with self._lock:
            files = await self._fetch(source)
            index = await asyncio.to_thread(build_index, files)
            self._current = index  # a single reference assignment: the atomic swap
            return index

    async def _fetch(self, source: str) -> ListFiles:
        if is_url(source):
            return await download(
                source,
                timeout_s=self._limits.download_timeout_s,
                bytes_max=self._limits.file_bytes_max,
                transport=self._transport,
            )
        return await asyncio.to_thread(read_directory, Path(source), self._limits.file_bytes_max)
