"""HTTP routes of the audit service."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
