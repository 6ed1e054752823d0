"""Where a list comes from: a directory with the four CSV files, or a base URL serving them
(OFAC's own export endpoint). Returns the raw bytes plus a version naming their content."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx

REQUIRED_FILE = "sdn.csv"
OPTIONAL_FILES = ("add.csv", "alt.csv", "sdn_comments.csv")
HASH_PREFIX_CHARS = 12


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
        for name in (REQUIRED_FILE, *OPTIONAL_FILES):
            digest.update(name.encode())
            digest.update(hashlib.sha256(self.files.get(name, b"")).digest())
        return f"{self.label}-{digest.hexdigest()[:HASH_PREFIX_CHARS]}"


def is_url(source: str) -> bool:
    return urlsplit(source).scheme in ("http", "https")


def read_directory(directory: Path, bytes_max: int) -> ListFiles:
    if not (directory / REQUIRED_FILE).is_file():
        raise ListSourceError(f"no {REQUIRED_FILE} in the list directory {directory.name!r}")
    files: dict[str, bytes] = {}
    for name in (REQUIRED_FILE, *OPTIONAL_FILES):
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
) -> ListFiles:
    """GET `<base_url>/<file>` for each file; a missing optional file is skipped."""
    files: dict[str, bytes] = {}
    base = base_url.rstrip("/")
    async with httpx.AsyncClient(timeout=timeout_s, transport=transport, follow_redirects=True) as client:
        for name in (REQUIRED_FILE, *OPTIONAL_FILES):
            try:
                data = await _fetch(client, f"{base}/{name}", bytes_max)
            except httpx.HTTPError as exc:
                raise ListSourceError(f"downloading {name} failed ({type(exc).__name__})") from None
            if data is None:
                if name == REQUIRED_FILE:
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
