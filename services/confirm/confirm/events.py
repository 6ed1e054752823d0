"""What the confirm service emits: one CloudEvent on `payment-events` per state change,
written to the outbox in the transaction of that change."""

from __future__ import annotations

import asyncpg
from paykit.events import add_to_outbox, new_event

from .domain import Payment, State

TOPIC = "payment-events"
SOURCE = "/services/confirm"


async def emit_state_change(conn: asyncpg.Connection, payment: Payment, previous: State | None) -> None:
    t = payment.terms
    event = new_event(
        source=SOURCE,
        type=f"payment.{payment.state.value.lower()}",
        subject=payment.payment_id,
        data={
            "payment_id": payment.payment_id,
            "transaction_id": t.transaction_id,
            "customer_id": t.customer_id,
            "state": payment.state.value,
            "previous_state": previous.value if previous else None,
            "amount_minor": t.amount_minor,
            "amount": payment.amount,
            "currency": t.currency,
            "from_account": t.from_account,
            "to_account": t.to_account,
            "reference": payment.payment_id,
            "reason": payment.failure_code,
        },
    )
    await add_to_outbox(conn, topic=TOPIC, key=payment.payment_id, event=event)
