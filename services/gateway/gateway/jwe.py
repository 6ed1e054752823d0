"""End-to-end encryption of request and response bodies as JWE (RFC 7516).

A client encrypts its JSON body to the gateway's `enc` key from /.well-known/jwks.json
(alg RSA-OAEP-256, enc A256GCM) and sends it as `Content-Type: application/jose` with its
own public RSA key as a JWK in the `X-Client-JWK` header (base64url JSON); the answer comes
back encrypted to that key. Both gateway instances hold the same `enc` key."""

from __future__ import annotations

import base64
import json
from typing import Any

from joserfc import jwe
from joserfc.errors import JoseError
from joserfc.jwk import RSAKey
from paykit import guard
from paykit.errors import ProblemError

from .domain import KeyPair

ALG = "RSA-OAEP-256"
ENC = "A256GCM"
JOSE_MEDIA_TYPE = "application/jose"
CLIENT_KEY_HEADER = "X-Client-JWK"
JWE_BYTES_MAX = 48 * 1024


def decrypt_body(raw: bytes, key: KeyPair) -> Any:
    if len(raw) > JWE_BYTES_MAX:
        raise ProblemError(413, "PAYLOAD_TOO_LARGE", "Encrypted body too large")
    try:
        private = RSAKey.import_key(key.private_pem)
        result = jwe.decrypt_compact(raw.strip(), private, algorithms=[ALG, ENC])
        if result.protected.get("alg") != ALG or result.protected.get("enc") != ENC:
            raise ProblemError(400, "DECRYPTION_FAILED", f"Only {ALG} with {ENC} is accepted")
        # The guard marks unsafe numbers; the caller refuses them with the same codes as plain JSON.
        return guard.loads(result.plaintext or b"")
    except (JoseError, ValueError) as exc:
        raise ProblemError(400, "DECRYPTION_FAILED", "The body could not be decrypted") from exc


def client_key(header_value: str | None) -> RSAKey:
    if not header_value:
        raise ProblemError(
            400, "CLIENT_KEY_REQUIRED", f"An encrypted request needs the {CLIENT_KEY_HEADER} header"
        )
    try:
        padded = header_value + "=" * (-len(header_value) % 4)
        jwk = json.loads(base64.urlsafe_b64decode(padded))
        if not isinstance(jwk, dict) or jwk.get("kty") != "RSA" or "d" in jwk:
            raise ValueError("not a public RSA JWK")
        return RSAKey.import_key(jwk)
    except (ValueError, JoseError) as exc:
        raise ProblemError(
            400, "INVALID_CLIENT_KEY", f"{CLIENT_KEY_HEADER} must be a public RSA JWK"
        ) from exc


def encrypt_body(body: bytes, recipient: RSAKey) -> str:
    return jwe.encrypt_compact(
        {"alg": ALG, "enc": ENC, "cty": "application/json"}, body, recipient, algorithms=[ALG, ENC]
    )
