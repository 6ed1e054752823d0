"""schemathesis against every internal service's OpenAPI document, on the running fleet.

For each operation it generates requests from the document (explicit examples first) and
sends them signed as the first caller the operation admits (`x-allowed-callers`, with the
roles it asks); each answer must not be a 5xx and must be documented: its status, its content
type (errors are application/problem+json) and its body's schema. Bounded by
OPENAPI_FUZZ_EXAMPLES per operation (CI time stays within minutes).

The file name makes it run last: it changes the fleet's state (random payments, holds...).
"""

from __future__ import annotations

import os
from collections.abc import Callable

import httpx
import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from .conftest import SERVICE_URLS, login

pytestmark = pytest.mark.integration

EXAMPLES = int(os.environ.get("OPENAPI_FUZZ_EXAMPLES", "12"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
# Fault injection would sabotage the rest of the fleet on purpose (development-only); a
# logout would revoke the token the gateway's operations are called with; nginx does not
# serve /ready or /metrics to the outside (they are each instance's own).
SKIPPED = {
    ("partner_bank", "/admin/faults"),
    ("gateway", "/auth/logout"),
    ("gateway", "/ready"),
    ("gateway", "/metrics"),
}
# A customer of the sample data, for routes the gateway calls on a customer's behalf.
SUBJECT = "cust_001"


def _headers(operation: schemathesis.APIOperation, audience: str, token: Callable[..., str]) -> dict:
    callers = operation.definition.raw.get("x-allowed-callers") or []
    if not callers:
        return {}
    caller = callers[0]
    role = (operation.definition.raw.get("x-required-roles") or {}).get(caller)
    signed = token(caller, audience, subject=SUBJECT, roles=[role] if role else [])
    return {"Authorization": f"Bearer {signed}"}


def _fuzz(operation: schemathesis.APIOperation, base_url: str, headers: dict[str, str]) -> str | None:
    @hypothesis.settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @hypothesis.given(case=operation.as_strategy())
    def run(case: schemathesis.Case) -> None:
        case.call_and_validate(base_url=base_url, headers=headers, checks=CHECKS, timeout=20)

    try:
        run()
    except (Exception, BaseExceptionGroup) as exc:  # collect every operation's failure, report them together
        return f"{operation.label}: {str(exc)[:1500]}"
    return None


@pytest.mark.parametrize("service", sorted(SERVICE_URLS))
def test_every_answer_is_documented_and_none_is_a_5xx(
    service: str, fleet_url: str, service_token: Callable[..., str]
) -> None:
    del fleet_url  # the fleet must be up
    base_url = SERVICE_URLS[service]
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if (service, operation.path) in SKIPPED:
            continue
        operations += 1
        failure = _fuzz(operation, base_url, _headers(operation, service, service_token))
        if failure:
            failures.append(failure)
    assert operations > 0
    assert failures == [], "\n\n".join(failures)


def test_the_gateway_through_nginx(fleet_url: str, gateway: httpx.Client) -> None:
    """The public API as a logged-in customer (demo) sees it. The document comes from a
    gateway instance (the edge need not serve it); the requests go through nginx."""
    schema = schemathesis.openapi.from_url("http://127.0.0.1:3000/openapi.json")
    headers = login(gateway, "demo")
    failures = [
        failure
        for result in schema.get_all_operations()
        if ("gateway", (operation := result.ok()).path) not in SKIPPED
        and (failure := _fuzz(operation, fleet_url, headers))
    ]
    assert failures == [], "\n\n".join(failures)
