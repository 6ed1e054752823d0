"""Every Redis command of the otp service.

Keys (customer and transaction ids are restricted to [A-Za-z0-9_.-] by the schemas):
    otp:challenge:{customer}:{transaction}  hash {challenge_id, code_hash, expires_at_ms, attempts}
    otp:cooldown:{customer}:{transaction}   set NX with the resend cooldown as its TTL
    otp:issued:{customer}:{transaction}     challenges issued for the payment (kept a day)
    otp:issued:{customer}                   challenges issued to the customer this hour

A challenge outlives its lifetime by a retention period so a late attempt is told
OTP_EXPIRED rather than OTP_NOT_FOUND. Attempts are reserved atomically in a Lua script
before the code is compared, so concurrent wrong guesses can never exceed the maximum.
"""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis

# Returns {status, attempts_used, challenge_id, code_hash}; status is ok | not_found |
# locked | expired. Only "ok" consumed an attempt.
_RESERVE_ATTEMPT = """
local f = redis.call('HMGET', KEYS[1], 'challenge_id', 'code_hash', 'expires_at_ms', 'attempts')
if not f[1] then return {'not_found', 0, '', ''} end
local used = tonumber(f[4])
if used >= tonumber(ARGV[2]) then return {'locked', used, '', ''} end
if tonumber(ARGV[1]) >= tonumber(f[3]) then return {'expired', used, '', ''} end
used = redis.call('HINCRBY', KEYS[1], 'attempts', 1)
return {'ok', used, f[1], f[2]}
"""

# Deletes the challenge only if it is still the one we checked (single use; a replaced
# challenge is left alone). Returns 1 when this caller consumed it.
_CONSUME = """
if redis.call('HGET', KEYS[1], 'challenge_id') == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


# Counts one challenge against both caps, or none when either is reached. Returns the cap
# that refused ('payment' | 'customer') or 'ok'. Windows start at the first challenge.
_COUNT_CHALLENGE = """
if tonumber(redis.call('GET', KEYS[1]) or '0') >= tonumber(ARGV[1]) then return 'payment' end
if tonumber(redis.call('GET', KEYS[2]) or '0') >= tonumber(ARGV[2]) then return 'customer' end
if redis.call('INCR', KEYS[1]) == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
if redis.call('INCR', KEYS[2]) == 1 then redis.call('PEXPIRE', KEYS[2], ARGV[4]) end
return 'ok'
"""
PAYMENT_COUNT_TTL_MS = 24 * 3600 * 1000
CUSTOMER_WINDOW_MS = 3600 * 1000


def challenge_key(customer_id: str, transaction_id: str) -> str:
    return f"otp:challenge:{customer_id}:{transaction_id}"


def cooldown_key(customer_id: str, transaction_id: str) -> str:
    return f"otp:cooldown:{customer_id}:{transaction_id}"


@dataclass(frozen=True, slots=True)
class Reservation:
    status: str
    attempts_used: int
    challenge_id: str
    code_hash: str


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


async def claim_cooldown(redis: Redis, customer_id: str, transaction_id: str, cooldown_ms: int) -> int:
    """Start the resend cooldown; returns 0 if started, else the milliseconds left of it."""
    key = cooldown_key(customer_id, transaction_id)
    if await redis.set(key, b"1", nx=True, px=cooldown_ms):
        return 0
    left = int(await redis.pttl(key))
    return max(left, 1)


def payment_count_key(customer_id: str, transaction_id: str) -> str:
    return f"otp:issued:{customer_id}:{transaction_id}"


def customer_count_key(customer_id: str) -> str:
    return f"otp:issued:{customer_id}"


async def count_challenge(
    redis: Redis, customer_id: str, transaction_id: str, *, payment_max: int, customer_hour_max: int
) -> str | None:
    """Count a challenge about to be issued; the cap that refuses it, else None."""
    keys = (payment_count_key(customer_id, transaction_id), customer_count_key(customer_id))
    args = (payment_max, customer_hour_max, PAYMENT_COUNT_TTL_MS, CUSTOMER_WINDOW_MS)
    answer = _text(await redis.eval(_COUNT_CHALLENGE, 2, *keys, *(str(a) for a in args)))
    return None if answer == "ok" else answer


async def uncount_challenge(redis: Redis, customer_id: str, transaction_id: str) -> None:
    """A challenge that was never delivered does not count against the caps."""
    async with redis.pipeline(transaction=True) as pipe:
        pipe.decr(payment_count_key(customer_id, transaction_id))
        pipe.decr(customer_count_key(customer_id))
        await pipe.execute()


async def release_cooldown(redis: Redis, customer_id: str, transaction_id: str) -> None:
    await redis.delete(cooldown_key(customer_id, transaction_id))


async def put_challenge(
    redis: Redis,
    customer_id: str,
    transaction_id: str,
    *,
    challenge_id: str,
    code_hash: str,
    expires_at_ms: int,
    retention_ms: int,
) -> None:
    """Replace any earlier challenge for this (customer, payment) with a fresh one."""
    key = challenge_key(customer_id, transaction_id)
    async with redis.pipeline(transaction=True) as pipe:
        pipe.delete(key)
        pipe.hset(
            key,
            mapping={
                "challenge_id": challenge_id,
                "code_hash": code_hash,
                "expires_at_ms": str(expires_at_ms),
                "attempts": "0",
            },
        )
        pipe.pexpire(key, retention_ms)
        await pipe.execute()


async def reserve_attempt(
    redis: Redis, customer_id: str, transaction_id: str, now_ms: int, attempts_max: int
) -> Reservation:
    raw = await redis.eval(
        _RESERVE_ATTEMPT, 1, challenge_key(customer_id, transaction_id), str(now_ms), str(attempts_max)
    )
    status, used, challenge_id, code_hash = raw
    return Reservation(_text(status), int(used), _text(challenge_id), _text(code_hash))


async def consume(redis: Redis, customer_id: str, transaction_id: str, challenge_id: str) -> bool:
    deleted = await redis.eval(_CONSUME, 1, challenge_key(customer_id, transaction_id), challenge_id)
    return int(deleted) == 1
