"""What the confirm service emits: one CloudEvent on `payment-events` per state change,
written to the outbox in the same statement as that change."""

from __future__ import annotations

from paykit import format_minor
from paykit.events import OutboxRow, new_event, outbox_row

from .domain import State, Terms

TOPIC = "payment-events"
SOURCE = "/services/confirm"


def state_change(
    payment_id: str, terms: Terms, state: State, previous: State | None, reason: str | None
) -> OutboxRow:
    """The outbox row of the payment's move to `state`, as paykit's add_to_outbox writes it
    (event, topic, key, and the current trace in its headers). Built before the statement
    that makes the change, so the change and its event are one statement: no transaction
    of their own, and no event without its change (the insert reads the changed row)."""
    event = new_event(
        source=SOURCE,
        type=f"payment.{state.value.lower()}",
        subject=payment_id,
        data={
            "payment_id": payment_id,
            "transaction_id": terms.transaction_id,
            "customer_id": terms.customer_id,
            "state": state.value,
            "previous_state": previous.value if previous else None,
            "amount_minor": terms.amount_minor,
            "amount": format_minor(terms.amount_minor, terms.currency),
            "currency": terms.currency,
            "from_account": terms.from_account,
            "to_account": terms.to_account,
            "reference": payment_id,
            "reason": reason,
        },
    )
    return outbox_row(topic=TOPIC, key=payment_id, event=event)
