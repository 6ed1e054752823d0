"""OTP Service: One-time passwords bound to a payment, stored hashed in Redis."""
