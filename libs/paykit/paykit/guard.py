"""What every service refuses before a handler runs, with a 422 problem and a stable code:

    INVALID_AMOUNT      a JSON number under an `...amount` key that cannot be read exactly
                        and cheaply (an exponent, over 32 characters, NaN/Infinity, or more
                        digits than a double holds)
    INVALID_NUMBER      the same for any other key
    INVALID_CHARACTER   a NUL character in a string, a key, the path or the query
                        (Postgres refuses NUL in text: it would be a 500 deep inside)

Python's json reads `1e999990` as inf and `1000.0000000000000001` as 1000.0, so by the
time a handler sees a number the client's text is gone; the guard reads the literal text.
Bodies a service parses itself (the gateway's, after JWE decryption) go through
`parse_json`, the same rules. `GuardMiddleware` applies them to every request of a service
(a pure ASGI middleware: it reads the body once and hands the same bytes to the route).
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import ProblemError, problem_response

NUMBER_CHARS_MAX = 32
NUL = "\x00"
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class _BadNumber:
    """Stands in for a number literal we refuse, so the walk can name the field it was in."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


def _read_float(text: str) -> float | _BadNumber:
    if len(text) > NUMBER_CHARS_MAX or "e" in text or "E" in text:
        return _BadNumber(text)
    value = float(text)
    # Bounded text, so Decimal here is cheap: refuse what a double cannot hold exactly.
    if Decimal(repr(value)) != Decimal(text):
        return _BadNumber(text)
    return value


def _read_int(text: str) -> int | _BadNumber:
    return _BadNumber(text) if len(text) > NUMBER_CHARS_MAX else int(text)


def loads(raw: bytes | str) -> Any:
    """json.loads with refused numbers marked; ValueError/RecursionError if not JSON."""
    return json.loads(raw, parse_float=_read_float, parse_int=_read_int, parse_constant=_BadNumber)


def parse_json(raw: bytes | str) -> Any:
    """The JSON document in `raw`, or a ProblemError: 400 INVALID_JSON, or the 422s above."""
    try:
        data = loads(raw)
    except (ValueError, RecursionError):
        raise ProblemError(400, "INVALID_JSON", "The body is not valid JSON") from None
    refuse_unsafe(data)
    return data


def refuse_unsafe(data: Any) -> None:
    """Raise the ProblemError for the first refused number or NUL character in `data`."""
    stack: list[tuple[tuple[str, ...], Any]] = [((), data)]
    while stack:
        path, node = stack.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                if NUL in key:
                    raise _nul(path)
                stack.append(((*path, key), value))
        elif isinstance(node, list):
            stack.extend(((*path, str(i)), value) for i, value in enumerate(node))
        elif isinstance(node, str):
            if NUL in node:
                raise _nul(path)
        elif isinstance(node, _BadNumber):
            raise _bad_number(path)


def _nul(path: tuple[str, ...]) -> ProblemError:
    field = ".".join(path) or "body"
    return ProblemError(422, "INVALID_CHARACTER", f"{field}: NUL characters are not allowed", field=field)


def _bad_number(path: tuple[str, ...]) -> ProblemError:
    field = ".".join(path) or "body"
    if path and "amount" in path[-1].lower():
        return ProblemError(
            422,
            "INVALID_AMOUNT",
            f"{field}: an amount is a plain decimal such as 1000.00 (no exponent)",
            field=field,
        )
    return ProblemError(
        422, "INVALID_NUMBER", f"{field}: numbers are plain decimals of at most 32 characters", field=field
    )


def check_target(path: str, query_string: bytes) -> ProblemError | None:
    """A NUL in the (decoded) path or the query string."""
    if NUL in path or b"%00" in query_string or NUL.encode() in query_string:
        return ProblemError(422, "INVALID_CHARACTER", "NUL characters are not allowed in the URL")
    return None


def wants_body_check(method: str, content_type: str | None) -> bool:
    """Bodies FastAPI would read as JSON: a JSON media type, or none given."""
    if method not in _BODY_METHODS:
        return False
    if not content_type:
        return True
    media = content_type.split(";")[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


def check_body(raw: bytes) -> ProblemError | None:
    """The refusal for a JSON body; malformed JSON is left to the framework to report."""
    if not raw:
        return None
    try:
        data = loads(raw)
    except (ValueError, RecursionError):
        return None
    try:
        refuse_unsafe(data)
    except ProblemError as problem:
        return problem
    return None


class GuardMiddleware:
    """The checks above on every request; the body read here is replayed to the route."""

    def __init__(self, app: ASGIApp, *, body_bytes_max: int) -> None:
        self.app = app
        self.body_bytes_max = body_bytes_max

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refused = check_target(scope["path"], scope.get("query_string", b""))
        content_type = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"content-type"), None)
        if refused is None and wants_body_check(scope["method"], content_type):
            body, receive = await self._buffer(receive)
            if body is None:
                refused = ProblemError(
                    413, "PAYLOAD_TOO_LARGE", f"Body larger than {self.body_bytes_max} bytes"
                )
            else:
                refused = check_body(body)
        if refused is not None:
            response = problem_response(
                refused.status, refused.code, refused.detail, scope["path"], **refused.extra
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)

    async def _buffer(self, receive: Receive) -> tuple[bytes | None, Receive]:
        """The whole body (None past the limit: a chunked body declares no length) and a
        `receive` that hands it to the route as one message."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return b"", _replay([message], receive)
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.body_bytes_max:
                return None, receive
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        return body, _replay([{"type": "http.request", "body": body, "more_body": False}], receive)


def _replay(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def replayed() -> Message:
        return pending.pop(0) if pending else await receive()

    return replayed
