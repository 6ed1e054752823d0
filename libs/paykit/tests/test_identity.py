"""Service tokens: signed by the caller's own key, addressed to one callee, short-lived, and
cheap on the hot path (a caller reuses its token, a callee remembers what it verified)."""

from __future__ import annotations

import time

import pytest
from paykit.config import ServiceSettings
from paykit.errors import ProblemError
from paykit.identity import (
    TOKEN_LIFETIME_MAX_S,
    Caller,
    IdentityConfigError,
    ServiceIdentity,
    allow,
    identity_from_settings,
    mint,
    new_fleet_keys,
    private_key_text,
    public_keys_text,
)
from paykit.service import create_service_app
from paykit.testing import running_app


@pytest.fixture
def fleet() -> dict[str, ServiceIdentity]:
    keys = new_fleet_keys(("gateway", "confirm", "account"))
    public = {n: k.public_key() for n, k in keys.items()}
    return {n: ServiceIdentity(n, k, public, ttl_s=60) for n, k in keys.items()}


def test_a_token_proves_its_issuer_to_its_audience_only(fleet: dict[str, ServiceIdentity]) -> None:
    token = fleet["confirm"].token("account")
    assert fleet["account"].verify(token) == Caller("confirm")
    with pytest.raises(ProblemError) as refused:
        fleet["gateway"].verify(token)  # addressed to account, not the gateway
    assert (refused.value.status, refused.value.code) == (401, "SERVICE_TOKEN_INVALID")


def test_the_customer_and_roles_travel_signed(fleet: dict[str, ServiceIdentity]) -> None:
    token = fleet["gateway"].token("confirm", subject="cust_001", roles=["operator"])
    assert fleet["confirm"].verify(token) == Caller("gateway", "cust_001", frozenset({"operator"}))


def test_a_caller_reuses_its_token_until_it_nears_expiry(fleet: dict[str, ServiceIdentity]) -> None:
    confirm = fleet["confirm"]
    first = confirm.token("account")
    assert confirm.token("account") is first
    assert confirm.token("account", subject="x") != first
    key = next(iter(confirm._signed))
    confirm._signed[key] = (first, time.time() - 1)  # past its refresh point
    assert confirm.token("account") is not first  # minted again (Ed25519 is deterministic)


def test_forged_expired_and_long_lived_tokens_are_refused(fleet: dict[str, ServiceIdentity]) -> None:
    stranger = new_fleet_keys(("confirm",))["confirm"]
    own = fleet["confirm"]._key
    for token in (
        mint(stranger, "confirm", "account"),  # not confirm's key
        mint(own, "confirm", "account", now=time.time() - 3600),  # expired
        mint(own, "confirm", "account", ttl_s=TOKEN_LIFETIME_MAX_S + 60),  # lives too long
        mint(own, "mallory", "account"),  # unknown issuer
        "a.b.c",
        "",
    ):
        with pytest.raises(ProblemError) as refused:
            fleet["account"].verify(token)
        assert refused.value.status == 401


def test_a_verified_token_is_remembered_only_while_it_lives(fleet: dict[str, ServiceIdentity]) -> None:
    account = fleet["account"]
    token = mint(fleet["confirm"]._key, "confirm", "account", ttl_s=1, now=time.time() - 10)
    with pytest.raises(ProblemError):
        account.verify(token)
    fresh = fleet["confirm"].token("account")
    account.verify(fresh)
    assert fresh in account._verified
    caller, _ = account._verified[fresh]
    account._verified[fresh] = (caller, time.time() - 1)  # as if it had expired since
    assert account.verify(fresh) == caller  # verified again, not trusted from the cache


def test_configuration() -> None:
    keys = new_fleet_keys(("confirm", "account"))
    public = public_keys_text({n: k.public_key() for n, k in keys.items()})
    configured = identity_from_settings(
        "confirm",
        signing_key=private_key_text(keys["confirm"]),
        public_keys=public,
        dev_seed="",
        production=True,
    )
    assert set(configured.public_keys) == {"confirm", "account"}
    with pytest.raises(IdentityConfigError, match="production"):
        identity_from_settings("confirm", signing_key="", public_keys="", dev_seed="seed", production=True)
    with pytest.raises(IdentityConfigError):
        identity_from_settings("confirm", signing_key="", public_keys="", dev_seed="", production=False)
    with pytest.raises(IdentityConfigError, match="malformed"):
        identity_from_settings(
            "confirm",
            signing_key=private_key_text(keys["confirm"]),
            public_keys="account=xyz",
            dev_seed="",
            production=False,
        )


def test_a_production_service_without_keys_does_not_start() -> None:
    settings = ServiceSettings(app_env="production", service_name="account")
    with pytest.raises(IdentityConfigError, match="SERVICE_SIGNING_KEY"):
        create_service_app(settings, title="t")


async def test_routes_answer_401_and_403_as_problems() -> None:
    app = create_service_app(ServiceSettings(app_env="test", service_name="account"), title="t")

    @app.post("/holds", dependencies=[allow("confirm")])
    async def holds() -> dict[str, str]:
        return {"ok": "yes"}

    async with running_app(app, caller="gateway") as client:
        forbidden = await client.post("/holds")
        assert forbidden.status_code == 403 and forbidden.json()["code"] == "CALLER_NOT_ALLOWED"
        missing = await client.post("/holds", headers={"Authorization": ""})
        assert missing.status_code == 401 and missing.headers["content-type"] == "application/problem+json"
        assert missing.headers["www-authenticate"].startswith("Bearer")
    async with running_app(app) as client:  # the tests' default: the first caller the route admits
        assert (await client.post("/holds")).json() == {"ok": "yes"}
    openapi = app.openapi()
    assert openapi["components"]["securitySchemes"]["ServiceToken"]["scheme"] == "bearer"
