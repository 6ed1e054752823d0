"""`make service-token` prints a token the named service accepts from the caller."""

from __future__ import annotations

from pathlib import Path

import pytest
from paykit.identity import ServiceIdentity, new_fleet_keys, private_key_text, public_keys_text

from tools import service_token


def test_the_printed_token_is_accepted_by_its_audience(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    keys = new_fleet_keys()
    env_file = tmp_path / "identity.env"
    env_file.write_text("\n".join(f"{n.upper()}_SIGNING_KEY={private_key_text(k)}" for n, k in keys.items()))
    monkeypatch.setenv("ENV_FILE", str(env_file))
    monkeypatch.delenv("OPS_SIGNING_KEY", raising=False)
    public = {n: k.public_key() for n, k in keys.items()}
    account = ServiceIdentity("account", keys["account"], public)
    bank = ServiceIdentity("partner_bank", keys["partner_bank"], public)

    assert service_token.main(["--caller", "ops", "--audience", "account"]) == 0
    token = capsys.readouterr().out.strip()
    assert account.verify(token).service == "ops"
    with pytest.raises(Exception, match="not valid"):
        bank.verify(token)

    service_token.main(["--caller", "ops"])  # no audience: any service
    assert bank.verify(capsys.readouterr().out.strip()).service == "ops"
    assert public_keys_text(public)  # the same keys make-env writes


def test_a_missing_key_says_where_keys_come_from(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENV_FILE", str(tmp_path / "absent.env"))
    with pytest.raises(SystemExit, match="make run"):
        service_token.main(["--caller", "ops"])
