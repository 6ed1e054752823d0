"""API Gateway: Public entry point: auth, rate limits, JWE, proxy to confirm."""
