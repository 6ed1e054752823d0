"""Token rules: RS256 access tokens with a `kid`, pinned algorithm and checked
exp/iat/aud/iss; opaque refresh tokens stored hashed. Pure: keys come in, claims go out."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
import uuid
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

ALGORITHM = "RS256"
KEY_BITS = 2048


@dataclass(frozen=True)
class KeyPair:
    kid: str
    private_pem: str

    # Parsed once per process: parsing the PEM (and checking the RSA key) on every request
    # was a third of the gateway's CPU in the issue's profile.
    @cached_property
    def private_key(self) -> rsa.RSAPrivateKey:
        key = serialization.load_pem_private_key(self.private_pem.encode(), password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError("gateway keys must be RSA")
        return key

    @cached_property
    def public_key(self) -> rsa.RSAPublicKey:
        return self.private_key.public_key()

    def public_jwk(self, use: str) -> dict[str, Any]:
        numbers = self.public_key.public_numbers()
        return {
            "kty": "RSA",
            "kid": self.kid,
            "use": use,
            "alg": ALGORITHM if use == "sig" else "RSA-OAEP-256",
            "n": _b64_uint(numbers.n),
            "e": _b64_uint(numbers.e),
        }


def new_key_pair() -> KeyPair:
    key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return key_pair_from_pem(pem)


def key_pair_from_pem(pem: str) -> KeyPair:
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    public_der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    kid = hashlib.sha256(public_der).hexdigest()[:16]
    return KeyPair(kid=kid, private_pem=pem)


@dataclass(frozen=True)
class Principal:
    username: str
    customer_id: str
    roles: tuple[str, ...]
    token_id: str
    expires_at: int


class TokenError(Exception):
    """The token is missing, malformed, expired, or not ours."""


def issue_access_token(
    key: KeyPair, *, username: str, customer_id: str, roles: list[str], issuer: str, audience: str, ttl_s: int
) -> tuple[str, int]:
    now = int(time.time())
    claims = {
        "iss": issuer,
        "aud": audience,
        "sub": customer_id,
        "user_id": customer_id,  # the seed's claim name
        "username": username,
        "roles": roles,
        "iat": now,
        "nbf": now,
        "exp": now + ttl_s,
        "jti": str(uuid.uuid4()),
    }
    token = jwt.encode(claims, key.private_key, algorithm=ALGORITHM, headers={"kid": key.kid})
    return token, ttl_s


def verify_access_token(
    token: str, key: KeyPair, *, issuer: str, audience: str, leeway_s: int = 5
) -> Principal:
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise TokenError("malformed token") from exc
    if header.get("alg") != ALGORITHM or header.get("kid") != key.kid:
        raise TokenError("token not signed by this gateway")
    try:
        claims = jwt.decode(
            token,
            key.public_key,
            algorithms=[ALGORITHM],
            audience=audience,
            issuer=issuer,
            leeway=leeway_s,
            options={"require": ["exp", "iat", "iss", "aud", "sub", "jti"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise TokenError("token expired") from exc
    except jwt.PyJWTError as exc:
        raise TokenError("invalid token") from exc
    return Principal(
        username=str(claims.get("username", "")),
        customer_id=str(claims["sub"]),
        roles=tuple(claims.get("roles", [])),
        token_id=str(claims["jti"]),
        expires_at=int(claims["exp"]),
    )


# Access tokens remembered as verified (a token is ~700 bytes, so ~3 MB at most).
VERIFIED_CACHE_SIZE_MAX = 4096


class AccessTokenVerifier:
    """`verify_access_token` with memory: a client reuses its token for many requests, so a
    token already verified is a dict lookup until it expires (the RS256 check and PyJWT's
    parsing were a twentieth of the gateway's CPU per payment). Only tokens that passed the
    full check are kept, and each is refused again once `exp` (with the leeway) has passed,
    just as PyJWT would refuse it. Revocation is not this class's question: it is asked on
    every request."""

    def __init__(self, key: KeyPair, *, issuer: str, audience: str, leeway_s: int = 5) -> None:
        self._key = key
        self._issuer = issuer
        self._audience = audience
        self._leeway_s = leeway_s
        self._verified: dict[str, Principal] = {}

    def verify(self, token: str, now: float | None = None) -> Principal:
        now = time.time() if now is None else now
        known = self._verified.get(token)
        if known is not None:
            if now < known.expires_at + self._leeway_s:
                return known
            del self._verified[token]
        principal = verify_access_token(
            token, self._key, issuer=self._issuer, audience=self._audience, leeway_s=self._leeway_s
        )
        if len(self._verified) >= VERIFIED_CACHE_SIZE_MAX:
            self._verified = {t: p for t, p in self._verified.items() if now < p.expires_at + self._leeway_s}
            if len(self._verified) >= VERIFIED_CACHE_SIZE_MAX:
                self._verified.clear()
        self._verified[token] = principal
        return principal


def new_refresh_token() -> str:
    return secrets.token_urlsafe(32)


def hash_refresh_token(token: str, pepper: bytes) -> str:
    """Keyed, so a stolen table of hashes cannot be checked against guesses offline."""
    return hmac.new(pepper, token.encode(), hashlib.sha256).hexdigest()


def _b64_uint(value: int) -> str:
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def canonical_json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), sort_keys=True).encode()
