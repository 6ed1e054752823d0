"""Public routes: auth, the seed's payment confirm, payments and own accounts.

Every protected route authenticates the bearer token, applies the shared rate limits, and
acts as the token's customer: a customer can only touch their own accounts and payments."""

from __future__ import annotations

import json
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from paykit import MoneyError, guard, parse_amount_minor
from paykit.accounts import ACCOUNT_NUMBER_LENGTH_MAX, ACCOUNT_NUMBER_REGEX
from paykit.context import IDEMPOTENCY_HEADER
from paykit.errors import ProblemError
from paykit.idempotency import validate_key
from paykit.openapi import problems

from . import jwe, usecases
from .clients import Upstream, passed_headers
from .domain import Principal
from .ratelimit import RateLimits, client_ip
from .schemas import SEED_REQUIRED_FIELDS, LoginRequest, LogoutRequest, RefreshRequest, ReviewRequest
from .usecases import AuthDeps

# What any route may answer besides its own: the token check, the rate limits, and the
# services' answers the gateway passes through (paykit.openapi documents each as problem+json).
ACCEPTED: dict[int | str, dict[str, Any]] = {202: {"description": "Accepted: the payment waits"}}
router = APIRouter(responses=ACCEPTED | problems(400, 401, 403, 404, 409, 429))
# Development only (not mounted in production): what the dev channels "sent" you.
dev_router = APIRouter(tags=["development"], responses=problems(401, 403, 429))
AccountNumber = Annotated[
    str, Path(min_length=1, max_length=ACCOUNT_NUMBER_LENGTH_MAX, pattern=ACCOUNT_NUMBER_REGEX)
]
PaymentId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]


# Dependencies are `async def`: FastAPI runs a plain `def` one in its thread pool, a
# thread hand-off per request for a lookup (seen in the fleet's profiles).
async def auth_deps(request: Request) -> AuthDeps:
    return request.app.state.auth  # type: ignore[no-any-return]


async def limits(request: Request) -> RateLimits:
    return request.app.state.rate_limits  # type: ignore[no-any-return]


async def principal(
    request: Request,
    deps: Annotated[AuthDeps, Depends(auth_deps)],
    rate: Annotated[RateLimits, Depends(limits)],
    authorization: Annotated[str | None, Header()] = None,
) -> Principal:
    """The token's principal, after the IP limit, its revocation and the user limit, in that
    order. The token is read first (no I/O) so that the IP limit and the revocation mark share
    one Redis round trip; a refused IP still wins over a bad token, and only a request that
    passed both counts against its user (a revoked token cannot spend its owner's quota)."""
    ip = client_ip(request)
    try:
        who = usecases.verify_token(deps, authorization)
    except ProblemError:
        await rate.hit(request, "ip", ip)
        raise
    if await rate.hit(request, "ip", ip, exists=usecases.revocation_key(who)):
        raise usecases.token_revoked()
    await rate.hit(request, "user", who.customer_id)
    return who


AuthDep = Annotated[AuthDeps, Depends(auth_deps)]
PrincipalDep = Annotated[Principal, Depends(principal)]


def _upstream(request: Request, name: str) -> Upstream:
    return request.app.state.upstreams[name]  # type: ignore[no-any-return]


# ---- auth ----------------------------------------------------------------------------------
@router.post("/auth/login", summary="Exchange username and password for an access and a refresh token")
async def login(body: LoginRequest, request: Request, deps: AuthDep) -> dict[str, Any]:
    rate: RateLimits = request.app.state.rate_limits
    await rate.hit(request, "login", f"ip:{client_ip(request)}")
    # Per username only failed attempts count: the owner's own logins never lock them out.
    user_key = body.username.lower()
    await rate.check(request, "login_user", user_key)
    try:
        return await usecases.login(deps, body.username, body.password)
    except ProblemError as refused:
        if refused.code == "INVALID_CREDENTIALS":
            await rate.record(request, "login_user", user_key)
        raise


@router.post("/auth/refresh", summary="Rotate a refresh token for new tokens")
async def refresh(body: RefreshRequest, request: Request, deps: AuthDep) -> dict[str, Any]:
    rate: RateLimits = request.app.state.rate_limits
    await rate.hit(request, "login", f"ip:{client_ip(request)}")
    return await usecases.refresh(deps, body.refresh_token)


@router.post("/auth/logout", status_code=204, summary="Revoke the access token (and refresh token if given)")
async def logout(who: PrincipalDep, deps: AuthDep, body: LogoutRequest | None = None) -> Response:
    await usecases.logout(deps, who, body.refresh_token if body else None)
    return Response(status_code=204)


@router.get("/.well-known/jwks.json", summary="Public keys: `sig` verifies our tokens, `enc` encrypts to us")
async def jwks(request: Request) -> JSONResponse:
    keys = [
        request.app.state.auth.signing_key.public_jwk("sig"),
        request.app.state.encryption_key.public_jwk("enc"),
    ]
    return JSONResponse({"keys": keys}, headers={"Cache-Control": "public, max-age=300"})


# ---- payments ------------------------------------------------------------------------------
@router.post(
    "/payment/confirm", summary="Confirm a payment (the seed's call; a new transaction id creates it)"
)
async def confirm(request: Request, who: PrincipalDep) -> Response:
    return await _payment_post(request, who, "/payment/confirm")


@router.post("/payments", summary="Create a payment to confirm later")
async def create_payment(request: Request, who: PrincipalDep) -> Response:
    return await _payment_post(request, who, "/payments")


async def _payment_post(request: Request, who: Principal, path: str) -> Response:
    body, reply_key = await _read_body(request)
    required = SEED_REQUIRED_FIELDS if path == "/payment/confirm" else ("customer_id", "amount")
    missing = [f for f in required if body.get(f) in (None, "")]
    if missing:
        raise ProblemError(
            400, "MISSING_REQUIRED_FIELDS", f"Missing: {', '.join(missing)}", missing_fields=missing
        )
    if body.get("customer_id") != who.customer_id:
        raise ProblemError(403, "CUSTOMER_MISMATCH", "You can only make payments as yourself")
    _check_amount(body)
    key = validate_key(request.headers.get(IDEMPOTENCY_HEADER))
    upstream = await _upstream(request, "confirm").forward(
        "POST", path, customer_id=who.customer_id, json=body, idempotency_key=key
    )
    return _relay(upstream, reply_key, for_customer=True)


@router.get("/payments/{payment_id}", summary="One of your payments (by payment id or transaction id)")
async def get_payment(payment_id: PaymentId, request: Request, who: PrincipalDep) -> Response:
    upstream = await _upstream(request, "confirm").forward(
        "GET", f"/payments/{payment_id}", customer_id=who.customer_id
    )
    return _relay(upstream, for_customer=True)


@router.get("/payments", summary="Your payments, newest first")
async def list_payments(
    request: Request, who: PrincipalDep, limit: Annotated[int, Query(ge=1, le=100)] = 20
) -> Response:
    upstream = await _upstream(request, "confirm").forward(
        "GET",
        "/payments",
        customer_id=who.customer_id,
        params={"customer_id": who.customer_id, "limit": limit},
    )
    return _relay(upstream, for_customer=True)


def _require_operator(who: Principal) -> None:
    if "operator" not in who.roles:
        raise ProblemError(403, "OPERATOR_ROLE_REQUIRED", "Only operators can review payments")


@router.get("/operator/payments/under-review", summary="Payments waiting for an operator, oldest first")
async def under_review(
    request: Request, who: PrincipalDep, limit: Annotated[int, Query(ge=1, le=100)] = 50
) -> Response:
    _require_operator(who)
    upstream = await _upstream(request, "confirm").forward(
        "GET", "/review-queue", customer_id=who.customer_id, roles=who.roles, params={"limit": limit}
    )
    return _relay(upstream)


@router.post("/operator/payments/{payment_id}/review", summary="Approve or decline a payment under review")
async def review(payment_id: PaymentId, body: ReviewRequest, request: Request, who: PrincipalDep) -> Response:
    _require_operator(who)
    key = validate_key(request.headers.get(IDEMPOTENCY_HEADER))
    upstream = await _upstream(request, "confirm").forward(
        "POST",
        f"/payments/{payment_id}/review",
        customer_id=who.customer_id,
        roles=who.roles,
        json={"decision": body.decision, "reviewer": who.username},
        idempotency_key=key,
    )
    return _relay(upstream)


# ---- accounts ------------------------------------------------------------------------------
@router.get("/accounts/{account_number}", summary="One of your accounts with its balances")
async def get_account(account_number: AccountNumber, request: Request, who: PrincipalDep) -> Response:
    upstream = await _own_account(request, who, account_number)
    return _relay(upstream)


@router.get("/accounts/{account_number}/entries", summary="Statement of one of your accounts")
async def account_entries(
    account_number: AccountNumber,
    request: Request,
    who: PrincipalDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    cursor: Annotated[str | None, Query(max_length=128)] = None,
) -> Response:
    await _own_account(request, who, account_number)
    params: dict[str, Any] = {"limit": limit} | ({"cursor": cursor} if cursor else {})
    upstream = await _upstream(request, "account").forward(
        "GET", f"/account/{account_number}/entries", customer_id=who.customer_id, params=params
    )
    return _relay(upstream)


async def _own_account(request: Request, who: Principal, account_number: str) -> httpx.Response:
    """The account if it is the customer's. Fails closed: any answer but the customer's own
    account stops the request. Another customer's account is the same 404 as a missing one,
    so account numbers cannot be probed."""
    upstream = await _upstream(request, "account").forward(
        "GET", f"/account/{account_number}", customer_id=who.customer_id
    )
    owned = upstream.status_code == 200 and _owner(upstream) == who.customer_id
    if owned:
        return upstream
    if upstream.status_code in (200, 404):
        raise ProblemError(404, "ACCOUNT_NOT_FOUND", "No such account")
    raise ProblemError(
        503, "ACCOUNT_SERVICE_UNAVAILABLE", "Accounts cannot be read now; retry", headers={"Retry-After": "1"}
    )


def _owner(upstream: httpx.Response) -> object:
    try:
        body = upstream.json()
    except ValueError:
        return None
    return body.get("customer_id") if isinstance(body, dict) else None


# ---- bodies --------------------------------------------------------------------------------
async def _read_body(request: Request) -> tuple[dict[str, Any], Any]:
    """The JSON object of the request, decrypted first when it came as a JWE."""
    raw = await request.body()
    reply_key = None
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == jwe.JOSE_MEDIA_TYPE or request.headers.get("x-encrypted") == "true":
        reply_key = jwe.client_key(request.headers.get(jwe.CLIENT_KEY_HEADER))
        body = jwe.decrypt_body(raw, request.app.state.encryption_key)
        guard.refuse_unsafe(body)
    else:
        body = guard.parse_json(raw or b"null")
    if not isinstance(body, dict):
        raise ProblemError(400, "INVALID_JSON", "The body must be a JSON object")
    return body, reply_key


def _check_amount(body: dict[str, Any]) -> None:
    """The amount against paykit's bounded grammar here, so a bad one never costs a hop."""
    currency = body.get("currency") or "USD"
    try:
        if not isinstance(currency, str):
            raise MoneyError("UNSUPPORTED_CURRENCY", "currency must be an ISO 4217 code")
        parse_amount_minor(body["amount"], currency)
    except MoneyError as exc:
        field = "currency" if exc.code == "UNSUPPORTED_CURRENCY" else "amount"
        raise ProblemError(422, exc.code, str(exc), field=field) from None


# What risk and sanctions screening found stays with operators (no tipping off): a customer
# learns that a payment was declined or is under review (the decision, which the state shows
# anyway), never why: no reasons, no score.
CUSTOMER_HIDDEN_FIELDS = frozenset({"reasons", "risk_reasons", "risk_score", "factors"})


def _relay(upstream: httpx.Response, reply_key: Any = None, *, for_customer: bool = False) -> Response:
    headers = passed_headers(upstream)
    content = _without_internals(upstream) if for_customer else upstream.content
    if reply_key is None:
        return Response(content, status_code=upstream.status_code, headers=headers)
    headers["content-type"] = jwe.JOSE_MEDIA_TYPE
    return Response(jwe.encrypt_body(content, reply_key), status_code=upstream.status_code, headers=headers)


def _without_internals(upstream: httpx.Response) -> bytes:
    try:
        body = upstream.json()
    except ValueError:
        return upstream.content
    if not isinstance(body, dict):
        return upstream.content
    body = _redact(body)
    if isinstance(body.get("payments"), list):
        body["payments"] = [_redact(p) if isinstance(p, dict) else p for p in body["payments"]]
    return json.dumps(body, separators=(",", ":")).encode()


def _redact(body: dict[str, Any]) -> dict[str, Any]:
    shown = {key: value for key, value in body.items() if key not in CUSTOMER_HIDDEN_FIELDS}
    if isinstance(shown.get("risk"), dict):
        shown["risk"] = {"decision": shown["risk"].get("decision")}
    return shown


# ---- development -----------------------------------------------------------------------------
@dev_router.get(
    "/dev/inbox", summary="Your messages from the dev SMS/email channels (OTP codes); not in production"
)
async def dev_inbox(
    request: Request, who: PrincipalDep, limit: Annotated[int, Query(ge=1, le=50)] = 10
) -> Response:
    upstream = await _upstream(request, "notification").forward(
        "GET",
        "/dev/inbox",
        customer_id=who.customer_id,
        params={"recipient": who.customer_id, "limit": limit},
    )
    return _relay(upstream)
