"""Events of the fleet: CloudEvents through a transactional outbox to Kafka or Redis Streams,
consumed exactly-once in effect through an inbox.

    async with conn.transaction():                      # producer, in the use case
        ...state change...
        await add_to_outbox(conn, topic="payment-events", key=payment_id,
                            event=new_event(source="confirm", type="payment.completed",
                                            subject=payment_id, data={...}))

    transport = transport_from_settings(settings)       # in the lifespan
    relay = OutboxRelay(pool, transport)
    consumer = EventConsumer(pool, transport, topic="payment-events", group="audit",
                             handler=record_event)      # async (conn, event) -> None
    async with run_in_background(relay, consumer, app=app, transport=transport):
        yield
    await transport.aclose()
"""

from .consumer import DEAD_LETTERS, BatchHandler, EventConsumer, Handler, PermanentEventError, classify
from .dlq import DeadLetter, list_dead_letters, replay_dead_letters
from .envelope import CloudEvent, EnvelopeError, new_event
from .kafka import KafkaTransport
from .outbox import OutboxRelay, OutboxRow, add_to_outbox, insert_for_each, outbox_row
from .redis_streams import RedisStreamsTransport
from .runner import consumers_from_settings, run_in_background, transport_from_settings
from .transport import Delivery, Message, Transport, TransportError, dead_letter_topic

__all__ = [
    "DEAD_LETTERS",
    "BatchHandler",
    "CloudEvent",
    "DeadLetter",
    "Delivery",
    "EnvelopeError",
    "EventConsumer",
    "Handler",
    "KafkaTransport",
    "Message",
    "OutboxRelay",
    "OutboxRow",
    "PermanentEventError",
    "RedisStreamsTransport",
    "Transport",
    "TransportError",
    "add_to_outbox",
    "classify",
    "consumers_from_settings",
    "dead_letter_topic",
    "insert_for_each",
    "list_dead_letters",
    "new_event",
    "outbox_row",
    "replay_dead_letters",
    "run_in_background",
    "transport_from_settings",
]
