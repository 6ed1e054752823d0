"""Request bodies the gateway reads itself (payment bodies are validated by confirm)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, StringConstraints

Username = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
Password = Annotated[str, StringConstraints(min_length=1, max_length=256)]
Token = Annotated[str, StringConstraints(min_length=16, max_length=512)]

SEED_REQUIRED_FIELDS = ("transaction_id", "customer_id", "amount")


class LoginRequest(BaseModel):
    username: Username
    password: Password


class RefreshRequest(BaseModel):
    refresh_token: Token


class LogoutRequest(BaseModel):
    refresh_token: Token | None = None


class ReviewRequest(BaseModel):
    decision: Literal["approve", "decline"]
