from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from paykit.accounts import AccountNumber, is_account_number
from pydantic import TypeAdapter, ValidationError

ADAPTER: TypeAdapter[str] = TypeAdapter(AccountNumber)


@pytest.mark.parametrize("number", ["ACC001", "ACC002", "SYS-SETTLEMENT-USD", "A1", "9" * 34])
def test_account_numbers_the_bank_accepts(number: str) -> None:
    assert is_account_number(number)
    assert ADAPTER.validate_python(number) == number


@pytest.mark.parametrize(
    "number", ["ACC_009", "acc001", "ACC 001", "-ACC", "ACC-", "ACC--1", "", "9" * 35, "ACC001\n", "ÄCC1"]
)
def test_account_numbers_the_bank_refuses(number: str) -> None:
    assert not is_account_number(number)
    with pytest.raises(ValidationError):
        ADAPTER.validate_python(number)


@given(st.text(max_size=40))
def test_the_check_and_the_schema_type_agree(text: str) -> None:
    try:
        ADAPTER.validate_python(text)
        valid = True
    except ValidationError:
        valid = False
    assert valid == is_account_number(text)
