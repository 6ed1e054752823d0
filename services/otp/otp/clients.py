"""Typed client of the notification service, which delivers the code to the customer."""

from __future__ import annotations

from paykit.errors import ProblemError
from paykit.http import ServiceCallError, ServiceClient
from paykit.masking import Masked

from .domain import Binding


class NotificationClient(ServiceClient):
    """The notification service, for delivering codes (a ServiceClient named "notification")."""

    async def send_otp(self, binding: Binding, code: Masked, expires_in_s: int) -> None:
        """Deliver the code by SMS, naming what it approves (amount, currency, payee: PSD2's
        dynamic linking); raises ProblemError when it did not go out."""
        data: dict[str, object] = {
            "otp": code.reveal(),
            "transaction_id": binding.transaction_id,
            "expires_in_s": expires_in_s,
        }
        if binding.amount_minor is not None:
            data |= {"amount_minor": binding.amount_minor, "currency": binding.currency}
        if binding.payee is not None:
            data["payee"] = binding.payee
        body = {"customer_id": binding.customer_id, "type": "OTP_REQUIRED", "channels": ["sms"], "data": data}
        try:
            response = await self.call("POST", "/send-notification", json=body)
        except ServiceCallError:
            raise ProblemError(
                503, "OTP_DELIVERY_FAILED", "The code could not be delivered; try again"
            ) from None
        if response.status_code == 404:
            raise ProblemError(404, "CUSTOMER_NOT_FOUND", "Unknown customer")
        if response.status_code >= 400 or not response.json().get("success", False):
            raise ProblemError(502, "OTP_DELIVERY_FAILED", "The code could not be delivered")
