"""POST /assess-risk applies each rule of v1: the seed's scores, velocity from the risk
service's own history, sanctions decisions and KYC tier limits."""

from __future__ import annotations

import pytest
import yaml
from paykit.testing import running_app
from pydantic import ValidationError
from risk.main import create_app
from risk.rules import DEFAULT_RULES_FILE


async def test_low_risk_payment_in_the_seeds_body_is_allowed(assess, fleet, reason_codes) -> None:
    answer = await assess(transaction_id="TXN_LOW_1", customer_id="cust_001", amount=1000.00)

    assert answer["decision"] == "ALLOW"
    assert answer["risk_score"] == 0
    assert answer["risk_level"] == "LOW"
    assert reason_codes(answer) == []
    assert answer["rules_version"] == "v1"
    assert answer["amount_minor"] == 100_000
    assert answer["amount"] == "1000.00"
    assert answer["transaction_id"] == "TXN_LOW_1"
    assert answer["assessment_id"]
    assert answer["factors"]["kyc_verified"] is True
    assert answer["factors"]["sanctions"] is False
    # OFAC screened the customer's name and country as account knows them.
    assert fleet.screened() == [{"customer_id": "cust_001", "name": "John Smith", "country": "US"}]
    assert fleet.kyc_asked() == ["cust_001"]


@pytest.mark.parametrize(
    ("amount", "score", "decision", "level"),
    [
        ("5000.00", 0, "ALLOW", "LOW"),
        ("5000.01", 30, "ALLOW", "LOW"),
        ("10000.00", 30, "ALLOW", "LOW"),
        ("10000.01", 50, "CHALLENGE", "HIGH"),
    ],
)
async def test_amount_rules_are_exclusive_and_cumulative(assess, amount, score, decision, level) -> None:
    answer = await assess(transaction_id="TXN_AMT", amount=amount)

    assert (answer["risk_score"], answer["decision"], answer["risk_level"]) == (score, decision, level)


async def test_amount_minor_is_the_contracts_field(assess, reason_codes) -> None:
    answer = await assess(transaction_id="TXN_MINOR", amount_minor=1_200_000)

    assert answer["amount_minor"] == 1_200_000
    assert reason_codes(answer) == ["AMOUNT_OVER_5000", "AMOUNT_OVER_10000"]
    assert answer["decision"] == "CHALLENGE"


async def test_unverified_customer_scores_40_and_large_payments_are_challenged(assess, reason_codes) -> None:
    small = await assess(transaction_id="TXN_U1", customer_id="cust_002", amount="100.00")
    large = await assess(transaction_id="TXN_U2", customer_id="cust_002", amount="6000.00")

    assert (small["risk_score"], small["decision"]) == (40, "ALLOW")
    assert reason_codes(small) == ["KYC_NOT_VERIFIED"]
    assert small["factors"]["kyc_verified"] is False
    assert (large["risk_score"], large["decision"], large["risk_level"]) == (70, "CHALLENGE", "HIGH")


async def test_customer_unknown_to_kyc_counts_as_unverified(assess, fleet, reason_codes) -> None:
    del fleet.kyc["cust_001"]

    answer = await assess(transaction_id="TXN_NOKYC", amount="10.00")

    assert answer["risk_score"] == 40
    assert reason_codes(answer) == ["KYC_NOT_VERIFIED"]


async def test_velocity_rule_fires_after_six_prior_payments(assess, reason_codes) -> None:
    for n in range(5):
        await assess(transaction_id=f"TXN_V{n}", amount="10.00")
    after_five = await assess(transaction_id="TXN_V_CHECK_5", amount="10.00")
    # That check was itself the 6th payment of the day.
    after_six = await assess(transaction_id="TXN_V_CHECK_6", amount="10.00")

    assert "HIGH_VELOCITY" not in reason_codes(after_five)
    assert after_five["factors"]["transactions_in_window"] == 5
    assert reason_codes(after_six) == ["HIGH_VELOCITY"]
    assert after_six["risk_score"] == 25
    assert after_six["factors"]["transactions_in_window"] == 6
    assert after_six["factors"]["frequency"] is True


async def test_velocity_counts_transactions_not_assessments(assess, reason_codes) -> None:
    for _ in range(8):
        await assess(transaction_id="TXN_SAME", amount="10.00")
    await assess(transaction_id="TXN_OTHER", amount="10.00")

    answer = await assess(transaction_id="TXN_SAME", amount="10.00")

    assert answer["factors"]["transactions_in_window"] == 1
    assert "HIGH_VELOCITY" not in reason_codes(answer)


async def test_velocity_is_per_customer(assess, reason_codes) -> None:
    for n in range(7):
        await assess(transaction_id=f"TXN_C1_{n}", customer_id="cust_001", amount="10.00")

    answer = await assess(transaction_id="TXN_C2", customer_id="cust_002", amount="10.00")

    assert answer["factors"]["transactions_in_window"] == 0
    assert "HIGH_VELOCITY" not in reason_codes(answer)


async def test_sanctions_hit_is_denied_never_challenged(assess, reason_codes) -> None:
    # 12,000.00 scores 50, which alone would ask for an OTP: a sanctioned party must not get one.
    answer = await assess(transaction_id="TXN_SDN", customer_id="cust_003", amount="12000.00")

    assert answer["decision"] == "DENY"
    assert answer["risk_level"] == "HIGH"
    assert "SANCTIONS_HIT" in reason_codes(answer)
    assert answer["factors"]["sanctions"] is True
    assert answer["factors"]["sanctions_matches"] == 1


async def test_small_payment_of_sanctioned_customer_is_denied(assess, reason_codes) -> None:
    answer = await assess(transaction_id="TXN_SDN_SMALL", customer_id="cust_003", amount="1.00")

    assert answer["decision"] == "DENY"
    assert reason_codes(answer) == ["SANCTIONS_HIT"]


async def test_ofac_review_band_goes_to_review(assess, fleet, reason_codes) -> None:
    fleet.review.add("John Smith")

    answer = await assess(transaction_id="TXN_REVIEW", amount="10.00")

    assert answer["decision"] == "REVIEW"
    assert reason_codes(answer) == ["SANCTIONS_REVIEW"]


async def test_over_the_per_payment_limit_is_denied(assess, fleet, reason_codes) -> None:
    fleet.kyc["cust_001"]["limits"] = {"currency": "USD", "per_payment_minor": 100_000, "daily_minor": None}

    at_limit = await assess(transaction_id="TXN_PP1", amount="1000.00")
    over = await assess(transaction_id="TXN_PP2", amount="1000.01")

    assert at_limit["decision"] == "ALLOW"
    assert over["decision"] == "DENY"
    assert reason_codes(over) == ["KYC_LIMIT_EXCEEDED"]
    assert over["reasons"][0]["detail"].startswith("per_payment_minor")


async def test_daily_limit_counts_allowed_and_challenged_payments_once(assess, fleet, reason_codes) -> None:
    limits = {"currency": "USD", "per_payment_minor": 250_000, "daily_minor": 300_000}
    fleet.kyc["cust_001"]["limits"] = limits

    first = await assess(transaction_id="TXN_D1", amount="1000.00")
    denied = await assess(transaction_id="TXN_D2", amount="4000.00")  # per-payment: not spent
    second = await assess(transaction_id="TXN_D3", amount="2000.00")  # 1000 + 2000 = the limit
    again = await assess(transaction_id="TXN_D1", amount="1000.00")  # re-assessed: not counted twice
    over = await assess(transaction_id="TXN_D4", amount="0.01")

    assert [first["decision"], denied["decision"], second["decision"], again["decision"]] == [
        "ALLOW",
        "DENY",
        "ALLOW",
        "ALLOW",
    ]
    assert over["decision"] == "DENY"
    assert reason_codes(over) == ["KYC_LIMIT_EXCEEDED"]
    assert over["reasons"][0]["detail"].startswith("daily_minor")
    assert over["factors"]["daily_total_minor"] == 300_001


async def test_limits_in_another_currency_go_to_review(assess, fleet, reason_codes) -> None:
    fleet.kyc["cust_001"]["limits"] = {"currency": "EUR", "per_payment_minor": 100, "daily_minor": 100}

    answer = await assess(transaction_id="TXN_EUR", amount="10.00")

    assert answer["decision"] == "REVIEW"
    assert reason_codes(answer) == ["KYC_LIMIT_CURRENCY_MISMATCH"]


async def test_rules_file_is_chosen_by_settings(risk_settings, fleet, tmp_path) -> None:
    data = yaml.safe_load(DEFAULT_RULES_FILE.read_text())
    data["version"] = "v1-strict"
    data["score"]["challenge_min"] = 40
    path = tmp_path / "strict.yaml"
    path.write_text(yaml.safe_dump(data))
    settings = risk_settings.model_copy(update={"risk_rules_file": str(path)})

    async with running_app(create_app(settings, transports=fleet.transports())) as client:
        response = await client.post(
            "/assess-risk", json={"transaction_id": "TXN_STRICT", "customer_id": "cust_002", "amount": "5.00"}
        )

    assert response.json()["rules_version"] == "v1-strict"
    assert response.json()["decision"] == "CHALLENGE"


def test_service_refuses_to_start_with_weakened_rules(risk_settings, tmp_path) -> None:
    data = yaml.safe_load(DEFAULT_RULES_FILE.read_text())
    data["decision_rules"]["SANCTIONS_HIT"] = "CHALLENGE"
    path = tmp_path / "weak.yaml"
    path.write_text(yaml.safe_dump(data))

    with pytest.raises(ValidationError, match="SANCTIONS_HIT"):
        create_app(risk_settings.model_copy(update={"risk_rules_file": str(path)}))
