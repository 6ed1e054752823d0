"""Issue 9 item 6: an account number the bank would refuse is refused at our edge."""

from __future__ import annotations

from .conftest import World, headers, payment


async def test_account_numbers_the_bank_refuses_are_422_and_create_nothing(world: World) -> None:
    for i, (field, number) in enumerate(
        [
            ("to_account", "ACC_009"),
            ("to_account", "acc002"),
            ("from_account", "ACC 001"),
            ("to_account", "ACC-"),
        ]
    ):
        response = await world.confirm.post(
            "/payment/confirm", json=payment(**{field: number}), headers=headers(f"k{i}")
        )
        assert response.status_code == 422, (number, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert number in response.text or field in response.text
    listed = await world.confirm.get("/payments", params={"customer_id": "cust_001"})
    assert listed.json()["payments"] == []
