"""HTTP routes of the account service."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
