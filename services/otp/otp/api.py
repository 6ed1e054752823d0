"""HTTP routes of the otp service."""

from __future__ import annotations

from fastapi import APIRouter, Request
from paykit.identity import allow
from paykit.masking import Masked
from paykit.openapi import problems

from . import usecases
from .domain import REASONS, Binding, Verdict
from .schemas import GenerateOtpRequest, GenerateOtpResponse, VerifyOtpRequest, VerifyOtpResponse

router = APIRouter(tags=["otp"], dependencies=[allow("confirm")])


def _binding(body: GenerateOtpRequest | VerifyOtpRequest) -> Binding:
    return Binding(body.customer_id, body.transaction_id, body.amount_minor, body.currency, body.payee)


@router.post(
    "/generate-otp",
    status_code=201,
    response_model=GenerateOtpResponse,
    responses=problems(400, 404, 429, 502),
)
async def generate_otp(body: GenerateOtpRequest, request: Request) -> GenerateOtpResponse:
    state = request.app.state
    issued = await usecases.generate_otp(
        state.resources.require_redis(), state.notifications, state.otp_policy, _binding(body)
    )
    return GenerateOtpResponse(
        challenge_id=issued.challenge_id,
        expires_at=issued.expires_at,
        expires_in_s=issued.expires_in_s,
        resend_available_at=issued.resend_available_at,
    )


@router.post(
    "/verify-otp",
    response_model=VerifyOtpResponse,
    response_model_exclude_none=True,
    responses=problems(400, 404),
)
async def verify_otp(body: VerifyOtpRequest, request: Request) -> VerifyOtpResponse:
    state = request.app.state
    result = await usecases.verify_otp(
        state.resources.require_redis(), state.otp_policy, _binding(body), Masked(body.otp)
    )
    if result.verdict is Verdict.VALID:
        return VerifyOtpResponse(valid=True)
    return VerifyOtpResponse(
        valid=False, reason=REASONS[result.verdict], attempts_remaining=result.attempts_remaining
    )
