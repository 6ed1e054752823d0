"""OTP use cases: issue a challenge and deliver it; verify a code against one."""

from __future__ import annotations

import math
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from paykit.errors import ProblemError
from paykit.masking import Masked
from prometheus_client import Counter
from redis.asyncio import Redis

from . import domain, store
from .clients import NotificationClient
from .domain import Binding, Verdict

OTP_GENERATED = Counter("otp_generated_total", "OTP challenges issued and delivered")
CHALLENGES_REFUSED = Counter("otp_challenges_refused_total", "Challenges refused past a cap", ["limit"])
OTP_VERIFICATIONS = Counter("otp_verifications_total", "OTP verification attempts", ["result"])
# Every verdict's series exists from the start (at 0), so dashboards and rate() see it before
# the first verification of that kind.
for _verdict in Verdict:
    OTP_VERIFICATIONS.labels(_verdict.value)


@dataclass(frozen=True, slots=True)
class Policy:
    secret: bytes
    ttl_ms: int
    attempts_max: int
    resend_cooldown_ms: int
    expired_retention_ms: int
    challenges_per_payment_max: int = 3
    challenges_per_customer_hour_max: int = 10


@dataclass(frozen=True, slots=True)
class Issued:
    challenge_id: str
    expires_at: datetime
    expires_in_s: int
    resend_available_at: datetime


@dataclass(frozen=True, slots=True)
class Verification:
    verdict: Verdict
    attempts_remaining: int


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _at(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


async def generate_otp(
    redis: Redis, notifications: NotificationClient, policy: Policy, binding: Binding
) -> Issued:
    """Issue a fresh code for (customer, payment), replacing any earlier one, and send it.

    Raises 429 OTP_RESEND_COOLDOWN within the cooldown of the previous challenge, and 429
    OTP_CHALLENGES_EXHAUSTED (`limit`: payment | customer) past the challenge caps: a
    payment's guesses are bounded by challenges_per_payment_max x attempts_max.
    """
    customer, transaction = binding.customer_id, binding.transaction_id
    left_ms = await store.claim_cooldown(redis, customer, transaction, policy.resend_cooldown_ms)
    if left_ms:
        retry_after_s = math.ceil(left_ms / 1000)
        raise ProblemError(
            429,
            "OTP_RESEND_COOLDOWN",
            f"A code was sent recently; retry in {retry_after_s} s",
            headers={"Retry-After": str(retry_after_s)},
            retry_after_s=retry_after_s,
        )
    capped = await store.count_challenge(
        redis,
        customer,
        transaction,
        payment_max=policy.challenges_per_payment_max,
        customer_hour_max=policy.challenges_per_customer_hour_max,
    )
    if capped is not None:
        CHALLENGES_REFUSED.labels(capped).inc()
        raise ProblemError(
            429,
            "OTP_CHALLENGES_EXHAUSTED",
            "No more one-time codes for this payment"
            if capped == "payment"
            else "Too many one-time codes requested in the last hour",
            limit=capped,
        )
    now_ms = _now_ms()
    code = domain.new_code()
    challenge_id = str(uuid.uuid4())
    await store.put_challenge(
        redis,
        customer,
        transaction,
        challenge_id=challenge_id,
        code_hash=domain.code_hash(policy.secret, binding, code),
        expires_at_ms=now_ms + policy.ttl_ms,
        retention_ms=policy.ttl_ms + policy.expired_retention_ms,
    )
    expires_in_s = math.ceil(policy.ttl_ms / 1000)
    try:
        await notifications.send_otp(binding, code, expires_in_s)
    except ProblemError:
        # Not delivered: nobody can know this code, so drop it and let the client retry now.
        await store.consume(redis, customer, transaction, challenge_id)
        await store.release_cooldown(redis, customer, transaction)
        await store.uncount_challenge(redis, customer, transaction)
        raise
    OTP_GENERATED.inc()
    return Issued(
        challenge_id=challenge_id,
        expires_at=_at(now_ms + policy.ttl_ms),
        expires_in_s=expires_in_s,
        resend_available_at=_at(now_ms + policy.resend_cooldown_ms),
    )


async def verify_otp(redis: Redis, policy: Policy, binding: Binding, otp: Masked) -> Verification:
    """Check a code: single use, bound to the payment, at most `attempts_max` tries."""
    verification = await _verify(redis, policy, binding, otp)
    OTP_VERIFICATIONS.labels(verification.verdict.value).inc()
    return verification


async def _verify(redis: Redis, policy: Policy, binding: Binding, otp: Masked) -> Verification:
    customer, transaction = binding.customer_id, binding.transaction_id
    reserved = await store.reserve_attempt(redis, customer, transaction, _now_ms(), policy.attempts_max)
    if reserved.status != "ok":
        remaining = domain.attempts_remaining(reserved.attempts_used, policy.attempts_max)
        if reserved.status == "not_found":
            remaining = 0
        if reserved.status == "expired":
            # An expired challenge must not block the fresh one the payer now needs. A burned
            # (locked) one keeps its cooldown: a fresh code at once would mean fresh guesses.
            await store.release_cooldown(redis, customer, transaction)
        return Verification(Verdict(reserved.status), remaining)
    candidate = domain.code_hash(policy.secret, binding, otp)
    if not domain.matches(reserved.code_hash, candidate):
        remaining = domain.attempts_remaining(reserved.attempts_used, policy.attempts_max)
        return Verification(Verdict.INVALID, remaining)
    if not await store.consume(redis, customer, transaction, reserved.challenge_id):
        # Used or replaced by a concurrent request between our check and now.
        return Verification(Verdict.NOT_FOUND, 0)
    return Verification(Verdict.VALID, 0)
