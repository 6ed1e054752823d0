"""A payment with both accounts costs risk one call to each dependency: account names both
parties, KYC answers for payer and payee together, OFAC screens everyone together; and the
payer screened is the customer the payment is for, whoever the account says owns it."""

from __future__ import annotations

from .conftest import Assess, FakeFleet


async def test_payer_payee_and_payee_name_cost_one_call_per_dependency(
    assess: Assess, fleet: FakeFleet, reason_codes
) -> None:
    answer = await assess(
        transaction_id="TXN_ONE_1",
        amount="10.00",
        from_account="ACC001",
        to_account="ACC002",
        payee_name="Jane Doe",
    )
    assert answer["decision"] == "ALLOW", answer
    assert [path for _, path, _ in fleet.called("account")] == ["/payment-parties"]
    assert [path for _, path, _ in fleet.called("kyc")] == ["/check-statuses"]
    assert [path for _, path, _ in fleet.called("ofac")] == ["/check-sanctions/batch"]
    assert fleet.kyc_asked() == ["cust_001", "cust_002"]
    assert fleet.screened() == [
        {"customer_id": "cust_001", "name": "John Smith", "country": "US"},
        {"customer_id": "cust_002", "name": "Jane Doe", "country": "US"},
        {"customer_id": None, "name": "Jane Doe", "country": None},
    ]


async def test_a_sanctioned_payee_in_the_batch_is_still_denied(
    assess: Assess, fleet: FakeFleet, reason_codes
) -> None:
    answer = await assess(
        transaction_id="TXN_ONE_2", amount="10.00", from_account="ACC001", to_account="ACC003"
    )
    assert answer["decision"] == "DENY"
    assert "PAYEE_SANCTIONS_HIT" in reason_codes(answer)
    assert "SANCTIONS_HIT" not in reason_codes(answer)  # the payer is clear


async def test_the_payer_screened_is_the_customer_paying_not_the_accounts_owner(
    assess: Assess, fleet: FakeFleet, reason_codes
) -> None:
    # cust_003 (listed) claims John Smith's account: risk screens cust_003 by their own record.
    answer = await assess(
        transaction_id="TXN_ONE_3", customer_id="cust_003", amount="10.00", from_account="ACC001"
    )
    assert answer["decision"] == "DENY"
    assert "SANCTIONS_HIT" in reason_codes(answer)
    assert fleet.screened()[0]["customer_id"] == "cust_003"


async def test_a_kyc_held_payer_in_the_batch_is_still_stopped(
    assess: Assess, fleet: FakeFleet, reason_codes
) -> None:
    fleet.kyc["cust_001"] = {
        "verified": False,
        "status": "MANUAL_REVIEW",
        "tier": 0,
        "limits": None,
        "reasons": ["SANCTIONS_RESCREEN_HIT"],
    }
    answer = await assess(
        transaction_id="TXN_ONE_4", amount="10.00", from_account="ACC001", to_account="ACC002"
    )
    assert answer["decision"] == "DENY", answer
    assert "KYC_SANCTIONS_REVIEW" in reason_codes(answer)


async def test_kyc_down_is_unavailable_for_the_payer_not_a_pass(
    assess: Assess, fleet: FakeFleet, reason_codes
) -> None:
    fleet.faults["kyc"] = "down"
    answer = await assess(
        transaction_id="TXN_ONE_5", amount="10.00", from_account="ACC001", to_account="ACC002"
    )
    assert "KYC_CHECK_UNAVAILABLE" in reason_codes(answer)
    assert answer["factors"]["kyc_check"] == "UNAVAILABLE"
    assert answer["factors"]["kyc_verified"] is False
