"""Pure rules of the audit log: what an event says about whom, and the hash chain.

Each entry's hash is sha256(prev_hash || canonical JSON of the entry's fields); the first
entry's prev_hash is GENESIS_HASH. Changing any stored field, removing or reordering rows
breaks the chain at the first affected entry.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

GENESIS_HASH = "0" * 64
CHECKPOINT_EVERY_DEFAULT = 100
# Development only: production settings must supply AUDIT_CHECKPOINT_KEY.
CHECKPOINT_KEY_DEV = "dev-audit-checkpoint-key"


def sign_checkpoint(key: str, head_id: int, head_hash: str) -> str:
    """HMAC-SHA256 of (position, hash): only a holder of the key can make a checkpoint, so
    rewriting the log cannot be covered by rewriting its checkpoints."""
    return hmac.new(key.encode(), f"{head_id}:{head_hash}".encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True, slots=True)
class Checkpoint:
    head_id: int
    head_hash: str
    signature: str


def check_checkpoints(
    key: str, checkpoints: Sequence[Checkpoint], hashes: Mapping[int, str]
) -> tuple[str, int] | None:
    """(reason, entry id) of the first checkpoint the log no longer fits, or None. `hashes`
    holds the stored hash of every checkpointed position that still exists."""
    for cp in sorted(checkpoints, key=lambda c: c.head_id):
        if not hmac.compare_digest(sign_checkpoint(key, cp.head_id, cp.head_hash), cp.signature):
            return "CHECKPOINT_SIGNATURE", cp.head_id
        if hashes.get(cp.head_id) != cp.head_hash:
            return "CHECKPOINT_MISMATCH", cp.head_id
    return None


@dataclass(frozen=True, slots=True)
class Entry:
    id: int
    event_id: str
    topic: str
    event_type: str
    source: str
    subject: str | None
    transaction_id: str | None
    customer_id: str | None
    data: dict[str, Any]
    event_time: datetime | None
    recorded_at: datetime
    prev_hash: str

    def canonical(self) -> str:
        """Sorted keys, no whitespace, UTF-8, timestamps in ISO 8601: one text per entry."""
        record = {
            "id": self.id,
            "event_id": self.event_id,
            "topic": self.topic,
            "event_type": self.event_type,
            "source": self.source,
            "subject": self.subject,
            "transaction_id": self.transaction_id,
            "customer_id": self.customer_id,
            "data": self.data,
            "event_time": self.event_time.isoformat() if self.event_time else None,
            "recorded_at": self.recorded_at.isoformat(),
        }
        return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    def hash(self) -> str:
        return hashlib.sha256((self.prev_hash + self.canonical()).encode()).hexdigest()


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def subjects(topic: str, subject: str | None, data: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """(transaction_id, customer_id) the event is about, for lookups."""
    transaction_id = _text(data.get("transaction_id")) or _text(data.get("payment_id"))
    customer_id = _text(data.get("customer_id"))
    if topic == "kyc-events" and customer_id is None:
        customer_id = subject
    return transaction_id, customer_id


@dataclass(frozen=True, slots=True)
class StoredEntry:
    entry: Entry
    hash: str


@dataclass(frozen=True, slots=True)
class ChainCheck:
    valid: bool
    checked: int
    first_broken_id: int | None = None
    reason: str | None = None
    # The hash and position the next entry must continue from.
    last_hash: str = GENESIS_HASH
    next_id: int = 1


def check_chain(rows: Sequence[StoredEntry], start: ChainCheck) -> ChainCheck:
    """Continue a chain check over the next rows (ordered by id)."""
    prev_hash, expected_id, checked = start.last_hash, start.next_id, start.checked
    for row in rows:
        checked += 1
        entry = row.entry
        if entry.id != expected_id or entry.prev_hash != prev_hash or entry.hash() != row.hash:
            return ChainCheck(False, checked, first_broken_id=entry.id, reason="CHAIN_BROKEN")
        prev_hash, expected_id = row.hash, expected_id + 1
    return ChainCheck(True, checked, last_hash=prev_hash, next_id=expected_id)
