"""Token rules without a server: the verifier's memory never outlives a token's validity."""

from __future__ import annotations

import time

import pytest
from gateway.domain import AccessTokenVerifier, KeyPair, TokenError, issue_access_token, new_key_pair

ISSUER, AUDIENCE = "payment-fleet-gateway", "payment-fleet"


@pytest.fixture(scope="module")
def key() -> KeyPair:
    return new_key_pair()


def _token(key: KeyPair, ttl_s: int = 60) -> str:
    token, _ = issue_access_token(
        key,
        username="demo",
        customer_id="cust_001",
        roles=["customer"],
        issuer=ISSUER,
        audience=AUDIENCE,
        ttl_s=ttl_s,
    )
    return token


def test_a_remembered_token_is_refused_once_it_expires(key: KeyPair) -> None:
    verifier = AccessTokenVerifier(key, issuer=ISSUER, audience=AUDIENCE, leeway_s=0)
    token = _token(key, ttl_s=2)
    first = verifier.verify(token)
    assert first.customer_id == "cust_001" and verifier.verify(token) is first, "remembered"
    time.sleep(max(0.0, first.expires_at - time.time()) + 0.1)
    with pytest.raises(TokenError, match="expired"):
        verifier.verify(token)


def test_a_bad_token_is_never_remembered(key: KeyPair) -> None:
    verifier = AccessTokenVerifier(key, issuer=ISSUER, audience=AUDIENCE)
    other = AccessTokenVerifier(new_key_pair(), issuer=ISSUER, audience=AUDIENCE)
    token = _token(key)
    for _ in range(2):
        with pytest.raises(TokenError):
            other.verify(token)
    tampered = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    verifier.verify(token)
    for _ in range(2):
        with pytest.raises(TokenError):
            verifier.verify(tampered)
