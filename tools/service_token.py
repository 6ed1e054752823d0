"""`make service-token CALLER=<service> [AUDIENCE=<service>]`: print a service token, for a
person or a script that calls a service directly (`curl -H "Authorization: Bearer $(...)"`).

The caller's key comes from, in order: the environment (`<CALLER>_SIGNING_KEY`), the file
named by ENV_FILE, the keys of the running `make run` fleet (.data/run/identity.env), or the
compose `.env` made by docker/make-env.sh. `ops` is the identity meant for people and scripts;
any other caller's key impersonates that service (useful to try an allow-list)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SOURCES = (REPO / ".data" / "run" / "identity.env", REPO / ".env")
TTL_DEFAULT_S = 600


def _read_env_file(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        name, sep, value = line.partition("=")
        if sep and not name.startswith("#"):
            values[name.strip()] = value.strip().strip('"')
    return values


def signing_key(caller: str) -> str:
    variable = f"{caller.upper()}_SIGNING_KEY"
    if os.environ.get(variable):
        return os.environ[variable]
    given = os.environ.get("ENV_FILE")
    for path in [Path(given)] if given else SOURCES:
        if path.is_file():
            value = _read_env_file(path).get(variable)
            if value:
                return value
    raise SystemExit(f"no {variable}: start the fleet with `make run`, or run docker/make-env.sh .env")


def main(argv: list[str] | None = None) -> int:
    from paykit.identity import FLEET, TOKEN_LIFETIME_MAX_S, mint, private_key_from_text

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--caller", required=True, choices=FLEET)
    parser.add_argument("--audience", choices=FLEET, help="the service called (default: any service)")
    parser.add_argument("--subject", help="the customer acted for (only the gateway may)")
    parser.add_argument("--role", action="append", default=[], help="a role of that customer, e.g. operator")
    parser.add_argument("--ttl-s", type=int, default=TTL_DEFAULT_S)
    args = parser.parse_args(argv)
    if not 0 < args.ttl_s <= TOKEN_LIFETIME_MAX_S:
        parser.error(f"--ttl-s must be 1..{TOKEN_LIFETIME_MAX_S}: services refuse longer-lived tokens")
    audience: str | list[str] = args.audience or [n for n in FLEET if n != "ops"]
    key = private_key_from_text(signing_key(args.caller))
    print(mint(key, args.caller, audience, ttl_s=args.ttl_s, subject=args.subject, roles=args.role))
    return 0


if __name__ == "__main__":
    sys.exit(main())
