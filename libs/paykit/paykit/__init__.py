"""paykit: what two or more services of the payment fleet share.

Modules: config, money, masking, logs, telemetry, metrics, errors, db, kv, http, context,
service (the app factory), events, idempotency, embedded, testing (a pytest plugin).
"""

from .config import ServiceSettings
from .errors import ProblemError
from .money import Money, MoneyError, format_minor, parse_amount_minor
from .service import create_service_app

__all__ = [
    "Money",
    "MoneyError",
    "ProblemError",
    "ServiceSettings",
    "create_service_app",
    "format_minor",
    "parse_amount_minor",
]
