"""Only confirm may ask the bank to move money; account (reconciliation) and ops may read."""

from __future__ import annotations

from paykit.testing import service_headers

from .conftest import Bank


async def test_only_confirm_may_process_a_transfer(bank: Bank) -> None:
    await bank.open_account("PAYER1", 10_000)
    await bank.open_account("PAYEE1", 0)
    body = {"reference": "ref-callers", "from_account": "PAYER1", "to_account": "PAYEE1", "amount_minor": 100}
    for signed, status, code in [
        ({"Authorization": ""}, 401, "SERVICE_TOKEN_REQUIRED"),
        (service_headers("account", "partner_bank"), 403, "CALLER_NOT_ALLOWED"),
        (service_headers("gateway", "partner_bank", subject="cust_001"), 403, "CALLER_NOT_ALLOWED"),
        (service_headers("ops", "partner_bank"), 403, "CALLER_NOT_ALLOWED"),
    ]:
        response = await bank.client.post("/process-transfer", json=body, headers=signed)
        assert (response.status_code, response.json()["code"]) == (status, code)
    assert await bank.balances("PAYER1", "PAYEE1") == {"PAYER1": 10_000, "PAYEE1": 0}
    done = await bank.client.post(
        "/process-transfer", json=body, headers=service_headers("confirm", "partner_bank")
    )
    assert done.status_code == 200 and done.json()["status"] == "COMPLETED"


async def test_reconciliation_reads_but_the_gateway_does_not(bank: Bank) -> None:
    await bank.open_account("READ1", 500)
    path = "/accounts/READ1/balance"
    assert (
        await bank.client.get(path, headers=service_headers("account", "partner_bank"))
    ).status_code == 200
    assert (
        await bank.client.get(path, headers=service_headers("gateway", "partner_bank"))
    ).status_code == 403
    assert (
        await bank.client.get("/admin/faults", headers=service_headers("confirm", "partner_bank"))
    ).status_code == 403
