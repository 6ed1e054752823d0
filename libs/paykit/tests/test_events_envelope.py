"""The CloudEvents 1.0 envelope."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from paykit.events import CloudEvent, EnvelopeError, new_event


def test_new_event_has_the_required_cloudevents_attributes():
    event = new_event(source="confirm", type="payment.completed", subject="pay_1", data={"amount_minor": 1})

    body = json.loads(event.to_json())

    assert body["specversion"] == "1.0"
    assert body["source"] == "confirm"
    assert body["type"] == "payment.completed"
    assert body["subject"] == "pay_1"
    assert body["datacontenttype"] == "application/json"
    assert body["data"] == {"amount_minor": 1}
    assert datetime.fromisoformat(body["time"]).utcoffset() is not None
    assert body["id"] != new_event(source="confirm", type="payment.completed", data={}).id


def test_an_event_without_subject_omits_it():
    assert "subject" not in json.loads(new_event(source="kyc", type="kyc.verified", data={}).to_json())


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=10,
)


@given(data=st.dictionaries(st.text(), json_values, max_size=5), subject=st.none() | st.text(max_size=50))
def test_an_event_survives_the_round_trip_through_json(data, subject):
    event = new_event(source="confirm", type="payment.held", subject=subject, data=data)

    assert CloudEvent.from_json(event.to_json()) == event


def test_extension_attributes_are_kept():
    raw = new_event(source="a", type="b", data={}).model_dump(mode="json") | {"partitionkey": "pay_1"}

    assert json.loads(CloudEvent.from_json(json.dumps(raw)).to_json())["partitionkey"] == "pay_1"


@pytest.mark.parametrize(
    "change",
    [
        {"specversion": "0.3"},
        {"id": ""},
        {"source": ""},
        {"type": None},
        {"time": "2024-01-01T00:00:00"},  # no timezone
        {"time": "yesterday"},
        {"data": "not an object"},
    ],
)
def test_a_malformed_envelope_is_rejected(change):
    raw = new_event(source="a", type="b", data={}).model_dump(mode="json") | change

    with pytest.raises(EnvelopeError):
        CloudEvent.from_json(json.dumps(raw))


@pytest.mark.parametrize("raw", [b"", b"not json", b"[]", b'{"specversion": "1.0"}'])
def test_bytes_that_are_not_an_event_are_rejected(raw):
    with pytest.raises(EnvelopeError):
        CloudEvent.from_json(raw)
