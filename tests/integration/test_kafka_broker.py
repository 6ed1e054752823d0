"""The embedded Kafka broker the integration suite starts (tools/kafka/broker.py)."""

from __future__ import annotations

import pytest

from tools.kafka import broker as kafka_broker

pytestmark = pytest.mark.integration


def test_a_cluster_id_starting_with_a_dash_still_formats(monkeypatch: pytest.MonkeyPatch) -> None:
    # Random ids start with "-" one time in 64; the storage tool took such an id for an option
    # and the whole integration session failed to start.
    monkeypatch.setattr(kafka_broker, "_kafka_uuid", lambda: "-3HgfKslSxOgyByMD7cxxw")
    with kafka_broker.KafkaBroker() as broker:
        assert kafka_broker._metadata_ok(broker.bootstrap)
