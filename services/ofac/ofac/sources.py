"""Where a list comes from: a directory with the CSV files, or a base URL serving them (OFAC's
own export endpoint); or one file (XML, FollowTheMoney JSON) on disk or at a URL. Returns the
raw bytes plus a version naming their content."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx

REQUIRED_FILE = "sdn.csv"
OPTIONAL_FILES = ("add.csv", "alt.csv", "sdn_comments.csv")
HASH_PREFIX_CHARS = 12


@dataclass(frozen=True, slots=True)
class FileSet:
    """The files of one list: the one it cannot do without, and the ones that add to it."""

    required: str
    optional: tuple[str, ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        return (self.required, *self.optional)


SDN_FILES = FileSet(REQUIRED_FILE, OPTIONAL_FILES)
CONSOLIDATED_FILES = FileSet("cons_prim.csv", ("cons_add.csv", "cons_alt.csv", "cons_comments.csv"))


class ListSourceError(Exception):
    """The list could not be fetched or read; the current list stays in place."""


@dataclass(frozen=True, slots=True)
class ListFiles:
    label: str
    files: dict[str, bytes]

    @property
    def version(self) -> str:
        """`<label>-<sha256 prefix>` of the files' bytes: the same files give the same version."""
        digest = hashlib.sha256()
        for name in sorted(self.files):
            digest.update(name.encode())
            digest.update(hashlib.sha256(self.files.get(name, b"")).digest())
        return f"{self.label}-{digest.hexdigest()[:HASH_PREFIX_CHARS]}"


def is_url(source: str) -> bool:
    return urlsplit(source).scheme in ("http", "https")


def read_file(path: Path, bytes_max: int) -> ListFiles:
    """One file that is the whole list (XML, FollowTheMoney JSON)."""
    if not path.is_file():
        raise ListSourceError(f"no list file {path.name!r}")
    if path.stat().st_size > bytes_max:
        raise ListSourceError(f"{path.name} is larger than {bytes_max} bytes")
    return ListFiles(label=path.stem.split(".")[0] or "list", files={path.name: path.read_bytes()})


async def download_file(
    url: str, *, timeout_s: float, bytes_max: int, transport: httpx.AsyncBaseTransport | None = None
) -> ListFiles:
    name = urlsplit(url).path.rsplit("/", 1)[-1] or "list"
    async with httpx.AsyncClient(timeout=timeout_s, transport=transport, follow_redirects=True) as client:
        try:
            data = await _fetch(client, url, bytes_max)
        except httpx.HTTPError as exc:
            raise ListSourceError(f"downloading {name} failed ({type(exc).__name__})") from None
    if data is None:
        raise ListSourceError(f"{name} not found at the list URL")
    return ListFiles(label=name.split(".")[0], files={name: data})


def read_directory(directory: Path, bytes_max: int, file_set: FileSet = SDN_FILES) -> ListFiles:
    if not (directory / file_set.required).is_file():
        raise ListSourceError(f"no {file_set.required} in the list directory {directory.name!r}")
    files: dict[str, bytes] = {}
    for name in file_set.names:
        path = directory / name
        if path.is_file():
            if path.stat().st_size > bytes_max:
                raise ListSourceError(f"{name} is larger than {bytes_max} bytes")
            files[name] = path.read_bytes()
    return ListFiles(label=directory.name or "list", files=files)


async def download(
    base_url: str,
    *,
    timeout_s: float,
    bytes_max: int,
    transport: httpx.AsyncBaseTransport | None = None,
    file_set: FileSet = SDN_FILES,
) -> ListFiles:
    """GET `<base_url>/<file>` for each file; a missing optional file is skipped."""
    files: dict[str, bytes] = {}
    base = base_url.rstrip("/")
    async with httpx.AsyncClient(timeout=timeout_s, transport=transport, follow_redirects=True) as client:
        for name in file_set.names:
            try:
                data = await _fetch(client, f"{base}/{name}", bytes_max)
            except httpx.HTTPError as exc:
                raise ListSourceError(f"downloading {name} failed ({type(exc).__name__})") from None
            if data is None:
                if name == file_set.required:
                    raise ListSourceError(f"{name} not found at the list URL")
                continue
            files[name] = data
    host = urlsplit(base_url).hostname or "url"
    return ListFiles(label=host.split(".")[0], files=files)


async def _fetch(client: httpx.AsyncClient, url: str, bytes_max: int) -> bytes | None:
    async with client.stream("GET", url) as response:
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise ListSourceError(f"the list URL answered {response.status_code}")
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > bytes_max:
                raise ListSourceError(f"a list file is larger than {bytes_max} bytes")
            chunks.append(chunk)
        return b"".join(chunks)
