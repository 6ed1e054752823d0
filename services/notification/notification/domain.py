"""Pure notification rules: which channels a type uses by default, what a message says,
and which payment events deserve a notice."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal

from paykit.money import Money, MoneyError, exponent, format_minor, parse_amount_minor

ChannelName = Literal["sms", "email", "push"]
REDACTED_CODE = "******"
TRANSACTION_ID_LENGTH_MAX = 64


class NotificationType(StrEnum):
    OTP_REQUIRED = "OTP_REQUIRED"
    PAYMENT_CONFIRMED = "PAYMENT_CONFIRMED"
    PAYMENT_FAILED = "PAYMENT_FAILED"
    PAYMENT_DECLINED = "PAYMENT_DECLINED"


DEFAULT_CHANNELS: dict[NotificationType, tuple[ChannelName, ...]] = {
    NotificationType.OTP_REQUIRED: ("sms",),
    NotificationType.PAYMENT_CONFIRMED: ("email", "sms"),
    NotificationType.PAYMENT_FAILED: ("email", "sms"),
    NotificationType.PAYMENT_DECLINED: ("email", "sms"),
}

# payment-events type -> the notice a customer gets; other states are not announced.
PAYMENT_EVENT_NOTICES: dict[str, NotificationType] = {
    "payment.completed": NotificationType.PAYMENT_CONFIRMED,
    "payment.failed": NotificationType.PAYMENT_FAILED,
    "payment.declined": NotificationType.PAYMENT_DECLINED,
}


class InvalidNotification(ValueError):
    """The data of a notification cannot make a message (missing or malformed field)."""


@dataclass(frozen=True, slots=True)
class Contact:
    customer_id: str
    full_name: str
    email: str | None
    phone: str | None


@dataclass(frozen=True, slots=True)
class Text:
    subject: str
    body: str
    # The body as stored in the notifications table (one-time codes removed).
    redacted_body: str


@dataclass(frozen=True, slots=True)
class Outgoing:
    channel: ChannelName
    recipient: str | None
    text: Text
    customer_id: str | None = None


def channels_for(kind: NotificationType, requested: Sequence[ChannelName] | None) -> list[ChannelName]:
    chosen = list(requested) if requested else list(DEFAULT_CHANNELS[kind])
    return list(dict.fromkeys(chosen))


def recipient_for(channel: ChannelName, contact: Contact) -> str | None:
    if channel == "sms":
        return contact.phone or None
    if channel == "email":
        return contact.email or None
    return contact.customer_id


def _transaction_id(data: Mapping[str, Any]) -> str:
    value = data.get("transaction_id")
    if not isinstance(value, str) or not value or len(value) > TRANSACTION_ID_LENGTH_MAX:
        raise InvalidNotification("data.transaction_id must be a non-empty string")
    return value


def _amount(data: Mapping[str, Any]) -> str | None:
    """`amount_minor` + `currency` (events) or the seed's decimal `amount`, as `1000.00 USD`."""
    currency = data.get("currency", "USD")
    try:
        if "amount_minor" in data:
            minor = data["amount_minor"]
            if type(minor) is not int:
                raise InvalidNotification("data.amount_minor must be an integer")
            return f"{format_minor(minor, currency)} {currency}"
        if "amount" in data:
            return f"{format_minor(parse_amount_minor(data['amount'], currency), currency)} {currency}"
    except (MoneyError, TypeError) as exc:
        raise InvalidNotification(f"data amount: {exc}") from None
    return None


PAYEE_CHARS_MAX = 64


def _otp_text(data: Mapping[str, Any]) -> Text:
    code = data.get("otp")
    if code is None:  # the seed's confirm service sends no code
        body = "OTP verification required for your payment transaction."
        return Text("Verification required", body, body)
    if not isinstance(code, str) or not code.isdigit() or len(code) > 12:
        raise InvalidNotification("data.otp must be a string of digits")
    expires_in_s = data.get("expires_in_s", 300)
    if type(expires_in_s) is not int or expires_in_s <= 0:
        raise InvalidNotification("data.expires_in_s must be a positive integer")
    minutes = max(expires_in_s // 60, 1)
    approves = _what_it_approves(data)
    if approves is None:
        template = "Your payment verification code is {}. It expires in {} minutes. Never share it."
    else:
        # PSD2 dynamic linking: the code is shown with the amount and payee it approves.
        template = "Code {} approves " + approves.replace("{", "{{").replace("}", "}}")
        template += ". It expires in {} minutes. Never share it."
    return Text(
        "Your verification code",
        template.format(code, minutes),
        template.format(REDACTED_CODE, minutes),
    )


def _what_it_approves(data: Mapping[str, Any]) -> str | None:
    """`5,500.00 USD to ACC002`, when the challenge names its amount and payee."""
    minor, currency, payee = data.get("amount_minor"), data.get("currency", "USD"), data.get("payee")
    if minor is None or payee is None:
        return None
    if type(minor) is not int or not isinstance(payee, str) or not 0 < len(payee) <= PAYEE_CHARS_MAX:
        raise InvalidNotification("data.amount_minor and data.payee name what the code approves")
    try:
        amount = Money(minor, currency)
    except (MoneyError, TypeError) as exc:
        raise InvalidNotification(f"data amount: {exc}") from None
    return f"{amount.to_decimal():,.{exponent(currency)}f} {currency} to {payee}"


def render(kind: NotificationType, data: Mapping[str, Any]) -> Text:
    """The message of a notification; raises InvalidNotification on unusable data."""
    if kind is NotificationType.OTP_REQUIRED:
        return _otp_text(data)
    transaction_id = _transaction_id(data)
    amount = _amount(data)
    of_amount = f"Payment of {amount}" if amount else "Your payment"
    if kind is NotificationType.PAYMENT_CONFIRMED:
        # The seed's formatMessage wording.
        body = f"{of_amount} confirmed. Transaction ID: {transaction_id}"
        return Text("Payment confirmed", body, body)
    if kind is NotificationType.PAYMENT_DECLINED:
        body = f"{of_amount} was declined. Transaction ID: {transaction_id}"
        return Text("Payment declined", body, body)
    body = f"{of_amount} could not be completed. Transaction ID: {transaction_id}"
    return Text("Payment failed", body, body)


def compose(
    kind: NotificationType,
    data: Mapping[str, Any],
    requested: Sequence[ChannelName] | None,
    contact: Contact,
) -> list[Outgoing]:
    text = render(kind, data)
    return [
        Outgoing(channel, recipient_for(channel, contact), text, contact.customer_id)
        for channel in channels_for(kind, requested)
    ]


@dataclass(frozen=True, slots=True)
class Notice:
    customer_id: str
    kind: NotificationType
    data: dict[str, Any]
    channels: list[ChannelName] | None


def notice_for_payment_event(event_type: str, data: Mapping[str, Any]) -> Notice | None:
    """The customer notice a `payment-events` event deserves, or None."""
    kind = PAYMENT_EVENT_NOTICES.get(event_type)
    customer_id = data.get("customer_id")
    if kind is None or not isinstance(customer_id, str) or not customer_id:
        return None
    return Notice(customer_id, kind, dict(data), None)


def notice_for_notification_event(event_type: str, data: Mapping[str, Any]) -> Notice | None:
    """The seed's `notification-events` shape `{customer_id, type, data, channels?}`."""
    customer_id = data.get("customer_id")
    raw_kind = data.get("type") or event_type
    inner = data.get("data", {})
    channels = data.get("channels")
    if not isinstance(customer_id, str) or not customer_id or not isinstance(inner, dict):
        return None
    if raw_kind not in NotificationType.__members__:
        return None
    if channels is not None and not (
        isinstance(channels, list) and channels and all(c in ("sms", "email", "push") for c in channels)
    ):
        return None
    return Notice(customer_id, NotificationType(raw_kind), inner, channels)
