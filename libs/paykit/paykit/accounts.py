"""The one grammar of an account number, shared by every service that accepts one.

The partner bank is the bank of record: an account number it would refuse must be refused
at our edge too, before a payment is created, held or sent. Upper-case letters and digits in
groups joined by single hyphens (`ACC001`, `SYS-SETTLEMENT-USD`), at most 34 characters (an
IBAN's length). No underscores, spaces, lower case or punctuation: `ACC_009` is not one.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import StringConstraints

ACCOUNT_NUMBER_LENGTH_MAX = 34
ACCOUNT_NUMBER_REGEX = r"^[A-Z0-9]+(?:-[A-Z0-9]+)*$"
_PATTERN = re.compile(ACCOUNT_NUMBER_REGEX)

AccountNumber = Annotated[
    str,
    StringConstraints(min_length=1, max_length=ACCOUNT_NUMBER_LENGTH_MAX, pattern=ACCOUNT_NUMBER_REGEX),
]


def is_account_number(value: object) -> bool:
    return (
        isinstance(value, str)
        and 0 < len(value) <= ACCOUNT_NUMBER_LENGTH_MAX
        and _PATTERN.fullmatch(value) is not None
    )
