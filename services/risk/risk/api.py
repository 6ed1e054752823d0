"""HTTP routes of the risk service."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
