"""Money as integer minor units with ISO 4217 exponents; exact parsing, never floats."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

# ISO 4217 minor-unit exponents for the currencies the fleet handles.
CURRENCY_EXPONENTS: dict[str, int] = {
    "USD": 2,
    "EUR": 2,
    "GBP": 2,
    "CHF": 2,
    "CAD": 2,
    "AUD": 2,
    "SGD": 2,
    "INR": 2,
    "CNY": 2,
    "MXN": 2,
    "BRL": 2,
    "ZAR": 2,
    "SEK": 2,
    "NOK": 2,
    "DKK": 2,
    "PLN": 2,
    "HKD": 2,
    "NZD": 2,
    "JPY": 0,
    "KRW": 0,
    "CLP": 0,
    "ISK": 0,
    "VND": 0,
    "BHD": 3,
    "KWD": 3,
    "OMR": 3,
    "JOD": 3,
    "TND": 3,
    "IQD": 3,
    "LYD": 3,
}
# Above this many minor units an amount is treated as a typo or an attack, not a payment.
AMOUNT_MINOR_MAX = 10**13


class MoneyError(ValueError):
    """An amount a user sent that cannot be money: carries a stable machine code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def exponent(currency: str) -> int:
    try:
        return CURRENCY_EXPONENTS[currency]
    except KeyError:
        raise MoneyError("UNSUPPORTED_CURRENCY", f"Currency {currency!r} is not supported") from None


@dataclass(frozen=True, slots=True)
class Money:
    amount_minor: int
    currency: str

    def __post_init__(self) -> None:
        if type(self.amount_minor) is not int:
            raise TypeError("amount_minor must be an int")
        exponent(self.currency)

    @classmethod
    def parse(cls, value: Any, currency: str = "USD", *, allow_zero: bool = False) -> Money:
        """Parse the seed's decimal amount (`1000.00`, `"1000.50"`, `1000`) exactly."""
        return cls(parse_amount_minor(value, currency, allow_zero=allow_zero), currency)

    def to_decimal(self) -> Decimal:
        return Decimal(self.amount_minor).scaleb(-exponent(self.currency))

    def format(self) -> str:
        """The decimal string with the currency's digits, e.g. `1000.00`."""
        exp = exponent(self.currency)
        return f"{self.to_decimal():.{exp}f}"

    def __add__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.amount_minor + other.amount_minor, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.amount_minor - other.amount_minor, self.currency)

    def _same_currency(self, other: Money) -> None:
        if other.currency != self.currency:
            raise MoneyError("CURRENCY_MISMATCH", f"{self.currency} and {other.currency} cannot be combined")


# The only amount text we read: ASCII digits, optionally one point and up to the currency's
# minor digits. No sign, exponent, underscores, spaces inside or non-ASCII digits, so an
# amount can never become a huge number to compute with (Decimal("1e999990").scaleb(2) is a
# million-digit integer) and every amount is read the same way by every service.
AMOUNT_PATTERN = re.compile(r"(?P<units>[0-9]{1,16})(?:\.(?P<fraction>[0-9]{1,16}))?")
AMOUNT_TEXT_CHARS_MAX = 32


def parse_amount_minor(value: Any, currency: str = "USD", *, allow_zero: bool = False) -> int:
    """Minor units of the decimal amount `value` (number or string) in `currency`.

    Raises MoneyError with INVALID_AMOUNT (not the grammar, or not positive),
    INVALID_AMOUNT_PRECISION (more decimals than the currency has) or AMOUNT_TOO_LARGE.
    Work is bounded by the grammar: no arithmetic happens on unchecked text."""
    exp = exponent(currency)
    text = _amount_text(value)
    if text.startswith("-") and AMOUNT_PATTERN.fullmatch(text[1:]):
        raise MoneyError("INVALID_AMOUNT", "Amount must be greater than zero")
    match = AMOUNT_PATTERN.fullmatch(text)
    if match is None:
        raise MoneyError(
            "INVALID_AMOUNT", "Amount must be a plain decimal number such as 1000.00 (no exponent)"
        )
    units: str = match["units"]
    fraction: str = match["fraction"] or ""
    if len(fraction) > exp:
        raise MoneyError("INVALID_AMOUNT_PRECISION", f"{currency} amounts have at most {exp} decimal places")
    minor = int(units + fraction.ljust(exp, "0"))
    if minor == 0 and not allow_zero:
        raise MoneyError("INVALID_AMOUNT", "Amount must be greater than zero")
    if minor > AMOUNT_MINOR_MAX:
        raise MoneyError("AMOUNT_TOO_LARGE", "Amount exceeds the maximum allowed")
    return minor


def _amount_text(value: Any) -> str:
    """The text of an amount, bounded in length; floats as the decimal the client wrote."""
    if isinstance(value, bool) or value is None:
        raise MoneyError("INVALID_AMOUNT", "Amount must be a decimal number")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise MoneyError("INVALID_AMOUNT", "Amount must be finite")
        # repr() gives the shortest string that round-trips: 1000.1 -> "1000.1", not 1000.0999...
        text = repr(value)
        text = text[:-2] if text.endswith(".0") else text
    elif isinstance(value, int):
        # Compared as a number first: str() of a huge int is itself slow (and limited).
        if value > AMOUNT_MINOR_MAX:
            raise MoneyError("AMOUNT_TOO_LARGE", "Amount exceeds the maximum allowed")
        text = str(value)
    elif isinstance(value, Decimal):
        # str() of a Decimal is cheap whatever its exponent ("1E+999990"), never expanded.
        text = str(value)
    elif isinstance(value, str):
        text = value.strip()
    else:
        raise MoneyError("INVALID_AMOUNT", "Amount must be a decimal number")
    if not text or len(text) > AMOUNT_TEXT_CHARS_MAX:
        raise MoneyError("INVALID_AMOUNT", "Amount must be a decimal number")
    return text


def format_minor(amount_minor: int, currency: str) -> str:
    return Money(amount_minor, currency).format()
