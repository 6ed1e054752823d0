"""Typed clients of the services a payment passes through.

Each answer a payment depends on is reduced to a small result type; a call that could not
produce an answer raises paykit.http.ServiceCallError (ServiceTimeout: outcome unknown)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
from paykit.errors import ProblemError
from paykit.http import ServiceClient, ServiceUnavailable

from .domain import RiskDecision, Terms


def _problem_from(response: httpx.Response, service: str) -> ProblemError:
    """Carry a 4xx decision of another service to our caller with its code."""
    try:
        body = response.json()
    except ValueError:
        body = {}
    code = str(body.get("code") or body.get("error") or f"{service.upper()}_REJECTED")
    detail = str(body.get("detail") or body.get("message") or code)
    return ProblemError(response.status_code, code, detail)


@dataclass(frozen=True)
class HeldFunds:
    status: str
    expires_at: datetime


def _held(response: httpx.Response) -> HeldFunds:
    try:
        body = response.json()
        return HeldFunds(str(body["status"]), datetime.fromisoformat(str(body["expires_at"])))
    except (ValueError, KeyError, TypeError):
        raise ServiceUnavailable("account", "answered a hold without status or expiry") from None


@dataclass(frozen=True)
class Account:
    account_number: str
    customer_id: str
    currency: str
    status: str
    # The owner's details as account named them ({customer_id, full_name, country}, or None
    # when account knows none): risk screens them, and gets them from us (RiskClient.assess).
    owner: dict[str, Any] | None = None


def _account(body: dict[str, Any] | None) -> Account | None:
    if body is None:
        return None
    number, owner = str(body["account_number"]), str(body["customer_id"] or "")
    return Account(number, owner, str(body["currency"]), str(body["status"]), _owner(body["customer"]))


def _owner(body: dict[str, Any] | None) -> dict[str, Any] | None:
    if body is None:
        return None
    return {"customer_id": body["customer_id"], "full_name": body["full_name"], "country": body["country"]}


def _party(account: Account) -> dict[str, Any]:
    """An account as risk's `parties` takes it: account's own answer, not our reading of it."""
    return {
        "account_number": account.account_number,
        "customer_id": account.customer_id or None,
        "customer": account.owner,
    }


class AccountClient:
    def __init__(self, client: ServiceClient) -> None:
        self.http = client

    async def get_parties(self, from_account: str, to_account: str) -> tuple[Account | None, Account | None]:
        """Payer and payee account in one call (None for one that does not exist)."""
        response = await self.http.call(
            "GET", "/payment-parties", params={"from_account": from_account, "to_account": to_account}
        )
        if response.status_code != 200:
            raise ServiceUnavailable("account", f"payment-parties answered {response.status_code}")
        try:
            body = response.json()
            payer, payee = (_account(body[role]) for role in ("payer", "payee"))
        except (ValueError, KeyError, TypeError):
            raise ServiceUnavailable("account", "answered payment parties outside its contract") from None
        return payer, payee

    async def hold(self, payment_id: str, terms: Terms, expires_in_s: int) -> HeldFunds:
        """Reserve the funds; raises ProblemError when refused (422 INSUFFICIENT_FUNDS, or 409
        HOLD_EXPIRED / HOLD_RELEASED: a hold under this id no longer holds money)."""
        response = await self.http.call(
            "POST",
            "/holds",
            json={
                "hold_id": payment_id,
                "account_number": terms.from_account,
                "to_account": terms.to_account,
                "amount_minor": terms.amount_minor,
                "currency": terms.currency,
                "customer_id": terms.customer_id,
                "expires_in_s": expires_in_s,
            },
            idempotency_key=payment_id,
        )
        if response.status_code not in (200, 201):
            raise _problem_from(response, "account")
        return _held(response)

    async def extend(self, payment_id: str, expires_in_s: int) -> HeldFunds:
        """Lengthen the live hold before the bank is asked to pay; ProblemError (409
        HOLD_EXPIRED / HOLD_RELEASED, 404 HOLD_NOT_FOUND) when there is none to lengthen."""
        response = await self.http.call(
            "POST",
            f"/holds/{payment_id}/extend",
            json={"expires_in_s": expires_in_s},
            idempotency_key=f"{payment_id}:extend",
        )
        if response.status_code != 200:
            raise _problem_from(response, "account")
        return _held(response)

    async def capture(self, payment_id: str) -> None:
        response = await self.http.call(
            "POST", f"/holds/{payment_id}/capture", json={}, idempotency_key=payment_id
        )
        if response.status_code == 409:
            raise _problem_from(response, "account")  # the hold no longer holds money
        if response.status_code != 200:
            raise ServiceUnavailable(
                "account", f"capture answered {response.status_code}: {response.text[:200]}"
            )

    async def release(self, payment_id: str) -> None:
        response = await self.http.call(
            "POST", f"/holds/{payment_id}/release", json={}, idempotency_key=payment_id
        )
        if response.status_code not in (200, 404):
            raise ServiceUnavailable(
                "account", f"release answered {response.status_code}: {response.text[:200]}"
            )


@dataclass(frozen=True)
class RiskResult:
    decision: RiskDecision
    score: int
    reasons: list[dict[str, Any]] = field(default_factory=list)


class RiskClient:
    def __init__(self, client: ServiceClient) -> None:
        self.http = client

    async def assess(
        self, payment_id: str, terms: Terms, parties: tuple[Account, Account] | None = None
    ) -> RiskResult:
        """`parties`: payer and payee as account named them for this very request; risk then
        screens them without asking account again (without them it asks account itself)."""
        body: dict[str, Any] = {
            "transaction_id": payment_id,
            "customer_id": terms.customer_id,
            "amount_minor": terms.amount_minor,
            "currency": terms.currency,
            "from_account": terms.from_account,
            "to_account": terms.to_account,
        }
        if parties is not None:
            payer, payee = parties
            body["parties"] = {"payer": _party(payer), "payee": _party(payee)}
        response = await self.http.call("POST", "/assess-risk", json=body, idempotency_key=payment_id)
        if response.status_code != 200:
            raise ServiceUnavailable("risk", f"answered {response.status_code}")
        body = response.json()
        return RiskResult(
            RiskDecision(body["decision"]), int(body.get("risk_score", 0)), body.get("reasons", [])
        )


@dataclass(frozen=True)
class OtpCheck:
    valid: bool
    reason: str | None = None
    attempts_remaining: int | None = None


class ChallengesExhausted(Exception):
    """The OTP service will issue no more codes for this payment (or customer, this hour)."""


class OtpClient:
    def __init__(self, client: ServiceClient) -> None:
        self.http = client

    def _binding(self, payment_id: str, terms: Terms) -> dict[str, Any]:
        return {
            "customer_id": terms.customer_id,
            "transaction_id": payment_id,
            "amount_minor": terms.amount_minor,
            "currency": terms.currency,
            "payee": terms.to_account,
        }

    async def generate(self, payment_id: str, terms: Terms) -> dict[str, Any]:
        """Issue (or re-send) a challenge. A resend cooldown is not an error for the payer."""
        response = await self.http.call("POST", "/generate-otp", json=self._binding(payment_id, terms))
        if response.status_code in (200, 201):
            body: dict[str, Any] = response.json()
            return {
                "otp_expires_at": body.get("expires_at"),
                "resend_available_at": body.get("resend_available_at"),
            }
        if response.status_code == 429 and _problem_code(response) == "OTP_CHALLENGES_EXHAUSTED":
            raise ChallengesExhausted(response.json().get("limit", "payment"))
        if response.status_code == 429:
            return {"resend_available_at": response.json().get("resend_available_at"), "otp_resent": False}
        raise ServiceUnavailable("otp", f"generate answered {response.status_code}")

    async def verify(self, payment_id: str, terms: Terms, otp: str) -> OtpCheck:
        response = await self.http.call(
            "POST", "/verify-otp", json={**self._binding(payment_id, terms), "otp": otp}
        )
        if response.status_code != 200:
            if 400 <= response.status_code < 500:
                return OtpCheck(False, "INVALID_OTP")
            raise ServiceUnavailable("otp", f"verify answered {response.status_code}")
        body = response.json()
        return OtpCheck(bool(body.get("valid")), body.get("reason"), body.get("attempts_remaining"))


@dataclass(frozen=True)
class Transfer:
    """The bank's word on a transfer: COMPLETED, REJECTED, or NOT_FOUND (never executed)."""

    status: str
    reference_number: str | None = None
    error_code: str | None = None
    message: str | None = None


class BankClient:
    def __init__(self, client: ServiceClient) -> None:
        self.http = client

    async def process_transfer(self, payment_id: str, terms: Terms) -> Transfer:
        response = await self.http.call(
            "POST",
            "/process-transfer",
            json={
                "reference": payment_id,
                "from_account": terms.from_account,
                "to_account": terms.to_account,
                "amount_minor": terms.amount_minor,
                "currency": terms.currency,
            },
            idempotency_key=payment_id,
        )
        return self._transfer(response)

    async def transfer_status(self, payment_id: str) -> Transfer:
        response = await self.http.call("GET", f"/transfers/{payment_id}")
        if response.status_code == 404:
            # Only the bank's own "no such transfer" means it never executed; any other 404
            # (a proxy, a wrong path) says nothing about the transfer.
            if _problem_code(response) == "TRANSFER_NOT_FOUND":
                return Transfer("NOT_FOUND")
            raise BankAnswerUnknown("partner_bank", "answered 404 without TRANSFER_NOT_FOUND")
        return self._transfer(response)

    @staticmethod
    def _transfer(response: httpx.Response) -> Transfer:
        """Strict: only a 200 transfer body saying COMPLETED or REJECTED is the bank's word.
        A 4xx is a refusal of the request (BankRefused: it most likely never executed, which
        an inquiry confirms); anything else is an unknown outcome (BankAnswerUnknown)."""
        if 400 <= response.status_code < 500:
            raise BankRefused(_problem_code(response), response.status_code)
        if response.status_code != 200:
            raise BankAnswerUnknown("partner_bank", f"answered {response.status_code}")
        try:
            body = response.json()
        except ValueError:
            raise BankAnswerUnknown("partner_bank", "answered something that is not JSON") from None
        status = body.get("status") if isinstance(body, dict) else None
        if status not in TRANSFER_OUTCOMES:
            raise BankAnswerUnknown("partner_bank", f"answered no transfer outcome ({str(status)[:40]})")
        if (status == "REJECTED" and body.get("success") is True) or (
            status == "COMPLETED" and body.get("success") is False
        ):
            raise BankAnswerUnknown("partner_bank", "answered a transfer that contradicts itself")
        return Transfer(
            status=str(status),
            reference_number=_text(body.get("reference_number")),
            error_code=_text(body.get("error_code") or body.get("code")),
            message=_text(body.get("message") or body.get("detail")),
        )


TRANSFER_OUTCOMES = frozenset({"COMPLETED", "REJECTED"})


class BankAnswerUnknown(ServiceUnavailable):
    """The bank answered something that is not a transfer outcome: treat it as no answer."""


class BankRefused(ServiceUnavailable):
    """The bank refused the request itself (a 4xx problem), so the transfer most likely never
    executed; the caller confirms that with an inquiry before it calls it failed."""

    def __init__(self, code: str, status_code: int) -> None:
        super().__init__("partner_bank", f"refused the request: {status_code} {code}")
        self.code = code


def _problem_code(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return "BANK_REFUSED"
    code = body.get("code") if isinstance(body, dict) else None
    return str(code)[:64] if isinstance(code, str) and code else "BANK_REFUSED"


def _text(value: Any) -> str | None:
    return str(value)[:500] if value is not None else None
