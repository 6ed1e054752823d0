"""docker-compose.yml as data: load (with override files), interpolate `${VAR...}` the way
Compose does, and read what each container is given. Used by the compose tests
(tests/deploy) and by the stack-as-processes test (tests/integration/test_stack.py), so both
read the file an engine would read instead of a hand-written copy of it."""

from __future__ import annotations

import re
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from dotenv import dotenv_values

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "docker-compose.yml"
DEMO_FILE = REPO / "docker" / "compose.demo.yml"
MAKE_ENV = REPO / "docker" / "make-env.sh"
ENV_EXAMPLE = REPO / ".env.example"
MAKE_ENV_TIMEOUT_S = 120

# ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, ${VAR?error}, ${VAR:+alt}, $VAR; $$ is a $.
_VARIABLE = re.compile(
    r"\$(?:(?P<escaped>\$)|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}"
    r"|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))"
)


class InterpolationError(ValueError):
    """A required variable (`${VAR:?...}`) is unset, as `docker compose config` would say."""


def load(*paths: Path) -> dict[str, Any]:
    """The compose model of `docker compose -f a -f b`: later files merged into earlier ones."""
    model: dict[str, Any] = {}
    for path in paths or (COMPOSE_FILE,):
        model = _merge(model, yaml.safe_load(path.read_text()) or {})
    return model


def _merge(base: Any, override: Any) -> Any:
    if isinstance(base, dict) and isinstance(override, dict):
        merged = dict(base)
        for key, value in override.items():
            merged[key] = _merge(base[key], value) if key in base else value
        return merged
    if isinstance(base, list) and isinstance(override, list):
        return base + [item for item in override if item not in base]
    return override


def variables_in(text: str) -> set[str]:
    return {m.group("braced") or m.group("bare") for m in _VARIABLE.finditer(text) if not m.group("escaped")}


def required_variables(text: str) -> set[str]:
    return {m.group("braced") for m in _VARIABLE.finditer(text) if m.group("op") in (":?", "?")}


def interpolate(value: str, variables: Mapping[str, str]) -> str:
    def one(match: re.Match[str]) -> str:
        if match.group("escaped"):
            return "$"
        name = match.group("braced") or match.group("bare")
        op, arg = match.group("op") or "", match.group("arg") or ""
        present = name in variables
        current = variables.get(name, "")
        if op == ":-":
            return current or arg
        if op == "-":
            return current if present else arg
        if (op == ":?" and not current) or (op == "?" and not present):
            raise InterpolationError(f"{name}: {arg}")
        if op == ":+":
            return arg if current else ""
        if op == "+":
            return arg if present else ""
        return current

    return _VARIABLE.sub(one, value)


def environment(service: Mapping[str, Any], variables: Mapping[str, str]) -> dict[str, str]:
    """The environment compose gives a container (the `environment:` mapping, interpolated)."""
    raw = service.get("environment") or {}
    if isinstance(raw, list):
        raw = dict(item.split("=", 1) if "=" in item else (item, variables.get(item, "")) for item in raw)
    return {key: interpolate(_scalar(value), variables) for key, value in raw.items()}


def raw_environment(service: Mapping[str, Any]) -> dict[str, str]:
    raw = service.get("environment") or {}
    if isinstance(raw, list):
        raw = dict(item.split("=", 1) if "=" in item else (item, "") for item in raw)
    return {key: _scalar(value) for key, value in raw.items()}


def _scalar(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def make_env() -> dict[str, str]:
    """A fresh .env exactly as docker/make-env.sh writes it, parsed as compose parses it."""
    with tempfile.TemporaryDirectory(prefix="make-env-") as tmp:
        out = Path(tmp) / ".env"
        subprocess.run(
            ["bash", str(MAKE_ENV), str(out)], check=True, capture_output=True, timeout=MAKE_ENV_TIMEOUT_S
        )
        return {k: v or "" for k, v in dotenv_values(out).items()}


def example_variables() -> set[str]:
    return set(re.findall(r"^([A-Z0-9_]+)=", ENV_EXAMPLE.read_text(), flags=re.MULTILINE))


def bind_mounts(service: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(host path relative to the repository, container path) of every bind mount."""
    mounts = []
    for volume in service.get("volumes") or []:
        if isinstance(volume, str):
            parts = volume.split(":")
            if parts[0].startswith((".", "/")):
                mounts.append((parts[0], parts[1]))
        elif volume.get("type") == "bind":
            mounts.append((volume["source"], volume["target"]))
    return mounts
