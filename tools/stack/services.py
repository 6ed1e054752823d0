"""What each service of the fleet really reads and calls, learnt from its code rather than
written down a second time: its settings class, whether it opens Postgres or Redis, and which
other services' URLs it uses. The compose tests hold docker-compose.yml to these facts."""

from __future__ import annotations

import importlib
import inspect
import re
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from paykit import ServiceSettings

from .compose import REPO

SERVICE_DOCKERFILE = "docker/service.Dockerfile"
# Settings fields naming another service's base URL -> the package that serves it.
URL_FIELDS = {
    "confirm_service_url": "confirm",
    "risk_service_url": "risk",
    "notification_service_url": "notification",
    "otp_service_url": "otp",
    "account_service_url": "account",
    "audit_service_url": "audit",
    "ofac_service_url": "ofac",
    "kyc_service_url": "kyc",
    "partner_bank_api_url": "partner_bank",
}
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|_KEY$")


def app_services(model: Mapping[str, Any]) -> dict[str, str]:
    """Compose service name -> Python package, for every container built from the service image."""
    return {
        name: svc["build"]["args"]["SERVICE"]
        for name, svc in model["services"].items()
        if isinstance(svc.get("build"), dict) and svc["build"].get("dockerfile") == SERVICE_DOCKERFILE
    }


@cache
def settings_class(package: str) -> type[ServiceSettings]:
    module = importlib.import_module(f"{package}.main")
    found = [
        obj
        for obj in vars(module).values()
        if inspect.isclass(obj)
        and issubclass(obj, ServiceSettings)
        and obj is not ServiceSettings
        and obj.__module__ == module.__name__
    ]
    if len(found) != 1:
        raise LookupError(f"{package}.main defines {len(found)} settings classes")
    return found[0]


def env_names(cls: type[ServiceSettings]) -> set[str]:
    """The environment variables a settings class reads (field names or aliases, upper case)."""
    names = set()
    for name, field in cls.model_fields.items():
        names.add((field.alias or name).upper())
    return names


def _sources(package: str) -> str:
    root = REPO / "services" / package / package
    return "\n".join(path.read_text() for path in sorted(root.rglob("*.py")))


def _main(package: str) -> str:
    return (REPO / "services" / package / package / "main.py").read_text()


def opens_postgres(package: str) -> bool:
    """It migrates and pools its own schema (paykit.resources.open_resources(migrations_dir=...))."""
    return "migrations_dir=" in _main(package) and (REPO / "services" / package / "migrations").is_dir()


def opens_redis(package: str) -> bool:
    """It opens Redis through open_resources, or for its change marks (paykit.marks)."""
    main = _main(package)
    return "use_redis=True" in main or "open_marks(settings)" in main


def calls(package: str) -> set[str]:
    """The services whose URL setting this service's code uses."""
    used = set(re.findall(r"settings\.([a-z_]+_url)\b", _sources(package)))
    return {URL_FIELDS[field] for field in used if field in URL_FIELDS} - {package}


def packages() -> list[str]:
    return sorted(
        p.name for p in (REPO / "services").iterdir() if (p / p.name / "main.py").is_file() and p.is_dir()
    )


def main_path(package: str) -> Path:
    return REPO / "services" / package / package / "main.py"
