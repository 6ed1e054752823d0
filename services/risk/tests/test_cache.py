"""Answers that do not change per payment are asked once a while, not on every payment."""

from __future__ import annotations

from .conftest import Assess, FakeFleet


async def test_a_second_payment_reuses_customer_kyc_and_screening(assess: Assess, fleet: FakeFleet) -> None:
    first = await assess(transaction_id="txn_c1", amount_minor=1_000)
    second = await assess(transaction_id="txn_c2", amount_minor=1_000)
    assert first["decision"] == second["decision"] == "ALLOW"
    assert len(fleet.called("account")) == len(fleet.called("ofac")) == len(fleet.called("kyc")) == 1


async def test_a_failed_answer_is_not_kept(assess: Assess, fleet: FakeFleet) -> None:
    fleet.faults["ofac"] = "down"
    assert (await assess(transaction_id="txn_c3", amount_minor=1_000))["decision"] == "REVIEW"
    del fleet.faults["ofac"]
    assert (await assess(transaction_id="txn_c4", amount_minor=1_000))["decision"] == "ALLOW"
    assert len(fleet.called("ofac")) == 2


async def test_a_new_list_version_screens_everyone_again(assess: Assess, fleet: FakeFleet) -> None:
    await assess(transaction_id="txn_c5", customer_id="cust_001", amount_minor=1_000)
    # The list is reloaded and now names John Smith; another customer's screening tells us.
    fleet.sanctioned.add("John Smith")
    fleet.list_version = "sdn-test-2"
    await assess(transaction_id="txn_c6", customer_id="cust_002", amount_minor=1_000)
    again = await assess(transaction_id="txn_c7", customer_id="cust_001", amount_minor=1_000)
    assert again["decision"] == "DENY"
