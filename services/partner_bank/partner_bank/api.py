"""HTTP routes of the partner_bank service."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
