"""Typed client of the partner bank (docs/contracts.md "partner_bank"), read-only: the
account service only asks the bank what it holds, for reconciliation."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx
from paykit.http import ServiceClient, ServiceUnavailable
from paykit.money import MoneyError, parse_amount_minor

from .domain import BankTransfer

# Payment ids per call to confirm's POST /reconciliation/states (its own maximum).
PAYMENT_IDS_PER_CALL = 1_000


class BankAnswerError(ServiceUnavailable):
    """The bank answered something that does not follow its contract."""


class PartnerBankClient(ServiceClient):
    """The partner bank as reconciliation reads it (a ServiceClient named "partner_bank")."""

    async def balance(self, account_number: str) -> tuple[int, str] | None:
        """(balance_minor, currency) the bank holds for the account; None if it has no such account."""
        response = await self.call("GET", f"/accounts/{quote(account_number, safe='')}/balance")
        if response.status_code == 404:
            return None
        body = _json(response)
        currency = str(body.get("currency") or "USD")
        return _minor(body, "balance_minor", "balance", currency), currency

    async def balances_page(self, after: str, limit: int) -> tuple[dict[str, tuple[int, str]], str | None]:
        """(balance_minor, currency) of the bank's accounts after `after` in account-number
        order, and the `after` of the next page (None at the end)."""
        response = await self.call("GET", "/balances", params={"after": after, "limit": limit})
        body = _json(response)
        raw = body.get("balances")
        if not isinstance(raw, list):
            raise BankAnswerError("partner_bank", "balances page without a list")
        page: dict[str, tuple[int, str]] = {}
        for item in raw:
            if not isinstance(item, dict) or not isinstance(item.get("account_number"), str):
                raise BankAnswerError("partner_bank", "balance without an account number")
            currency = str(item.get("currency") or "USD")
            page[item["account_number"]] = (_minor(item, "balance_minor", "balance", currency), currency)
        following = body.get("next_after")
        return page, following if isinstance(following, str) and following else None

    async def transfers_page(self, after_id: int, limit: int) -> tuple[list[BankTransfer], bool]:
        """Transfers with id > after_id in id order, and whether more follow."""
        response = await self.call("GET", "/transfers", params={"after_id": after_id, "limit": limit})
        body = _json(response)
        raw = body.get("transfers")
        if not isinstance(raw, list):
            raise BankAnswerError("partner_bank", "transfers page without a list")
        return [_transfer(item) for item in raw], body.get("next_after_id") not in (None, "")

    async def transfer(self, reference: str) -> BankTransfer | None:
        """The bank's transfer under our reference; None when it never executed one."""
        response = await self.call("GET", f"/transfers/{quote(reference, safe='')}")
        if response.status_code == 404:
            return None
        return _transfer(_json(response))


class ConfirmClient(ServiceClient):
    """Confirm's word on payments, for comparing payment states with the bank."""

    async def payment_states(self, payment_ids: Sequence[str]) -> dict[str, str]:
        """Confirm's state of each payment it knows among `payment_ids`, PAYMENT_IDS_PER_CALL
        at a time (one call per payment was thousands of calls a run)."""
        states: dict[str, str] = {}
        for start in range(0, len(payment_ids), PAYMENT_IDS_PER_CALL):
            batch = list(payment_ids[start : start + PAYMENT_IDS_PER_CALL])
            body = _json(await self.call("POST", "/reconciliation/states", json={"payment_ids": batch}))
            found = body.get("states")
            if not isinstance(found, dict):
                raise BankAnswerError("confirm", "no states object")
            states |= {str(k): str(v) for k, v in found.items()}
        return states

    async def completed_between(self, after: datetime, until: datetime, limit: int) -> list[str]:
        """Ids of payments COMPLETED in (after, until]."""
        params = {"after": after.isoformat(), "until": until.isoformat(), "limit": limit}
        body = _json(await self.call("GET", "/reconciliation/completed", params=params))
        ids = body.get("payment_ids")
        if not isinstance(ids, list):
            raise BankAnswerError("confirm", "no payment_ids list")
        return [str(i) for i in ids]


def _json(response: httpx.Response) -> dict[str, Any]:
    if response.status_code != 200:
        raise BankAnswerError("partner_bank", f"answered {response.status_code}")
    try:
        body = response.json()
    except ValueError:
        raise BankAnswerError("partner_bank", "answered something that is not JSON") from None
    if not isinstance(body, dict):
        raise BankAnswerError("partner_bank", "answered JSON that is not an object")
    return body


def _minor(body: dict[str, Any], minor_key: str, decimal_key: str, currency: str) -> int:
    """The bank sends minor units and the seed's decimal; prefer the integer, parse the decimal exactly."""
    value = body.get(minor_key)
    if type(value) is int:
        return value
    try:
        return parse_amount_minor(body.get(decimal_key), currency, allow_zero=True)
    except MoneyError:
        raise BankAnswerError("partner_bank", f"no usable {minor_key}") from None


def _transfer(item: Any) -> BankTransfer:
    if not isinstance(item, dict) or not item.get("reference"):
        raise BankAnswerError("partner_bank", "transfer without a reference")
    currency = str(item.get("currency") or "USD")
    if type(item.get("amount_minor")) is int:
        amount = int(item["amount_minor"])
    else:
        amount = _minor(item, "processed_amount_minor", "amount", currency)
    try:
        processed_at = datetime.fromisoformat(str(item["processed_at"])) if item.get("processed_at") else None
        transfer_id = int(item.get("id") or 0)
    except (TypeError, ValueError):
        raise BankAnswerError("partner_bank", "transfer with an unreadable id or time") from None
    return BankTransfer(
        reference=str(item["reference"]),
        status=str(item.get("status") or ""),
        amount_minor=amount,
        currency=currency,
        from_account=item.get("from_account"),
        to_account=item.get("to_account"),
        id=transfer_id,
        processed_at=processed_at,
    )
