"""The bank moves money exactly once per reference and refuses what its rules refuse."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import pytest
from partner_bank.domain import (
    DEFAULT_DECLINE_CODE,
    AccountSnapshot,
    BankPolicy,
    TransferCommand,
    screen_transfer,
)
from partner_bank.store import TRANSFERS_LOCK_KEY

if TYPE_CHECKING:
    from .conftest import Bank, BankFactory

PAYER, PAYEE = "PAYER1", "PAYEE1"


@pytest.fixture
async def funded(bank: Bank) -> Bank:
    await bank.open_account(PAYER, 100_000_00)  # 100,000.00: room above the 50,000.00 limit
    await bank.open_account(PAYEE, 5_00)
    return bank


def body(reference: str, amount: Any = "250.00", **extra: Any) -> dict[str, Any]:
    return {"reference": reference, "from_account": PAYER, "to_account": PAYEE, "amount": amount, **extra}


async def test_completed_transfer_moves_money_and_keeps_the_seed_shape(funded: Bank) -> None:
    response = await funded.transfer(**body("pay_1", 250.00))

    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["success"] is True
    assert answer["status"] == "COMPLETED"
    assert answer["reference"] == "pay_1"
    assert answer["reference_number"].startswith("BNK")
    assert answer["processed_amount"] == "250.00"
    assert answer["processed_amount_minor"] == 250_00
    assert answer["processing_fee"] == "2.50"
    assert answer["currency"] == "USD"
    assert answer["estimated_settlement"] > answer["processed_at"]
    assert await funded.balances(PAYER, PAYEE) == {PAYER: 99_750_00, PAYEE: 255_00}


async def test_amount_minor_is_accepted_instead_of_amount(funded: Bank) -> None:
    response = await funded.transfer(reference="pay_m", from_account=PAYER, to_account=PAYEE, amount_minor=1)

    assert response.json()["processed_amount"] == "0.01"
    assert await funded.balance_minor(PAYEE) == 5_01


async def test_repeated_reference_executes_once_and_answers_the_first_result(funded: Bank) -> None:
    first = (await funded.transfer(**body("pay_2"))).json()
    repeats = [(await funded.transfer(**body("pay_2", "250"))).json() for _ in range(3)]

    for repeat in repeats:
        assert repeat["reference_number"] == first["reference_number"]
        assert repeat["status"] == "COMPLETED"
        assert repeat["replayed"] is True
    assert first["replayed"] is False
    assert await funded.balances(PAYER, PAYEE) == {PAYER: 99_750_00, PAYEE: 255_00}
    assert [t["reference"] for t in await funded.all_transfers()] == ["pay_2"]


async def test_twenty_concurrent_calls_with_one_reference_execute_once(funded: Bank) -> None:
    responses = await asyncio.gather(*(funded.transfer(**body("pay_race")) for _ in range(20)))

    assert {r.status_code for r in responses} == {200}
    answers = [r.json() for r in responses]
    assert len({a["reference_number"] for a in answers}) == 1
    assert sorted(a["replayed"] for a in answers) == [False] + [True] * 19
    assert await funded.balances(PAYER, PAYEE) == {PAYER: 99_750_00, PAYEE: 255_00}
    assert len(await funded.all_transfers()) == 1


async def test_concurrent_transfers_never_overdraw(bank: Bank) -> None:
    await bank.open_account("SMALL", 1_000_00)
    await bank.open_account("SINK", 0)

    responses = await asyncio.gather(
        *(
            bank.transfer(reference=f"drain_{i}", from_account="SMALL", to_account="SINK", amount="100.00")
            for i in range(20)
        )
    )

    statuses = sorted(r.json()["status"] for r in responses)
    assert statuses == ["COMPLETED"] * 10 + ["REJECTED"] * 10
    assert {r.json().get("error_code") for r in responses} == {None, "INSUFFICIENT_FUNDS"}
    assert await bank.balances("SMALL", "SINK") == {"SMALL": 0, "SINK": 1_000_00}


async def test_concurrent_retries_of_a_refused_transfer_answer_one_refusal(funded: Bank) -> None:
    poor = {"reference": "poor_race", "from_account": PAYEE, "to_account": PAYER, "amount": "5.01"}

    responses = await asyncio.gather(*(funded.transfer(**poor) for _ in range(10)))

    answers = [r.json() for r in responses]
    assert {(a["status"], a["error_code"]) for a in answers} == {("REJECTED", "INSUFFICIENT_FUNDS")}
    assert len({a["reference_number"] for a in answers}) == 1
    assert sorted(a["replayed"] for a in answers) == [False] + [True] * 9
    assert await funded.balances(PAYER, PAYEE) == {PAYER: 100_000_00, PAYEE: 5_00}


async def test_concurrent_calls_with_one_reference_and_other_amounts_move_money_once(funded: Bank) -> None:
    amounts = [f"{n}.00" for n in range(1, 11)]

    responses = await asyncio.gather(*(funded.transfer(**body("pay_mixed", a)) for a in amounts))

    executed = [r.json() for r in responses if r.status_code == 200 and not r.json()["replayed"]]
    assert len(executed) == 1
    winner = executed[0]["processed_amount_minor"]
    for response in responses:
        if response.status_code == 409:
            assert response.json()["code"] == "REFERENCE_CONFLICT"
        else:
            assert response.json()["reference_number"] == executed[0]["reference_number"]
    assert sum(r.status_code == 409 for r in responses) == 9
    assert await funded.balances(PAYER, PAYEE) == {PAYER: 100_000_00 - winner, PAYEE: 5_00 + winner}


async def test_same_reference_with_other_fields_is_a_conflict(funded: Bank) -> None:
    await funded.transfer(**body("pay_3", "250.00"))

    for changed in (body("pay_3", "250.01"), {**body("pay_3"), "to_account": PAYER, "from_account": PAYEE}):
        response = await funded.transfer(**changed)
        assert response.status_code == 409
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"] == "REFERENCE_CONFLICT"
    assert await funded.balances(PAYER, PAYEE) == {PAYER: 99_750_00, PAYEE: 255_00}


@pytest.mark.parametrize("amount", ["50000.00", "50000.01", 75_000])
async def test_amounts_from_fifty_thousand_are_declined(funded: Bank, amount: Any) -> None:
    response = await funded.transfer(**body("big", amount))

    assert response.status_code == 200
    answer = response.json()
    assert (answer["success"], answer["status"], answer["error_code"]) == (
        False,
        "REJECTED",
        "AMOUNT_EXCEEDS_LIMIT",
    )
    assert answer["message"]
    assert await funded.balances(PAYER, PAYEE) == {PAYER: 100_000_00, PAYEE: 5_00}
    stored = (await funded.client.get("/transfers/big")).json()
    assert stored["status"] == "REJECTED"


async def test_just_under_the_limit_completes(funded: Bank) -> None:
    response = await funded.transfer(**body("under", "49999.99"))

    assert response.json()["status"] == "COMPLETED"
    assert await funded.balance_minor(PAYEE) == 5_00 + 49_999_99


async def test_insufficient_funds_is_rejected_and_stays_rejected(funded: Bank) -> None:
    response = await funded.transfer(reference="poor", from_account=PAYEE, to_account=PAYER, amount="5.01")

    answer = response.json()
    assert (answer["success"], answer["error_code"]) == (False, "INSUFFICIENT_FUNDS")
    assert answer["processing_fee_minor"] == 0
    assert await funded.balances(PAYER, PAYEE) == {PAYER: 100_000_00, PAYEE: 5_00}
    await funded.transfer(**body("refill", "100.00"))
    retry = await funded.transfer(reference="poor", from_account=PAYEE, to_account=PAYER, amount="5.01")
    assert (retry.json()["error_code"], retry.json()["replayed"]) == ("INSUFFICIENT_FUNDS", True)
    assert await funded.balance_minor(PAYEE) == 105_00


@pytest.mark.parametrize(
    ("from_account", "to_account", "side"), [(PAYER, "NOBODY", "credit"), ("NOBODY", PAYEE, "debit")]
)
async def test_unknown_accounts_are_rejected(
    funded: Bank, from_account: str, to_account: str, side: str
) -> None:
    response = await funded.transfer(
        reference="lost", from_account=from_account, to_account=to_account, amount="1.00"
    )

    answer = response.json()
    assert (answer["status"], answer["error_code"]) == ("REJECTED", "ACCOUNT_NOT_FOUND")
    assert side in answer["message"]
    assert await funded.balances(PAYER, PAYEE) == {PAYER: 100_000_00, PAYEE: 5_00}


async def test_currency_of_the_accounts_must_match(funded: Bank) -> None:
    await funded.open_account("EURO1", 1_000_00, "EUR")

    response = await funded.transfer(reference="fx", from_account="EURO1", to_account=PAYEE, amount="1.00")
    answer = response.json()
    assert (answer["status"], answer["error_code"]) == ("REJECTED", "CURRENCY_MISMATCH")
    assert await funded.balance_minor("EURO1") == 1_000_00


# (payer, payee, amount in minor units, currency, a decline fault scheduled first?)
SCREENED = {
    "both unknown": ("NOBODY", "NOBODY2", 1_00, "USD", False),
    "unknown payee": (PAYER, "NOBODY", 1_00, "USD", False),
    "unknown payer": ("NOBODY", PAYEE, 1_00, "USD", False),
    "payer in euros": ("EURO1", PAYEE, 1_00, "USD", False),
    "payee in euros": (PAYER, "EURO1", 1_00, "USD", False),
    "transfer in euros": (PAYER, PAYEE, 1_00, "EUR", False),
    "at the limit": (PAYER, PAYEE, 5_000_000, "USD", False),
    "at the limit and declined": (PAYER, PAYEE, 5_000_000, "USD", True),
    "declined": (PAYER, PAYEE, 1_00, "USD", True),
    "declined and not covered": (PAYEE, PAYER, 5_01, "USD", True),
    "not covered": (PAYEE, PAYER, 5_01, "USD", False),
    "exactly covered": (PAYEE, PAYER, 5_00, "USD", False),
    "covered": (PAYER, PAYEE, 1_00, "USD", False),
}


@pytest.mark.parametrize("case", list(SCREENED))
async def test_the_bank_refuses_exactly_what_the_domain_rules_refuse(funded: Bank, case: str) -> None:
    payer, payee, amount_minor, currency, declined = SCREENED[case]
    await funded.open_account("EURO1", 1_000_00, "EUR")
    known = {PAYER: ("USD", 100_000_00), PAYEE: ("USD", 5_00), "EURO1": ("EUR", 1_000_00)}
    snapshots = {n: AccountSnapshot(n, c, b) for n, (c, b) in known.items()}
    command = TransferCommand("screened", payer, payee, amount_minor, currency)
    policy = BankPolicy(5_000_000, 250, 0, 0)
    decline_code = DEFAULT_DECLINE_CODE if declined else None
    expected = screen_transfer(command, snapshots.get(payer), snapshots.get(payee), policy, decline_code)
    if declined:
        await funded.add_fault(mode="decline")

    answer = (
        await funded.transfer(
            reference="screened",
            from_account=payer,
            to_account=payee,
            amount_minor=amount_minor,
            currency=currency,
        )
    ).json()

    if expected is None:
        assert (answer["status"], answer["error_code"], answer["message"]) == ("COMPLETED", None, None)
        assert answer["processing_fee_minor"] == 250
    else:
        assert (answer["status"], answer["error_code"]) == ("REJECTED", expected.code)
        assert answer["message"] == expected.message
        assert answer["processing_fee_minor"] == 0
    moved = 0 if expected else amount_minor
    balances = await funded.balances(*(n for n in (payer, payee) if n in known))
    for number, balance in balances.items():
        change = -moved if number == payer else moved
        assert balance == known[number][1] + change


BAD_BODIES: dict[str, tuple[dict[str, Any], str]] = {
    "too many decimals": (body("bad", "10.001"), "INVALID_AMOUNT_PRECISION"),
    "zero": (body("bad", 0), "INVALID_AMOUNT"),
    "negative": (body("bad", "-5.00"), "INVALID_AMOUNT"),
    "not a number": (body("bad", "ten"), "INVALID_AMOUNT"),
    "absurd": (body("bad", 10**15), "AMOUNT_TOO_LARGE"),
    "exponent": (body("bad", 1e20), "INVALID_AMOUNT"),
    "boolean": (body("bad", True), "VALIDATION_ERROR"),
    "no amount": ({k: v for k, v in body("bad").items() if k != "amount"}, "AMOUNT_REQUIRED"),
    "disagreeing amounts": (body("bad", "1.00", amount_minor=101), "AMOUNT_MISMATCH"),
    "negative minor": ({**body("bad", None), "amount_minor": -1}, "INVALID_AMOUNT"),
    "same account": ({**body("bad"), "to_account": PAYER}, "SAME_ACCOUNT"),
    "no reference": ({k: v for k, v in body("bad").items() if k != "reference"}, "REFERENCE_REQUIRED"),
    "reference with spaces": (body("bad ref"), "VALIDATION_ERROR"),
    "empty account": ({**body("bad"), "from_account": ""}, "VALIDATION_ERROR"),
    "lower-case currency": (body("bad", currency="usd"), "VALIDATION_ERROR"),
    "unsupported currency": (body("bad", currency="XXX"), "UNSUPPORTED_CURRENCY"),
}


@pytest.mark.parametrize("case", list(BAD_BODIES))
async def test_bad_input_is_422_problem_and_changes_nothing(funded: Bank, case: str) -> None:
    payload, code = BAD_BODIES[case]

    response = await funded.transfer(**payload)

    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == code
    assert await funded.all_transfers() == []
    assert await funded.balances(PAYER, PAYEE) == {PAYER: 100_000_00, PAYEE: 5_00}


async def test_the_seed_body_with_an_idempotency_key_executes_once(funded: Bank) -> None:
    seed_body = {"from_account": PAYER, "to_account": PAYEE, "amount": 1000.00, "routing_number": "021000021"}
    key = {"Idempotency-Key": "seed-1"}
    first = await funded.client.post("/process-transfer", json=seed_body, headers=key)
    again = await funded.client.post("/process-transfer", json=seed_body, headers=key)
    assert first.json()["status"] == "COMPLETED" and first.json()["reference"] == "seed-1"
    assert again.json()["reference_number"] == first.json()["reference_number"] and again.json()["replayed"]
    assert await funded.balances(PAYER, PAYEE) == {PAYER: 100_000_00 - 1000_00, PAYEE: 5_00 + 1000_00}


async def test_a_body_that_is_not_json_is_422(funded: Bank) -> None:
    response = await funded.client.post(
        "/process-transfer", content=b"{not json", headers={"content-type": "application/json"}
    )

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert await funded.all_transfers() == []


async def test_status_inquiry_of_an_unknown_reference_is_404(bank: Bank) -> None:
    response = await bank.client.get("/transfers/never-sent")

    assert response.status_code == 404
    assert response.json()["code"] == "TRANSFER_NOT_FOUND"


async def test_transfers_page_in_execution_order_with_a_capped_limit(make_bank: BankFactory) -> None:
    bank = await make_bank(transfers_page_size_max=2)
    await bank.open_account(PAYER, 1_000_00)
    await bank.open_account(PAYEE, 0)
    for i in range(5):
        await bank.transfer(**body(f"p{i}", "1.00"))

    seen: list[str] = []
    after_id: int | None = 0
    while after_id is not None:
        page = (await bank.client.get("/transfers", params={"after_id": after_id, "limit": 100})).json()
        assert len(page["transfers"]) <= 2
        seen += [t["reference"] for t in page["transfers"]]
        after_id = page["next_after_id"]
    assert seen == [f"p{i}" for i in range(5)]
    for bad_params in ({"limit": 0}, {"after_id": -1}, {"after_id": 10**20}):
        bad = await bank.client.get("/transfers", params=bad_params)
        assert bad.status_code == 422, bad_params


async def test_balances_page_every_account_in_order_with_a_capped_limit(make_bank: BankFactory) -> None:
    bank = await make_bank(balances_page_size_max=2)
    for n in range(5):
        await bank.open_account(f"BAL{n:03d}", n * 100)
    await bank.transfer(reference="bal-1", from_account="BAL004", to_account="BAL000", amount="1.50")

    seen: dict[str, int] = {}
    after: str | None = ""
    pages = 0
    while after is not None:
        page = (await bank.client.get("/balances", params={"after": after, "limit": 100})).json()
        assert len(page["balances"]) <= 2
        seen |= {b["account_number"]: b["balance_minor"] for b in page["balances"]}
        after = page["next_after"]
        pages += 1
    ours = {k: v for k, v in seen.items() if k.startswith("BAL")}
    assert ours == {"BAL000": 150, "BAL001": 100, "BAL002": 200, "BAL003": 300, "BAL004": 250}
    assert list(seen) == sorted(seen) and pages <= len(seen) // 2 + 1
    for bad_params in ({"limit": 0}, {"after": "x" * 35}):
        bad = await bank.client.get("/balances", params=bad_params)
        assert bad.status_code == 422, bad_params


async def test_balance_by_seed_call_and_by_path(funded: Bank) -> None:
    await funded.transfer(**body("pay_b", "0.50"))

    by_post = await funded.client.post("/check-balance", json={"account_number": PAYEE, "bank_code": "PAY"})
    by_get = await funded.client.get(f"/accounts/{PAYEE}/balance")

    for response in (by_post, by_get):
        answer = response.json()
        assert answer["balance"] == answer["available_balance"] == "5.50"
        assert answer["balance_minor"] == answer["available_minor"] == 5_50
        assert answer["currency"] == "USD"
        assert answer["last_updated"]
    missing = await funded.client.post("/check-balance", json={"account_number": "NOBODY"})
    assert missing.status_code == 404
    assert missing.json()["code"] == "ACCOUNT_NOT_FOUND"


async def test_a_transfer_stuck_behind_the_lock_answers_503_and_executes_nothing(
    make_bank: BankFactory,
) -> None:
    bank = await make_bank(db_statement_timeout_ms=300)
    await bank.open_account(PAYER, 1_000_00)
    await bank.open_account(PAYEE, 0)
    await bank.execute("SELECT pg_advisory_lock($1)", TRANSFERS_LOCK_KEY)

    busy = await bank.transfer(**body("queued", "1.00"))

    assert busy.status_code == 503
    assert busy.json()["code"] == "BANK_BUSY"
    await bank.execute("SELECT pg_advisory_unlock($1)", TRANSFERS_LOCK_KEY)
    assert (await bank.client.get("/transfers/queued")).status_code == 404
    assert await bank.balances(PAYER, PAYEE) == {PAYER: 1_000_00, PAYEE: 0}
    assert (await bank.transfer(**body("queued", "1.00"))).json()["status"] == "COMPLETED"
