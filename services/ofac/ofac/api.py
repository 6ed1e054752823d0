"""HTTP routes of the ofac service."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
