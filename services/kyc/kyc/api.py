"""HTTP routes of the kyc service."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
