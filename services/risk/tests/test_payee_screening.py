"""The payee is screened like the payer: the payee account's owner (found through the
account service) and any payee name the request carries go to OFAC. A hit is DENY, a near
match REVIEW, a screening that cannot be made fails closed to REVIEW."""

from __future__ import annotations

import pytest


async def test_paying_a_sanctioned_customers_account_is_denied(assess, fleet, reason_codes) -> None:
    answer = await assess(
        transaction_id="TXN_PAYEE_1", amount="10.00", from_account="ACC001", to_account="ACC003"
    )

    assert answer["decision"] == "DENY", answer
    assert "PAYEE_SANCTIONS_HIT" in reason_codes(answer)
    screened = [check["name"] for check in fleet.screened()]
    assert "Manuel Antonio Noriega" in screened
    payee_checks = [check for check in fleet.screened() if check.get("customer_id") == "cust_003"]
    assert payee_checks, "the payee's owner is screened with their customer id"


async def test_a_sanctioned_payee_name_in_the_request_is_denied(assess, reason_codes) -> None:
    answer = await assess(
        transaction_id="TXN_PAYEE_2", amount="10.00", to_account="ACC002", payee_name="Manuel Antonio Noriega"
    )
    assert answer["decision"] == "DENY" and "PAYEE_SANCTIONS_HIT" in reason_codes(answer)


async def test_a_near_match_on_the_payee_goes_to_review(assess, fleet, reason_codes) -> None:
    fleet.review.add("Jane Doe")
    answer = await assess(transaction_id="TXN_PAYEE_3", amount="10.00", to_account="ACC002")
    assert answer["decision"] == "REVIEW" and "PAYEE_SANCTIONS_REVIEW" in reason_codes(answer)


@pytest.mark.parametrize(("service", "code"), [("ofac", "PAYEE_SANCTIONS_CHECK_UNAVAILABLE")])
async def test_a_payee_screening_that_cannot_be_made_fails_closed(
    assess, fleet, reason_codes, service, code
) -> None:
    fleet.faults[service] = "down"
    answer = await assess(transaction_id="TXN_PAYEE_4", amount="10.00", to_account="ACC002")
    assert answer["decision"] == "REVIEW" and code in reason_codes(answer)


async def test_an_unknown_payee_account_is_denied(assess, reason_codes) -> None:
    answer = await assess(transaction_id="TXN_PAYEE_5", amount="10.00", to_account="ACC404")
    assert answer["decision"] == "DENY" and "PAYEE_NOT_FOUND" in reason_codes(answer)


async def test_a_clear_payee_changes_nothing(assess, reason_codes) -> None:
    answer = await assess(
        transaction_id="TXN_PAYEE_6", amount="10.00", from_account="ACC001", to_account="ACC002"
    )
    assert answer["decision"] == "ALLOW" and reason_codes(answer) == []
    assert answer["factors"]["payee_sanctions_check"] == "OK"


async def test_a_payee_held_by_a_kyc_sanctions_review_is_denied(assess, fleet, reason_codes) -> None:
    # A re-screen after a list update put the payee's owner under a KYC sanctions review; the
    # sanctions list itself no longer matches (e.g. the entry was refined), only KYC holds them.
    fleet.kyc["cust_002"] = {
        "verified": False,
        "status": "MANUAL_REVIEW",
        "tier": 0,
        "limits": None,
        "reasons": ["SANCTIONS_RESCREEN_HIT"],
    }
    answer = await assess(
        transaction_id="TXN_PAYEE_7", amount="10.00", from_account="ACC001", to_account="ACC002"
    )
    assert answer["decision"] == "DENY", answer
    assert "PAYEE_KYC_SANCTIONS_REVIEW" in reason_codes(answer)
    assert "cust_002" in fleet.kyc_asked()


async def test_a_payee_in_an_ordinary_kyc_review_can_be_paid(assess, fleet, reason_codes) -> None:
    fleet.kyc["cust_002"] = {"verified": False, "status": "MANUAL_REVIEW", "tier": 0, "limits": None}
    answer = await assess(
        transaction_id="TXN_PAYEE_8", amount="10.00", from_account="ACC001", to_account="ACC002"
    )
    assert answer["decision"] == "ALLOW" and reason_codes(answer) == []
