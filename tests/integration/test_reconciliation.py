"""After all the payments above (completed, failed, declined, timed out at the bank), our
ledger and the bank of record agree to the cent."""

from __future__ import annotations

import time

import httpx
import pytest

pytestmark = pytest.mark.integration


def test_ledger_and_bank_reconcile_with_zero_breaks(services: dict[str, httpx.Client]) -> None:
    deadline = time.monotonic() + 20
    while True:  # a payment the bank still holds as unknown would be a break for one run
        report = services["account"].post("/reconciliation/run")
        assert report.status_code == 200, report.text
        if report.json()["open_breaks"] == 0 or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert report.json()["breaks"] == []
    latest = services["account"].get("/reconciliation/report").json()
    assert latest["run_id"] == report.json()["run_id"]
    metrics = services["account"].get("/metrics").text
    assert "reconciliation_open_breaks 0.0" in metrics
