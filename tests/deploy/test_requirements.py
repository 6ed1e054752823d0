"""`make venv` needs only Python: what pip installs with dependencies never reaches the `pyicu`
sdist (it compiles against the system's ICU, libicu-dev and g++), and every requirement has an
exact pin. Walks the installed packages' metadata from the requirement files' names."""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REQUIREMENTS = Path(__file__).resolve().parents[2] / "requirements"
# Installed by the Makefile and the service image with dependencies; no-deps.txt without.
WITH_DEPENDENCIES = ("dev.txt",)
WITHOUT_DEPENDENCIES = ("no-deps.txt",)
NEEDS_A_COMPILER = {"pyicu"}


def names(file: str) -> set[str]:
    found: set[str] = set()
    for raw in (REQUIREMENTS / file).read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if line.startswith("-r "):
            found |= names(line.removeprefix("-r ").strip())
        elif line:
            found.add(canonicalize_name(Requirement(line).name))
    return found


def dependency_closure(roots: set[str]) -> set[str]:
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for spec in metadata.requires(name) or []:
            requirement = Requirement(spec)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(canonicalize_name(requirement.name))
    return seen


def test_nothing_installed_with_its_dependencies_needs_a_compiled_pyicu() -> None:
    roots = set().union(*(names(file) for file in WITH_DEPENDENCIES))
    assert dependency_closure(roots) & NEEDS_A_COMPILER == set()


def test_every_requirement_has_an_exact_pin() -> None:
    constraints = (REQUIREMENTS / "constraints.txt").read_text()
    pins = {canonicalize_name(pin) for pin in re.findall(r"^([A-Za-z0-9._-]+)==\S+$", constraints, re.M)}
    wanted = set().union(*(names(file) for file in WITH_DEPENDENCIES + WITHOUT_DEPENDENCIES))
    assert wanted - pins == set()


PEER = REQUIREMENTS.parent / "benchmarks" / "ofac_eval"


def peer_pins(file: str) -> dict[str, str]:
    pins: dict[str, str] = {}
    for raw in (PEER / file).read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if line:
            requirement = Requirement(line)
            specifier = str(requirement.specifier)
            assert specifier.startswith("=="), f"{file}: {line} is not pinned exactly"
            pins[canonicalize_name(requirement.name)] = specifier
    return pins


def test_the_benchmark_peer_venv_is_pinned_and_never_asks_for_the_pyicu_sdist() -> None:
    """`make bench` builds nomenklatura's venv from these; everything in peer-no-deps.txt is
    installed without its dependencies, so only peer-requirements.txt could pull pyicu in."""
    with_dependencies, without = peer_pins("peer-requirements.txt"), peer_pins("peer-no-deps.txt")
    assert set(with_dependencies) & set(without) == set()
    assert "pyicu-wheels" in with_dependencies
    assert set(with_dependencies) & NEEDS_A_COMPILER == set()
    assert {"nomenklatura", "followthemoney", "rigour", "normality"} <= set(without)
