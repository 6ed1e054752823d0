"""The OpenAPI document says what a service really answers.

FastAPI documents a 422 as `application/json` and knows nothing of the errors raised in
dependencies or use cases. Every error here is `application/problem+json`, so the document is
completed once, when first asked for:
  - every error response a route declares (`responses=problems(404, 409)`) and the 422 of
    request validation point at one `Problem` schema in `application/problem+json`;
  - routes guarded by `paykit.identity.allow` get the `ServiceToken` security, their
    `x-allowed-callers` (and `x-required-roles`), and 401/403;
  - every route may answer 503 (shed under load, a deadline spent, a dependency down) and a
    route with a body 413 (too large).
The schemathesis run of `make test-integration` holds the fleet to this document.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute

from .errors import PROBLEM_JSON
from .identity import allowed_callers

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "RFC 9457 problem details with a stable machine `code`.",
    "type": "object",
    "required": ["type", "title", "status", "code", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "code": {"type": "string"},
        "error": {"type": "string"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
    },
    "additionalProperties": True,
}
GENERIC = {503: "Overloaded, the request's deadline spent, or a dependency unavailable; retry later"}
_METHODS_WITH_BODY = {"post", "put", "patch"}


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route decorator: these statuses answer a problem+json."""
    return {status: _problem_response(HTTPStatus(status).phrase) for status in statuses}


def _problem_response(description: str) -> dict[str, Any]:
    return {"description": description, "content": {PROBLEM_JSON: {"schema": PROBLEM_REF}}}


def api_routes(routes: Sequence[BaseRoute] | FastAPI) -> Iterator[APIRoute]:
    """Every APIRoute of an app (or a list of routes), included routers opened."""
    if isinstance(routes, FastAPI):
        routes = routes.routes
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        # FastAPI keeps an included router as one entry; its routes carry their full path.
        included = getattr(route, "original_router", None)
        if included is not None:
            yield from api_routes(included.routes)


def route_rule(route: APIRoute) -> tuple[tuple[str, ...], dict[str, str]] | None:
    """The callers a route admits and the roles it asks of them (None: not guarded)."""
    pending = list(route.dependant.dependencies)
    while pending:
        dependant = pending.pop()
        found = allowed_callers(dependant.call)
        if found:
            return found
        pending.extend(dependant.dependencies)
    return None


def complete(app: FastAPI, schema: dict[str, Any]) -> dict[str, Any]:
    schema.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
    schemes = schema["components"].setdefault("securitySchemes", {})
    paths = schema.get("paths", {})
    for route in api_routes(app):
        for method in route.methods or ():
            operation = paths.get(route.path_format, {}).get(method.lower())
            if operation is None:
                continue
            _complete_operation(operation, route, method.lower(), schemes)
    return schema


def _complete_operation(
    operation: dict[str, Any], route: APIRoute, method: str, schemes: dict[str, Any]
) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    for status, response in responses.items():
        if status.isdigit() and int(status) >= 400:
            # Every error of the fleet is a problem+json, whatever FastAPI assumed.
            response["content"] = {PROBLEM_JSON: {"schema": PROBLEM_REF}}
    rule = route_rule(route)
    if rule is not None:
        callers, roles = rule
        operation["x-allowed-callers"] = list(callers)
        if roles:
            operation["x-required-roles"] = roles
        operation.setdefault("security", [{"ServiceToken": []}])
        schemes.setdefault("ServiceToken", {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"})
        responses.setdefault("401", _problem_response("No valid service token"))
        responses.setdefault("403", _problem_response("A caller this route does not serve"))
    for code, description in GENERIC.items():
        responses.setdefault(str(code), _problem_response(description))
    if method in _METHODS_WITH_BODY and "requestBody" in operation:
        responses.setdefault("413", _problem_response("Body too large"))
        responses.setdefault("422", _problem_response("The body is not what this route takes"))


def install_openapi(app: FastAPI) -> None:
    original = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = complete(app, original())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
