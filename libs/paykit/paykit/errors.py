"""RFC 9457 problem+json for every error a service returns.

Error tree:
    ProblemError            an operating error with a stable machine `code` and an HTTP status
      (raised by use cases: INSUFFICIENT_FUNDS, INVALID_OTP, ...)
    RequestValidationError  FastAPI's, mapped to 422 VALIDATION_ERROR with the fields at fault
    StarletteHTTPException  routing errors (404 NOT_FOUND, 405 METHOD_NOT_ALLOWED)
    Exception               a bug: 500 INTERNAL_ERROR, logged with its trace, never shown
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_JSON = "application/problem+json"
RETRY_AFTER_S = 1
log = logging.getLogger("paykit.errors")


class ProblemError(Exception):
    """An expected failure that maps to a status and a stable machine code."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str = "",
        *,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail or code)
        self.status = status
        self.code = code
        self.detail = detail or code.replace("_", " ").capitalize()
        self.headers = headers or {}
        self.extra = extra

    def to_body(self, instance: str = "") -> dict[str, Any]:
        return problem_body(self.status, self.code, self.detail, instance, **self.extra)


def problem_body(status: int, code: str, detail: str, instance: str = "", **extra: Any) -> dict[str, Any]:
    try:
        title = HTTPStatus(status).phrase
    except ValueError:
        title = "Error"
    body: dict[str, Any] = {
        "type": f"https://errors.payment-fleet.dev/{code.lower().replace('_', '-')}",
        "title": title,
        "status": status,
        "code": code,
        # `error` keeps the seed's field name for clients written against it.
        "error": code,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    body.update(extra)
    return body


def problem_response(
    status: int,
    code: str,
    detail: str,
    instance: str = "",
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    return JSONResponse(
        problem_body(status, code, detail, instance, **extra),
        status_code=status,
        media_type=PROBLEM_JSON,
        headers=headers,
    )


_STATUS_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "CONFLICT",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    422: "VALIDATION_ERROR",
    429: "RATE_LIMITED",
    503: "SERVICE_UNAVAILABLE",
}


def _field_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    fields = []
    for err in exc.errors()[:20]:
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body",)]
        fields.append({"field": ".".join(loc) or "body", "message": str(err.get("msg", "invalid"))})
    return fields


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ProblemError)
    async def _problem(request: Request, exc: ProblemError) -> JSONResponse:
        headers = exc.headers
        if exc.status == 503 and not any(name.lower() == "retry-after" for name in headers):
            # Every "cannot serve this now" says when to come back (DESIGN §6b).
            headers = {**headers, "Retry-After": str(RETRY_AFTER_S)}
        return JSONResponse(
            exc.to_body(request.url.path),
            status_code=exc.status,
            media_type=PROBLEM_JSON,
            headers=headers,
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        fields = _field_errors(exc)
        detail = "; ".join(f"{f['field']}: {f['message']}" for f in fields) or "Invalid request"
        return problem_response(422, "VALIDATION_ERROR", detail, request.url.path, errors=fields)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _STATUS_CODES.get(exc.status_code, "HTTP_ERROR")
        detail = exc.detail if isinstance(exc.detail, str) else code
        return problem_response(exc.status_code, code, detail, request.url.path, headers=exc.headers)

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem_response(500, "INTERNAL_ERROR", "An unexpected error occurred", request.url.path)
