"""The CloudEvents 1.0 envelope (JSON structured mode) every event of the fleet travels in."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

CLOUDEVENTS_CONTENT_TYPE = "application/cloudevents+json; charset=UTF-8"
ATTRIBUTE_LENGTH_MAX = 256


class EnvelopeError(ValueError):
    """Bytes that are not a CloudEvents 1.0 JSON event: a poison message, never retried."""


class CloudEvent(BaseModel):
    """`id` is unique per source; consumers dedupe on it. Extension attributes are kept."""

    model_config = ConfigDict(frozen=True, extra="allow")

    specversion: Literal["1.0"] = "1.0"
    id: str = Field(min_length=1, max_length=ATTRIBUTE_LENGTH_MAX)
    source: str = Field(min_length=1, max_length=ATTRIBUTE_LENGTH_MAX)
    type: str = Field(min_length=1, max_length=ATTRIBUTE_LENGTH_MAX)
    subject: str | None = Field(default=None, max_length=ATTRIBUTE_LENGTH_MAX)
    time: datetime
    datacontenttype: str = "application/json"
    data: dict[str, Any] = Field(default_factory=dict)

    @field_validator("time")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("time must carry a timezone (RFC 3339)")
        return value

    def to_json(self) -> bytes:
        return self.model_dump_json(exclude_none=True).encode()

    @classmethod
    def from_json(cls, raw: bytes | str) -> CloudEvent:
        try:
            return cls.model_validate_json(raw)
        except ValidationError as exc:
            raise EnvelopeError(f"not a CloudEvents 1.0 event: {exc.error_count()} errors") from None


def new_event(*, source: str, type: str, subject: str | None = None, data: dict[str, Any]) -> CloudEvent:
    """A new event with a random id and the current time (UTC)."""
    return CloudEvent(
        id=str(uuid.uuid4()),
        source=source,
        type=type,
        subject=subject,
        time=datetime.now(UTC),
        data=data,
    )
