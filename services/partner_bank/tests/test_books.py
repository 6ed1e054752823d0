"""The bank's books: any sequence of transfers and retries matches a simple model and never
creates or destroys money; the dev seed opens the fleet's sample accounts."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import TYPE_CHECKING

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

if TYPE_CHECKING:
    from .conftest import Bank, BankFactory

ACCOUNTS = ("M0", "M1", "M2")
SEED_FILE = Path(__file__).resolve().parents[3] / "database" / "seed" / "partner_bank.sql"
_references = itertools.count()

# (payer index, payee index, amount in minor units, retry an earlier reference?)
operations = st.lists(
    st.tuples(
        st.integers(0, 2),
        st.integers(0, 2),
        st.integers(1, 6_000_000),
        st.booleans(),
    ),
    min_size=1,
    max_size=8,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=operations)
async def test_any_sequence_of_transfers_matches_the_model(
    bank: Bank, ops: list[tuple[int, int, int, bool]]
) -> None:
    await _ensure_accounts(bank)
    model = await bank.balances(*ACCOUNTS)
    total = sum(model.values())
    sent: list[dict[str, object]] = []

    for payer_i, payee_i, amount, retry in ops:
        if retry and sent:
            repeat = (await bank.transfer(**sent[-1])).json()
            assert repeat["replayed"] is True
            continue
        if payer_i == payee_i:
            continue
        payer, payee = ACCOUNTS[payer_i], ACCOUNTS[payee_i]
        request = {
            "reference": f"model_{next(_references)}",
            "from_account": payer,
            "to_account": payee,
            "amount_minor": amount,
        }
        answer = (await bank.transfer(**request)).json()
        expect_ok = amount < 5_000_000 and model[payer] >= amount
        assert (answer["success"], answer["replayed"]) == (expect_ok, False), answer
        if expect_ok:
            model[payer] -= amount
            model[payee] += amount
        sent.append(request)

    assert await bank.balances(*ACCOUNTS) == model
    assert sum(model.values()) == total


async def _ensure_accounts(bank: Bank) -> None:
    for i, number in enumerate(ACCOUNTS):
        if (await bank.client.get(f"/accounts/{number}/balance")).status_code == 404:
            await bank.open_account(number, (i + 1) * 3_000_000)


async def test_dev_seed_opens_the_sample_accounts_idempotently(make_bank: BankFactory) -> None:
    first = await make_bank(dev_seed_file=str(SEED_FILE))
    await first.transfer(reference="seeded", from_account="ACC001", to_account="ACC002", amount="1.00")
    again = await make_bank(dev_seed_file=str(SEED_FILE))  # a restart re-applies the seed

    balances = await again.balances("ACC001", "ACC002", "ACC003")
    assert balances == {"ACC001": 15_000_00 - 1_00, "ACC002": 8_500_00 + 1_00, "ACC003": 5_000_00}
