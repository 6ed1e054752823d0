"""Service identity: who is calling, proven by a short-lived token signed with the caller's key.

Every service (and `ops`, the identity of people and scripts) has its own Ed25519 key. A caller
signs a JWT per callee: `iss` = its name (also the `kid`), `aud` = the callee, `exp` a few
minutes ahead, optionally `sub` (the customer the gateway acts for) and `roles` (the
customer's roles, e.g. operator). The callee verifies it with the issuer's public key, given
by configuration (`SERVICE_PUBLIC_KEYS`; each service also publishes its own at
`/.well-known/service-jwks.json`), then checks the route's list of allowed callers.

This is on the path of every hop, so both ends cache: a caller reuses its token until it
nears expiry, and a callee remembers the tokens it has already verified (a dict lookup), with
the keys parsed once at start-up.

Keys come from `SERVICE_SIGNING_KEY` (this service's private key: base64 of the 32-byte seed,
or PKCS#8 PEM) and `SERVICE_PUBLIC_KEYS` (`name=base64url-public-key`, space or comma
separated). In development and tests only, `SERVICE_IDENTITY_DEV_SEED` derives a distinct key
per service instead, so in-process test fleets need no key files.

Error tree (all problem+json through paykit.errors):
    401 SERVICE_TOKEN_REQUIRED   no bearer token
    401 SERVICE_TOKEN_INVALID    bad signature, unknown issuer, wrong audience, expired...
    403 CALLER_NOT_ALLOWED       a valid token from a service this route does not serve
    403 PRINCIPAL_REQUIRED       the route acts for a customer and the token names none
    403 ROLE_REQUIRED            the caller acts for someone without the route's role
    IdentityConfigError          missing or malformed keys at start-up
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import time
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from .errors import ProblemError

ALGORITHM = "EdDSA"
# Every identity of the fleet; `ops` signs for people and scripts (make service-token).
FLEET = (
    "gateway",
    "confirm",
    "risk",
    "notification",
    "otp",
    "account",
    "audit",
    "ofac",
    "kyc",
    "partner_bank",
    "ops",
)
TOKEN_TTL_S = 300
# Verifiers refuse tokens that live longer than this, whoever minted them.
TOKEN_LIFETIME_MAX_S = 900
LEEWAY_S = 5
# Re-mint when less than this share of the lifetime remains, so a token never expires in flight.
REFRESH_SHARE = 0.2
SIGNED_CACHE_SIZE_MAX = 4096
VERIFIED_CACHE_SIZE_MAX = 10_000
TOKEN_LENGTH_MAX = 2048
JWKS_PATH = "/.well-known/service-jwks.json"


class IdentityConfigError(ValueError):
    """The service was not given usable keys."""


@dataclass(frozen=True)
class Caller:
    """The verified caller of a request."""

    service: str
    subject: str | None = None
    roles: frozenset[str] = frozenset()


# ---- keys ------------------------------------------------------------------------------------
def _b64decode(text: str) -> bytes:
    text = text.strip()
    padded = text + "=" * (-len(text) % 4)
    try:
        return base64.urlsafe_b64decode(padded.replace("+", "-").replace("/", "_"))
    except (binascii.Error, ValueError):
        raise IdentityConfigError("not base64") from None


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def private_key_from_text(text: str) -> Ed25519PrivateKey:
    """A PKCS#8 PEM, or base64 of the 32-byte private key (what docker/make-env.sh writes)."""
    text = text.strip()
    if text.startswith("-----BEGIN"):
        key = serialization.load_pem_private_key(text.encode(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise IdentityConfigError("the service signing key must be Ed25519")
        return key
    raw = _b64decode(text)
    if len(raw) != 32:
        raise IdentityConfigError("the service signing key must be 32 bytes (base64)")
    return Ed25519PrivateKey.from_private_bytes(raw)


def private_key_text(key: Ed25519PrivateKey) -> str:
    raw = key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    return _b64encode(raw)


def public_key_text(key: Ed25519PublicKey) -> str:
    return _b64encode(key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw))


def public_keys_from_text(text: str) -> dict[str, Ed25519PublicKey]:
    """`gateway=AbC... confirm=XyZ...` (space, comma or newline separated)."""
    keys: dict[str, Ed25519PublicKey] = {}
    for item in text.replace(",", " ").split():
        name, sep, value = item.partition("=")
        raw = _b64decode(value) if sep else b""
        if not name or len(raw) != 32:
            raise IdentityConfigError(f"SERVICE_PUBLIC_KEYS: malformed entry for {name or '?'!r}")
        keys[name] = Ed25519PublicKey.from_public_bytes(raw)
    return keys


def public_keys_text(keys: Mapping[str, Ed25519PublicKey]) -> str:
    return " ".join(f"{name}={public_key_text(key)}" for name, key in keys.items())


def dev_private_key(seed: str, name: str) -> Ed25519PrivateKey:
    """Development and tests only: a distinct key per identity, derived from the run's seed."""
    return Ed25519PrivateKey.from_private_bytes(hashlib.sha256(f"{seed}:{name}".encode()).digest())


def new_fleet_keys(names: Iterable[str] = FLEET) -> dict[str, Ed25519PrivateKey]:
    return {name: Ed25519PrivateKey.generate() for name in names}


def public_jwk(name: str, key: Ed25519PublicKey) -> dict[str, str]:
    return {
        "kty": "OKP",
        "crv": "Ed25519",
        "x": public_key_text(key),
        "kid": name,
        "alg": ALGORITHM,
        "use": "sig",
    }


# ---- tokens ----------------------------------------------------------------------------------
def mint(
    key: Ed25519PrivateKey,
    issuer: str,
    audience: str | list[str],
    *,
    ttl_s: int = TOKEN_TTL_S,
    subject: str | None = None,
    roles: Iterable[str] = (),
    now: float | None = None,
) -> str:
    issued = int(time.time() if now is None else now)
    claims: dict[str, Any] = {"iss": issuer, "aud": audience, "iat": issued, "exp": issued + ttl_s}
    if subject is not None:
        claims["sub"] = subject
    role_list = sorted(set(roles))
    if role_list:
        claims["roles"] = role_list
    return jwt.encode(claims, key, algorithm=ALGORITHM, headers={"kid": issuer})


class ServiceIdentity:
    """This service's key (to sign) and the fleet's public keys (to verify)."""

    def __init__(
        self,
        name: str,
        private_key: Ed25519PrivateKey,
        public_keys: Mapping[str, Ed25519PublicKey],
        *,
        ttl_s: int = TOKEN_TTL_S,
    ) -> None:
        if not 0 < ttl_s <= TOKEN_LIFETIME_MAX_S:
            raise IdentityConfigError(f"service token ttl must be 1..{TOKEN_LIFETIME_MAX_S} s")
        self.name = name
        self._key = private_key
        self.public_keys = dict(public_keys)
        self.public_keys.setdefault(name, private_key.public_key())
        self.ttl_s = ttl_s
        self._signed: OrderedDict[tuple[str, str | None, tuple[str, ...]], tuple[str, float]] = OrderedDict()
        self._verified: dict[str, tuple[Caller, float]] = {}

    # -- calling out
    def token(self, audience: str, subject: str | None = None, roles: Iterable[str] = ()) -> str:
        """A token for calling `audience` (for `subject`), reused until it nears expiry."""
        role_key = tuple(sorted(set(roles)))
        cache_key = (audience, subject, role_key)
        now = time.time()
        cached = self._signed.get(cache_key)
        if cached is not None and cached[1] > now:
            return cached[0]
        token = mint(
            self._key, self.name, audience, ttl_s=self.ttl_s, subject=subject, roles=role_key, now=now
        )
        self._signed[cache_key] = (token, now + self.ttl_s * (1 - REFRESH_SHARE))
        self._signed.move_to_end(cache_key)
        while len(self._signed) > SIGNED_CACHE_SIZE_MAX:  # bounded: the gateway signs per customer
            self._signed.popitem(last=False)
        return token

    # -- being called
    def verify(self, token: str) -> Caller:
        """The caller a token proves, or ProblemError 401."""
        now = time.time()
        cached = self._verified.get(token)
        if cached is not None:
            if cached[1] > now:
                return cached[0]
            del self._verified[token]
        if len(token) > TOKEN_LENGTH_MAX:
            raise _invalid("token too long")
        caller, expires_at = self._verify_signature(token, now)
        if len(self._verified) >= VERIFIED_CACHE_SIZE_MAX:
            self._verified = {t: v for t, v in self._verified.items() if v[1] > now}
            if len(self._verified) >= VERIFIED_CACHE_SIZE_MAX:
                self._verified.clear()
        self._verified[token] = (caller, expires_at)
        return caller

    def _verify_signature(self, token: str, now: float) -> tuple[Caller, float]:
        try:
            issuer = jwt.get_unverified_header(token).get("kid")
        except jwt.InvalidTokenError:
            raise _invalid("malformed token") from None
        if not isinstance(issuer, str) or issuer not in self.public_keys:
            raise _invalid("unknown issuer")
        key = self.public_keys[issuer]
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                audience=self.name,
                issuer=issuer,
                leeway=LEEWAY_S,
                options={"require": ["exp", "iat", "iss", "aud"]},
            )
        except jwt.InvalidTokenError as exc:
            raise _invalid(type(exc).__name__) from None
        exp, iat = claims["exp"], claims["iat"]
        if not isinstance(exp, int) or not isinstance(iat, int) or exp - iat > TOKEN_LIFETIME_MAX_S:
            raise _invalid("token lives too long")
        subject = claims.get("sub")
        roles = claims.get("roles") or []
        if (subject is not None and not isinstance(subject, str)) or not isinstance(roles, list):
            raise _invalid("malformed claims")
        caller = Caller(issuer, subject, frozenset(str(r) for r in roles))
        # Cached no longer than the token lives (with the leeway the decode allowed).
        return caller, min(float(exp + LEEWAY_S), now + TOKEN_LIFETIME_MAX_S)

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        return {"keys": [public_jwk(self.name, self._key.public_key())]}


def _invalid(reason: str) -> ProblemError:
    return ProblemError(
        401,
        "SERVICE_TOKEN_INVALID",
        f"The service token is not valid ({reason})",
        headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
    )


def identity_from_settings(
    name: str,
    *,
    signing_key: str,
    public_keys: str,
    dev_seed: str,
    production: bool,
    ttl_s: int = TOKEN_TTL_S,
) -> ServiceIdentity:
    """Configured keys win; a dev seed is refused in production, where keys are required."""
    if signing_key:
        if not public_keys:
            raise IdentityConfigError("SERVICE_PUBLIC_KEYS is required with SERVICE_SIGNING_KEY")
        return ServiceIdentity(
            name, private_key_from_text(signing_key), public_keys_from_text(public_keys), ttl_s=ttl_s
        )
    if production:
        raise IdentityConfigError("APP_ENV=production requires SERVICE_SIGNING_KEY and SERVICE_PUBLIC_KEYS")
    if not dev_seed:
        raise IdentityConfigError(
            "no service identity: set SERVICE_SIGNING_KEY and SERVICE_PUBLIC_KEYS "
            "(or, in development, SERVICE_IDENTITY_DEV_SEED; make run and the tests do)"
        )
    fleet = {n: dev_private_key(dev_seed, n).public_key() for n in FLEET}
    return ServiceIdentity(name, dev_private_key(dev_seed, name), fleet, ttl_s=ttl_s)


# ---- FastAPI: who may call a route ---------------------------------------------------------------
_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="ServiceToken",
    description="A service token: `make service-token CALLER=<service> AUDIENCE=<this service>`",
)


def allow(*callers: str, roles: Mapping[str, str] | None = None, principal: Iterable[str] = ()) -> Any:
    """A dependency admitting only `callers`; use it as `dependencies=[allow("confirm")]` or
    `caller: Annotated[Caller, allow("gateway")]`.

    `roles={"gateway": "operator"}`: the gateway only when acting for someone with that role.
    `principal=("gateway",)`: those callers must name the customer they act for (`sub`).
    """
    allowed = frozenset(callers)
    unknown = allowed - set(FLEET)
    if unknown:
        raise ValueError(f"unknown callers: {sorted(unknown)}")
    required_roles = dict(roles or {})
    needs_principal = frozenset(principal)

    async def caller_of(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Caller:
        if credentials is None:
            raise ProblemError(
                401,
                "SERVICE_TOKEN_REQUIRED",
                "This route needs a service token (Authorization: Bearer ...)",
                headers={"WWW-Authenticate": 'Bearer realm="payment-fleet"'},
            )
        identity: ServiceIdentity = request.app.state.identity
        caller = identity.verify(credentials.credentials)
        if caller.service not in allowed:
            raise ProblemError(
                403, "CALLER_NOT_ALLOWED", f"The {caller.service} service may not call this route"
            )
        if caller.service in needs_principal and not caller.subject:
            raise ProblemError(403, "PRINCIPAL_REQUIRED", "The token must name the customer acted for")
        role = required_roles.get(caller.service)
        if role is not None and role not in caller.roles:
            raise ProblemError(403, "ROLE_REQUIRED", f"This route needs the {role} role")
        request.state.caller = caller
        return caller

    # Read by paykit.testing, whose test clients sign as a caller the route admits.
    caller_of.allowed_callers = tuple(callers)  # type: ignore[attr-defined]
    caller_of.required_roles = required_roles  # type: ignore[attr-defined]
    return Depends(caller_of)


def allowed_callers(call: Any) -> tuple[tuple[str, ...], dict[str, str]] | None:
    """The callers an `allow(...)` dependency admits and the roles it asks of them (None: not
    one of ours)."""
    found = getattr(call, "allowed_callers", None)
    return (found, dict(call.required_roles)) if isinstance(found, tuple) else None
