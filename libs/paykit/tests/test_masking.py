"""Logs never carry a secret, an OTP, a token or a full account number."""

from __future__ import annotations

import io
import json
import logging

from paykit.logs import configure_logging
from paykit.masking import Masked, scrub


def test_scrub_masks_secrets_and_account_numbers() -> None:
    record = {
        "otp": "123456",
        "password": "hunter2",
        "nested": {"access_token": "eyJ.x.y", "from_account": "ACC001"},
        "note": "paid from ACC001 with Bearer eyJhbGciOi.abc.def",
    }
    cleaned = scrub(record)
    text = json.dumps(cleaned)
    for leaked in ("123456", "hunter2", "eyJ", "ACC001"):
        assert leaked not in text
    assert cleaned["nested"]["from_account"] == "***001"


def test_log_lines_are_json_with_service_and_masked_values() -> None:
    stream = io.StringIO()
    configure_logging("probe")
    handler = logging.getLogger().handlers[0]
    handler.setStream(stream)  # type: ignore[attr-defined]
    logging.getLogger("probe").info("code %s for ACC002", Masked("654321"), extra={"otp": "654321"})
    line = json.loads(stream.getvalue().strip().splitlines()[-1])
    assert line["service"] == "probe" and "trace_id" in line
    assert "654321" not in json.dumps(line) and "ACC002" not in line["message"]
