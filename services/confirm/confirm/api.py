"""HTTP routes of the confirm service."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
