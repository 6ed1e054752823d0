"""Confirm has just read both parties of a payment from account when it asks for an
assessment, so it sends them along (`parties`) and risk does not ask account again. Risk
still screens and KYC-checks both parties and applies every rule: only where the names come
from changes. Without `parties` (another caller, an older confirm) risk asks account as
before; a malformed `parties` is a 422 problem and nothing is assessed."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from .conftest import Assess, FakeFleet

PROBLEM_JSON = "application/problem+json"


def party(
    number: str, owner: str | None, name: str | None = None, country: str | None = "US"
) -> dict[str, Any]:
    """A party as account's GET /payment-parties names it (customer null: no details known)."""
    customer = None if name is None else {"customer_id": owner, "full_name": name, "country": country}
    return {"account_number": number, "customer_id": owner, "customer": customer}


JOHN = party("ACC001", "cust_001", "John Smith")
JANE = party("ACC002", "cust_002", "Jane Doe")
NORIEGA = party("ACC003", "cust_003", "Manuel Antonio Noriega", "PA")
# What the first of two assessments of one customer adds to the second one's history.
HISTORY = ("transactions_in_window", "daily_total_minor")


def factors(answer: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in answer["factors"].items() if k not in HISTORY}


async def test_given_parties_are_screened_without_asking_account(assess: Assess, fleet: FakeFleet) -> None:
    fleet.faults["account"] = "down"  # asking it would make the payer's check UNAVAILABLE
    answer = await assess(
        transaction_id="TXN_GIVEN_1",
        amount="10.00",
        from_account="ACC001",
        to_account="ACC002",
        parties={"payer": JOHN, "payee": JANE},
    )
    assert answer["decision"] == "ALLOW", answer
    assert fleet.called("account") == []
    assert fleet.kyc_asked() == ["cust_001", "cust_002"]
    assert fleet.screened() == [
        {"customer_id": "cust_001", "name": "John Smith", "country": "US"},
        {"customer_id": "cust_002", "name": "Jane Doe", "country": "US"},
    ]


async def test_without_parties_risk_asks_account_once(assess: Assess, fleet: FakeFleet) -> None:
    answer = await assess(
        transaction_id="TXN_GIVEN_2", amount="10.00", from_account="ACC001", to_account="ACC002"
    )
    assert answer["decision"] == "ALLOW", answer
    assert [(m, p) for m, p, _ in fleet.called("account")] == [("GET", "/payment-parties")]


async def test_without_parties_an_unreachable_account_is_still_unavailable(
    assess: Assess, fleet: FakeFleet, reason_codes
) -> None:
    fleet.faults["account"] = "down"
    answer = await assess(
        transaction_id="TXN_GIVEN_3", amount="10.00", from_account="ACC001", to_account="ACC002"
    )
    assert answer["decision"] != "ALLOW", answer
    assert fleet.called("account")


@pytest.mark.parametrize(
    ("payer", "payee", "code"),
    [
        (JOHN, NORIEGA, "PAYEE_SANCTIONS_HIT"),
        (party("ACC003", "cust_003", "Manuel Antonio Noriega", "PA"), JANE, "SANCTIONS_HIT"),
    ],
)
async def test_a_sanctioned_party_given_is_denied_as_one_read_from_account(
    assess: Assess, fleet: FakeFleet, reason_codes, payer: dict[str, Any], payee: dict[str, Any], code: str
) -> None:
    customer_id = payer["customer_id"]
    terms = {"customer_id": customer_id, "amount": "10.00"}
    terms |= {"from_account": payer["account_number"], "to_account": payee["account_number"]}
    fetched = await assess(transaction_id="TXN_GIVEN_4A", **terms)
    fleet.faults["account"] = "down"
    given = await assess(transaction_id="TXN_GIVEN_4B", parties={"payer": payer, "payee": payee}, **terms)
    assert given["decision"] == fetched["decision"] == "DENY", given
    assert code in reason_codes(given)
    assert reason_codes(given) == reason_codes(fetched)
    assert factors(given) == factors(fetched)
    assert [p for _, p, _ in fleet.called("account")] == ["/payment-parties"]  # the first assessment's


async def test_an_unverified_payer_given_is_handled_as_one_read_from_account(
    assess: Assess, fleet: FakeFleet, reason_codes
) -> None:
    fleet.kyc["cust_001"] = {"verified": False, "status": "UNVERIFIED", "tier": 0, "limits": None}
    terms = {"amount": "6000.00", "from_account": "ACC001", "to_account": "ACC002"}
    fetched = await assess(transaction_id="TXN_GIVEN_5A", **terms)
    fleet.faults["account"] = "down"
    given = await assess(transaction_id="TXN_GIVEN_5B", parties={"payer": JOHN, "payee": JANE}, **terms)
    assert given["decision"] == fetched["decision"] == "CHALLENGE", given
    assert "KYC_NOT_VERIFIED" in reason_codes(given)
    assert reason_codes(given) == reason_codes(fetched)
    assert factors(given) == factors(fetched)


async def test_an_unknown_payee_account_given_is_denied(
    assess: Assess, fleet: FakeFleet, reason_codes
) -> None:
    fleet.faults["account"] = "down"
    answer = await assess(
        transaction_id="TXN_GIVEN_6",
        amount="10.00",
        from_account="ACC001",
        to_account="ACC404",
        parties={"payer": JOHN, "payee": None},
    )
    assert answer["decision"] == "DENY" and "PAYEE_NOT_FOUND" in reason_codes(answer)
    assert fleet.called("account") == []


async def test_a_payer_account_of_someone_else_screens_the_customer_paying(
    assess: Assess, fleet: FakeFleet, reason_codes
) -> None:
    # cust_003 (listed) names John Smith's account: as today, risk screens cust_003's own record.
    answer = await assess(
        transaction_id="TXN_GIVEN_7",
        customer_id="cust_003",
        amount="10.00",
        from_account="ACC001",
        to_account="ACC002",
        parties={"payer": JOHN, "payee": JANE},
    )
    assert answer["decision"] == "DENY" and "SANCTIONS_HIT" in reason_codes(answer)
    assert [p for _, p, _ in fleet.called("account")] == ["/customers/cust_003"]


def _bad(parties: Any, **terms: Any) -> dict[str, Any]:
    body = {"transaction_id": "TXN_GIVEN_BAD", "customer_id": "cust_001", "amount": "10.00"}
    return {**body, "from_account": "ACC001", "to_account": "ACC002", **terms, "parties": parties}


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(_bad({"payer": JANE, "payee": JANE}), id="payer-is-not-from-account"),
        pytest.param(_bad({"payer": JOHN, "payee": JOHN}), id="payee-is-not-to-account"),
        pytest.param(_bad({"payer": JOHN, "payee": JANE}, to_account=None), id="payee-without-to-account"),
        pytest.param(_bad({"payer": JOHN}), id="payee-left-out"),
        pytest.param(_bad({"payer": JOHN, "payee": JANE, "extra": 1}), id="unknown-field"),
        pytest.param(
            _bad({"payer": {**JOHN, "customer_id": None}, "payee": JANE}), id="customer-without-owner"
        ),
        pytest.param(
            _bad(
                {
                    "payer": {**JOHN, "customer": {**JOHN["customer"], "customer_id": "cust_002"}},
                    "payee": JANE,
                }
            ),
            id="customer-of-another-owner",
        ),
        pytest.param(
            _bad({"payer": party("ACC001", "cust_001", "J" * 1001), "payee": JANE}), id="name-too-long"
        ),
        pytest.param(_bad({"payer": party("ACC001", "cust_001", ""), "payee": JANE}), id="empty-name"),
        pytest.param(_bad({"payer": party("ACC001", "x" * 65, "John"), "payee": JANE}), id="id-too-long"),
        pytest.param(
            _bad({"payer": party("ACC001", "cust_001", "John", "USA"), "payee": JANE}), id="country"
        ),
        pytest.param(_bad({"payer": {**JOHN, "account_number": 1}, "payee": JANE}), id="number-not-text"),
        pytest.param(_bad([JOHN, JANE]), id="not-an-object"),
    ],
)
async def test_malformed_parties_are_a_422_problem_and_nothing_is_assessed(
    risk: httpx.AsyncClient, fleet: FakeFleet, body: dict[str, Any]
) -> None:
    response = await risk.post("/assess-risk", json=body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    assert fleet.calls == []
    stored = await risk.get("/assessments", params={"transaction_id": "TXN_GIVEN_BAD"})
    assert stored.status_code == 200 and stored.json()["assessments"] == []
