"""Delivery channels. In development and test every channel writes to the dev inbox table;
in production SMS goes through Twilio and email through SendGrid when they are configured.

A channel never raises for a delivery problem: it returns a failed Delivery, so one broken
channel does not stop the others and every attempt is recorded.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import asyncpg
import httpx

from . import store
from .domain import ChannelName, Outgoing

log = logging.getLogger("notification.channels")


@dataclass(frozen=True, slots=True)
class Delivery:
    channel: ChannelName
    success: bool
    message_id: str | None = None
    error: str | None = None


class Channel(Protocol):
    # The delivery is a write in the caller's transaction, undone by its rollback (a provider's
    # message is not: it is out once sent).
    in_transaction: bool

    async def deliver(self, conn: asyncpg.Connection, message: Outgoing) -> Delivery: ...

    # Each message in turn, as `deliver` would; an in-transaction channel may take them in
    # one write (a consumed batch costs one round trip, not one per message).
    async def deliver_many(
        self, conn: asyncpg.Connection, messages: Sequence[Outgoing]
    ) -> list[Delivery]: ...

    async def aclose(self) -> None: ...


async def _each(channel: Channel, conn: asyncpg.Connection, messages: Sequence[Outgoing]) -> list[Delivery]:
    return [await channel.deliver(conn, message) for message in messages]


class DevInboxChannel:
    """Development/test: the message lands in the `dev_inbox` table (GET /dev/inbox)."""

    in_transaction = True

    async def deliver(self, conn: asyncpg.Connection, message: Outgoing) -> Delivery:
        assert message.recipient is not None
        row_id = await store.insert_dev_message(
            conn,
            message.channel,
            message.recipient,
            message.text.subject,
            message.text.body,
            message.customer_id,
        )
        return Delivery(message.channel, True, message_id=f"dev_{message.channel}_{row_id}")

    async def deliver_many(self, conn: asyncpg.Connection, messages: Sequence[Outgoing]) -> list[Delivery]:
        rows = []
        for m in messages:
            assert m.recipient is not None
            rows.append(store.DevMessage(m.channel, m.recipient, m.text.subject, m.text.body, m.customer_id))
        row_ids = await store.insert_dev_messages(conn, rows)
        return [
            Delivery(m.channel, True, message_id=f"dev_{m.channel}_{row_id}")
            for m, row_id in zip(messages, row_ids, strict=True)
        ]

    async def aclose(self) -> None:
        return None


class UnconfiguredChannel:
    """Production without a provider for this channel: every delivery fails, visibly."""

    in_transaction = True

    async def deliver(self, conn: asyncpg.Connection, message: Outgoing) -> Delivery:
        return Delivery(message.channel, False, error="CHANNEL_NOT_CONFIGURED")

    async def deliver_many(self, conn: asyncpg.Connection, messages: Sequence[Outgoing]) -> list[Delivery]:
        return await _each(self, conn, messages)

    async def aclose(self) -> None:
        return None


class TwilioSmsChannel:
    """Twilio Programmable Messaging: POST /2010-04-01/Accounts/{sid}/Messages.json.

    Not retried: Twilio has no idempotency key, and a retry after a timeout may text twice.
    """

    in_transaction = False

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        from_number: str,
        *,
        base_url: str,
        timeout_s: float,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._path = f"/2010-04-01/Accounts/{account_sid}/Messages.json"
        self._from = from_number
        self._client = httpx.AsyncClient(
            base_url=base_url, auth=(account_sid, auth_token), timeout=timeout_s, transport=transport
        )

    async def deliver(self, conn: asyncpg.Connection, message: Outgoing) -> Delivery:
        form = {"From": self._from, "To": message.recipient or "", "Body": message.text.body}
        try:
            response = await self._client.post(self._path, data=form)
        except httpx.HTTPError as exc:
            log.warning("twilio unreachable: %s", type(exc).__name__)
            return Delivery("sms", False, error="PROVIDER_UNAVAILABLE")
        if response.status_code not in (200, 201):
            log.warning("twilio refused the message: status %d", response.status_code)
            return Delivery("sms", False, error="PROVIDER_REJECTED")
        return Delivery("sms", True, message_id=str(response.json().get("sid", "")) or None)

    async def deliver_many(self, conn: asyncpg.Connection, messages: Sequence[Outgoing]) -> list[Delivery]:
        return await _each(self, conn, messages)  # one provider call per message, in order

    async def aclose(self) -> None:
        await self._client.aclose()


class SendGridEmailChannel:
    """SendGrid v3: POST /v3/mail/send (202 Accepted, id in the X-Message-Id header)."""

    in_transaction = False

    def __init__(
        self,
        api_key: str,
        from_email: str,
        *,
        base_url: str,
        timeout_s: float,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._from = from_email
        self._client = httpx.AsyncClient(
            base_url=base_url,
            headers={"Authorization": f"Bearer {api_key}"},
            timeout=timeout_s,
            transport=transport,
        )

    async def deliver(self, conn: asyncpg.Connection, message: Outgoing) -> Delivery:
        body = {
            "personalizations": [{"to": [{"email": message.recipient}]}],
            "from": {"email": self._from},
            "subject": message.text.subject,
            "content": [{"type": "text/plain", "value": message.text.body}],
        }
        try:
            response = await self._client.post("/v3/mail/send", json=body)
        except httpx.HTTPError as exc:
            log.warning("sendgrid unreachable: %s", type(exc).__name__)
            return Delivery("email", False, error="PROVIDER_UNAVAILABLE")
        if response.status_code not in (200, 202):
            log.warning("sendgrid refused the message: status %d", response.status_code)
            return Delivery("email", False, error="PROVIDER_REJECTED")
        return Delivery("email", True, message_id=response.headers.get("X-Message-Id"))

    async def deliver_many(self, conn: asyncpg.Connection, messages: Sequence[Outgoing]) -> list[Delivery]:
        return await _each(self, conn, messages)  # one provider call per message, in order

    async def aclose(self) -> None:
        await self._client.aclose()
