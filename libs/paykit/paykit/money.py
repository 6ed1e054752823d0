"""Money as integer minor units with ISO 4217 exponents; exact parsing, never floats."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
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


def parse_amount_minor(value: Any, currency: str = "USD", *, allow_zero: bool = False) -> int:
    exp = exponent(currency)
    if isinstance(value, bool) or value is None:
        raise MoneyError("INVALID_AMOUNT", "Amount must be a decimal number")
    if isinstance(value, float):
        # repr() gives the shortest string that round-trips: 1000.1 -> "1000.1", not 1000.0999...
        text = repr(value)
    elif isinstance(value, (int, Decimal)):
        text = str(value)
    elif isinstance(value, str):
        text = value.strip()
        if not text or len(text) > 32:
            raise MoneyError("INVALID_AMOUNT", "Amount must be a decimal number")
    else:
        raise MoneyError("INVALID_AMOUNT", "Amount must be a decimal number")
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise MoneyError("INVALID_AMOUNT", f"Amount {text!r} is not a decimal number") from None
    if not amount.is_finite():
        raise MoneyError("INVALID_AMOUNT", "Amount must be finite")
    minor = amount.scaleb(exp)
    if minor != minor.to_integral_value():
        raise MoneyError("INVALID_AMOUNT_PRECISION", f"{currency} amounts have at most {exp} decimal places")
    minor_int = int(minor)
    if minor_int < 0 or (minor_int == 0 and not allow_zero):
        raise MoneyError("INVALID_AMOUNT", "Amount must be greater than zero")
    if minor_int > AMOUNT_MINOR_MAX:
        raise MoneyError("AMOUNT_TOO_LARGE", "Amount exceeds the maximum allowed")
    return minor_int


def format_minor(amount_minor: int, currency: str) -> str:
    return Money(amount_minor, currency).format()
