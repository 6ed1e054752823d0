"""Every route of every internal service names the callers it serves: a route added without
an allow-list fails here instead of being open to anything inside the network."""

from __future__ import annotations

import importlib

import pytest
from fastapi import FastAPI
from paykit.identity import FLEET
from paykit.testing import api_routes, route_callers

INTERNAL = ("account", "audit", "confirm", "kyc", "notification", "ofac", "otp", "partner_bank", "risk")
# Open by design: liveness, readiness, metrics, the OpenAPI document and the public keys.
OPEN = {"/health", "/ready", "/metrics", "/.well-known/service-jwks.json"}
# Guarded by a token a person holds (OFAC_ADMIN_TOKEN, KYC_REVIEWER_TOKEN) instead.
PERSON_TOKEN = {
    ("ofac", "POST", "/admin/lists/reload"),
    ("ofac", "GET", "/rescreens"),
    ("kyc", "POST", "/customers/{customer_id}/review/approve"),
    ("kyc", "POST", "/customers/{customer_id}/review/reject"),
    ("kyc", "GET", "/review-queue"),
    ("kyc", "GET", "/customers/{customer_id}/sanctions-hits"),
}
# Who may move money or read codes (issue 10 item 4), pinned so a widened list is a decision.
MONEY_AND_CODES = {
    ("account", "POST", "/holds"): ("confirm",),
    ("account", "POST", "/holds/h/capture"): ("confirm",),
    ("account", "POST", "/holds/h/release"): ("confirm",),
    ("account", "POST", "/reserve-funds"): ("confirm",),
    ("partner_bank", "POST", "/process-transfer"): ("confirm",),
    ("confirm", "POST", "/payment/confirm"): ("gateway",),
    ("confirm", "POST", "/payments/p/review"): ("gateway",),
    ("notification", "GET", "/dev/inbox"): ("ops", "gateway"),
    ("otp", "POST", "/verify-otp"): ("confirm",),
}


def _app(service: str) -> FastAPI:
    module = importlib.import_module(f"{service}.main")
    app: FastAPI = module.create_app()
    return app


@pytest.mark.parametrize("service", INTERNAL)
def test_every_route_names_its_callers(service: str) -> None:
    app = _app(service)
    unguarded = []
    for route in api_routes(app):
        if route.path in OPEN:
            continue
        for method in sorted(route.methods):
            if (service, method, route.path) in PERSON_TOKEN:
                continue
            sample = route.path.replace("{", "").replace("}", "")
            if not route_callers(app, method, sample):
                unguarded.append(f"{method} {route.path}")
    assert unguarded == []


def test_money_and_codes_have_the_narrow_lists() -> None:
    apps: dict[str, FastAPI] = {}
    for (service, method, path), callers in MONEY_AND_CODES.items():
        app = apps.setdefault(service, _app(service))
        assert route_callers(app, method, path) == callers, (service, path)


def test_make_env_gives_each_service_a_key_the_others_can_verify() -> None:
    from paykit.identity import ServiceIdentity, private_key_from_text, public_keys_from_text

    from tools.stack import compose

    dotenv = compose.make_env()
    public = public_keys_from_text(dotenv["SERVICE_PUBLIC_KEYS"])
    assert set(public) == set(FLEET)
    identities = {
        name: ServiceIdentity(name, private_key_from_text(dotenv[f"{name.upper()}_SIGNING_KEY"]), public)
        for name in FLEET
    }
    assert len({dotenv[f"{name.upper()}_SIGNING_KEY"] for name in FLEET}) == len(FLEET)
    for name, identity in identities.items():
        assert identities["account"].verify(identity.token("account")).service == name
