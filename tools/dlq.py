"""List or replay a consumer group's dead letters (`make dlq-list|dlq-replay GROUP=… [TOPIC=…]`).

Reads KAFKA_BROKERS (Kafka) or else REDIS_URL (Redis Streams) from the environment, like the
services. Replay publishes each dead letter again on its topic: the group that failed handles
it, every other group skips it (their inbox holds its id). Fix the cause first.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from paykit.config import ServiceSettings
from paykit.events import (
    CloudEvent,
    EnvelopeError,
    list_dead_letters,
    replay_dead_letters,
    transport_from_settings,
)


async def _main(command: str, topic: str, group: str, limit: int) -> int:
    settings = ServiceSettings(service_name="dlq-tool")
    transport = transport_from_settings(settings)
    try:
        if command == "list":
            letters = await list_dead_letters(transport, topic, group, limit=limit)
            for letter in letters:
                try:
                    event = CloudEvent.from_json(letter.value)
                    what = f"{event.id} {event.type} subject={event.subject}"
                except EnvelopeError:
                    what = f"(not a CloudEvent, {len(letter.value)} bytes)"
                print(f"{letter.original_id}\t{what}\t{letter.error}")
            print(f"{len(letters)} dead letter(s) of {group} on {topic}", file=sys.stderr)
        else:
            replayed = await replay_dead_letters(transport, topic, group, limit=limit)
            print(f"replayed {replayed} dead letter(s) of {group} on {topic}")
    finally:
        await transport.aclose()
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("command", choices=["list", "replay"])
    parser.add_argument("--group", required=True, help="consumer group, e.g. notification-group")
    parser.add_argument("--topic", default="payment-events")
    parser.add_argument("--limit", type=int, default=1000)
    args = parser.parse_args()
    if not 1 <= args.limit <= 100_000:
        parser.error("--limit must be between 1 and 100000")
    return asyncio.run(_main(args.command, args.topic, args.group, args.limit))


if __name__ == "__main__":
    sys.exit(main())
