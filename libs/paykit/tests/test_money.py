"""Money: exact parsing of the seed's decimal amounts into integer minor units."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from paykit.money import AMOUNT_MINOR_MAX, Money, MoneyError, format_minor, parse_amount_minor


@pytest.mark.parametrize(
    ("value", "currency", "minor"),
    [
        (1000, "USD", 100_000),
        (1000.5, "USD", 100_050),
        ("1000.50", "USD", 100_050),
        (1000.00, "USD", 100_000),
        ("0.01", "USD", 1),
        (" 12.3 ", "EUR", 1_230),
        (1500, "JPY", 1_500),
        ("1500", "JPY", 1_500),
        ("1.234", "BHD", 1_234),
        ("1.5", "KWD", 1_500),
        (Decimal("19.99"), "USD", 1_999),
        (0.1, "USD", 10),  # the float 0.1 is read as the decimal the client wrote
    ],
)
def test_accepted_amounts(value: object, currency: str, minor: int) -> None:
    assert parse_amount_minor(value, currency) == minor


@pytest.mark.parametrize(
    ("value", "currency", "code"),
    [
        (1000.505, "USD", "INVALID_AMOUNT_PRECISION"),
        ("1000.505", "USD", "INVALID_AMOUNT_PRECISION"),
        ("1500.5", "JPY", "INVALID_AMOUNT_PRECISION"),
        ("1.2345", "BHD", "INVALID_AMOUNT_PRECISION"),
        (0, "USD", "INVALID_AMOUNT"),
        ("-1.00", "USD", "INVALID_AMOUNT"),
        ("abc", "USD", "INVALID_AMOUNT"),
        ("NaN", "USD", "INVALID_AMOUNT"),
        ("Infinity", "USD", "INVALID_AMOUNT"),
        (True, "USD", "INVALID_AMOUNT"),
        (None, "USD", "INVALID_AMOUNT"),
        ([1], "USD", "INVALID_AMOUNT"),
        ("", "USD", "INVALID_AMOUNT"),
        ("1" * 40, "USD", "INVALID_AMOUNT"),
        ("1e30", "USD", "INVALID_AMOUNT"),
        ("99999999999999.99", "USD", "AMOUNT_TOO_LARGE"),
        # The grammar is digits, one point, at most the currency's digits: no exponent, no
        # signs of other notations, so no amount ever becomes a huge number to compute with.
        ("1e3", "USD", "INVALID_AMOUNT"),
        ("1E+2", "USD", "INVALID_AMOUNT"),
        ("1e999999", "USD", "INVALID_AMOUNT"),
        ("1e999990", "USD", "INVALID_AMOUNT"),
        (Decimal("1E+999990"), "USD", "INVALID_AMOUNT"),
        (1e20, "USD", "INVALID_AMOUNT"),
        ("0x10", "USD", "INVALID_AMOUNT"),
        ("1_000", "USD", "INVALID_AMOUNT"),
        ("1.2.3", "USD", "INVALID_AMOUNT"),
        ("١٠٠", "USD", "INVALID_AMOUNT"),  # Arabic-Indic digits: Decimal reads them, we do not
        ("1000.000", "USD", "INVALID_AMOUNT_PRECISION"),
        ("0" * 30 + "1", "USD", "INVALID_AMOUNT"),
        ("10.00", "XYZ", "UNSUPPORTED_CURRENCY"),
    ],
)
def test_refused_amounts(value: object, currency: str, code: str) -> None:
    with pytest.raises(MoneyError) as refused:
        parse_amount_minor(value, currency)
    assert refused.value.code == code


@given(st.integers(min_value=1, max_value=AMOUNT_MINOR_MAX), st.sampled_from(["USD", "JPY", "BHD"]))
def test_formatting_and_parsing_round_trip(minor: int, currency: str) -> None:
    assert parse_amount_minor(format_minor(minor, currency), currency) == minor


@given(
    st.integers(min_value=1, max_value=AMOUNT_MINOR_MAX // 100 - 1), st.integers(min_value=0, max_value=99)
)
def test_a_two_decimal_float_is_read_exactly(units: int, cents: int) -> None:
    written = float(f"{units}.{cents:02d}")
    assert parse_amount_minor(written, "USD") == units * 100 + cents


def test_money_refuses_floats_and_mixed_currencies() -> None:
    with pytest.raises(TypeError):
        Money(10.0, "USD")  # type: ignore[arg-type]
    with pytest.raises(MoneyError):
        Money(1, "USD") + Money(1, "EUR")
    assert (Money(150, "USD") - Money(50, "USD")).format() == "1.00"
