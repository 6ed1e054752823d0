"""Which nginx `make run` (and the integration fleet) puts in front of the gateways: the one on
PATH, else the one Debian installs in /usr/sbin, which is off a non-root user's PATH; without
any, `make run` starts one gateway and only a fleet that asks for nginx refuses to start."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.devstack import nginx
from tools.devstack.fleet import Fleet


@pytest.fixture
def sbin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty PATH and an sbin directory standing in for /usr/sbin."""
    empty, sbin = tmp_path / "bin", tmp_path / "sbin"
    empty.mkdir()
    sbin.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.setattr(nginx, "NGINX_OFF_PATH", (sbin / "nginx",))
    return sbin


def _install(directory: Path) -> Path:
    binary = directory / "nginx"
    binary.write_text("#!/bin/sh\n")
    binary.chmod(0o755)
    return binary


def test_nginx_off_path_in_sbin_is_found(sbin: Path, tmp_path: Path) -> None:
    binary = _install(sbin)
    assert Fleet(tmp_path / "data", use_nginx=True).nginx() == str(binary)
    assert Fleet(tmp_path / "data").nginx() == str(binary)


def test_without_nginx_make_run_has_one_gateway_and_an_nginx_fleet_refuses(
    sbin: Path, tmp_path: Path
) -> None:
    assert Fleet(tmp_path / "data").nginx() is None
    with pytest.raises(RuntimeError, match="nginx was asked for but is not installed"):
        Fleet(tmp_path / "data", use_nginx=True).nginx()


def test_no_nginx_wins_over_an_installed_one(sbin: Path, tmp_path: Path) -> None:
    _install(sbin)
    assert Fleet(tmp_path / "data", use_nginx=False).nginx() is None
