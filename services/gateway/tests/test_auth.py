"""Login, tokens, refresh rotation, logout and rate limits as a client sees them."""

from __future__ import annotations

import base64
import json

import httpx
import jwt
from paykit.testing import verified_caller

from .conftest import ConfirmRecorder, login

PAYMENT = {
    "transaction_id": "txn_001",
    "customer_id": "cust_001",
    "amount": 1000.00,
    "from_account": "ACC001",
    "to_account": "ACC002",
}


async def test_login_issues_rs256_token_verifiable_with_published_jwks(client: httpx.AsyncClient) -> None:
    tokens = await login(client)
    assert tokens["token_type"] == "Bearer" and tokens["expires_in"] > 0 and tokens["refresh_token"]
    jwks = (await client.get("/.well-known/jwks.json")).json()["keys"]
    header = jwt.get_unverified_header(tokens["access_token"])
    assert header["alg"] == "RS256"
    sig = next(k for k in jwks if k["use"] == "sig" and k["kid"] == header["kid"])
    claims = jwt.decode(
        tokens["access_token"],
        jwt.PyJWK(sig).key,
        algorithms=["RS256"],
        audience="payment-fleet",
        issuer="payment-fleet-gateway",
    )
    assert claims["sub"] == "cust_001" and claims["exp"] > claims["iat"]
    assert all("d" not in k for k in jwks), "private key material must never be published"


async def test_wrong_password_and_unknown_user_look_the_same(client: httpx.AsyncClient) -> None:
    wrong = await client.post("/auth/login", json={"username": "demo", "password": "nope"})
    unknown = await client.post("/auth/login", json={"username": "ghost", "password": "nope"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.headers["content-type"].startswith("application/problem+json")
    assert wrong.json()["code"] == unknown.json()["code"] == "INVALID_CREDENTIALS"


async def test_protected_routes_need_a_valid_token(client: httpx.AsyncClient) -> None:
    missing = await client.post("/payment/confirm", json=PAYMENT)
    assert missing.status_code == 401 and missing.json()["code"] == "ACCESS_TOKEN_REQUIRED"
    forged = jwt.encode(
        {"sub": "cust_001", "exp": 9999999999}, "a-guessed-shared-secret-of-32-bytes!", algorithm="HS256"
    )
    bad = await client.post("/payment/confirm", json=PAYMENT, headers={"Authorization": f"Bearer {forged}"})
    assert bad.status_code == 401 and bad.json()["code"] == "INVALID_TOKEN"
    unsigned = jwt.encode({"sub": "cust_001"}, None, algorithm="none")
    none_alg = await client.get("/payments/x", headers={"Authorization": f"Bearer {unsigned}"})
    assert none_alg.status_code == 401


async def test_confirm_is_forwarded_as_the_tokens_customer(
    client: httpx.AsyncClient, confirm: ConfirmRecorder
) -> None:
    token = (await login(client))["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    no_key = await client.post("/payment/confirm", json=PAYMENT, headers=auth)
    assert no_key.status_code == 400 and no_key.json()["code"] == "MISSING_IDEMPOTENCY_KEY"
    other = await client.post(
        "/payment/confirm",
        json={**PAYMENT, "customer_id": "cust_002"},
        headers={**auth, "Idempotency-Key": "k1"},
    )
    assert other.status_code == 403
    missing = await client.post(
        "/payment/confirm", json={"customer_id": "cust_001"}, headers={**auth, "Idempotency-Key": "k1"}
    )
    assert missing.status_code == 400 and set(missing.json()["missing_fields"]) == {
        "transaction_id",
        "amount",
    }
    assert confirm.requests == [], "nothing invalid reaches the confirm service"
    ok = await client.post("/payment/confirm", json=PAYMENT, headers={**auth, "Idempotency-Key": "k1"})
    assert ok.status_code == 200
    sent = confirm.requests[-1]
    # The customer travels inside the gateway's signed token, not as a header anyone could set.
    assert ok.json()["user"] == "cust_001" and "x-user-id" not in sent.headers
    assert verified_caller(sent, "confirm").service == "gateway"
    assert sent.headers["idempotency-key"] == "k1"
    assert "traceparent" in sent.headers and sent.headers["x-correlation-id"]


async def test_refresh_rotates_and_reuse_revokes_the_family(client: httpx.AsyncClient) -> None:
    first = await login(client)
    second = await client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert second.status_code == 200
    reuse = await client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert reuse.status_code == 401 and reuse.json()["code"] == "REFRESH_TOKEN_REUSED"
    after_theft = await client.post("/auth/refresh", json={"refresh_token": second.json()["refresh_token"]})
    assert after_theft.status_code == 401, "the whole family is revoked once a token is replayed"


async def test_logout_revokes_the_access_token(client: httpx.AsyncClient) -> None:
    tokens = await login(client)
    auth = {"Authorization": f"Bearer {tokens['access_token']}"}
    out = await client.post("/auth/logout", json={"refresh_token": tokens["refresh_token"]}, headers=auth)
    assert out.status_code == 204
    after = await client.get("/payments/anything", headers=auth)
    assert after.status_code == 401 and after.json()["code"] == "TOKEN_REVOKED"
    refresh = await client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert refresh.status_code == 401


async def test_login_is_rate_limited_with_standard_headers(client: httpx.AsyncClient) -> None:
    statuses = []
    for _ in range(7):
        response = await client.post("/auth/login", json={"username": "jane", "password": "wrong"})
        statuses.append(response.status_code)
    assert statuses[:5] == [401] * 5 and statuses[5:] == [429, 429]
    assert int(response.headers["Retry-After"]) >= 1
    assert response.headers["RateLimit-Remaining"] == "0" and response.json()["code"] == "RATE_LIMITED"


async def test_operator_route_needs_the_operator_role(client: httpx.AsyncClient) -> None:
    customer = (await login(client))["access_token"]
    denied = await client.post(
        "/operator/payments/PAY1/review",
        json={"decision": "approve"},
        headers={"Authorization": f"Bearer {customer}", "Idempotency-Key": "r1"},
    )
    assert denied.status_code == 403
    queue = await client.get(
        "/operator/payments/under-review", headers={"Authorization": f"Bearer {customer}"}
    )
    assert queue.status_code == 403
    ops = (await login(client, "ops"))["access_token"]
    ops_queue = await client.get(
        "/operator/payments/under-review", headers={"Authorization": f"Bearer {ops}"}
    )
    assert ops_queue.status_code == 200
    allowed = await client.post(
        "/operator/payments/PAY1/review",
        json={"decision": "approve"},
        headers={"Authorization": f"Bearer {ops}", "Idempotency-Key": "r1"},
    )
    assert allowed.status_code == 200


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


async def test_encrypted_request_gets_an_encrypted_answer(
    client: httpx.AsyncClient, confirm: ConfirmRecorder
) -> None:
    from joserfc import jwe
    from joserfc.jwk import RSAKey

    token = (await login(client))["access_token"]
    enc = next(k for k in (await client.get("/.well-known/jwks.json")).json()["keys"] if k["use"] == "enc")
    client_key = RSAKey.generate_key(2048)
    body = jwe.encrypt_compact(
        {"alg": "RSA-OAEP-256", "enc": "A256GCM"},
        json.dumps(PAYMENT).encode(),
        RSAKey.import_key(enc),
        algorithms=["RSA-OAEP-256", "A256GCM"],
    )
    response = await client.post(
        "/payment/confirm",
        content=body,
        headers={
            "Authorization": f"Bearer {token}",
            "Idempotency-Key": "e1",
            "Content-Type": "application/jose",
            "X-Client-JWK": _b64(json.dumps(client_key.as_dict(private=False)).encode()),
        },
    )
    assert response.status_code == 200 and response.headers["content-type"] == "application/jose"
    plain = json.loads(
        jwe.decrypt_compact(response.content, client_key, algorithms=["RSA-OAEP-256", "A256GCM"]).plaintext
        or b""
    )
    assert plain["echo"]["transaction_id"] == "txn_001", "the confirm service saw the decrypted body"
    tampered = await client.post(
        "/payment/confirm",
        content=body[:-4] + "AAAA",
        headers={
            "Authorization": f"Bearer {token}",
            "Idempotency-Key": "e2",
            "Content-Type": "application/jose",
            "X-Client-JWK": _b64(json.dumps(client_key.as_dict(private=False)).encode()),
        },
    )
    assert tampered.status_code == 400 and tampered.json()["code"] == "DECRYPTION_FAILED"


async def test_health_names_the_instance_and_reports_dependencies(client: httpx.AsyncClient) -> None:
    health = (await client.get("/health")).json()
    assert health["status"] == "healthy" and health["instance"]
    assert health["dependencies"] == {"redis": "healthy", "confirm_service": "healthy"}


async def test_a_cookie_a_service_sets_is_never_sent_on_for_the_next_customer(
    client: httpx.AsyncClient, confirm: ConfirmRecorder
) -> None:
    demo = {"Authorization": f"Bearer {(await login(client))['access_token']}"}
    jane = {"Authorization": f"Bearer {(await login(client, 'jane'))['access_token']}"}
    confirm.reply = (200, {"payments": []})
    confirm.cookie = "session=demo-only"
    await client.get("/payments", headers=demo)
    confirm.cookie = None
    await client.get("/payments", headers=jane)
    assert "cookie" not in confirm.requests[-1].headers
