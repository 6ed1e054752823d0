"""HTTP routes of the otp service."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
