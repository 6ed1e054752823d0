"""Container health check: exit 0 when the service answers 200 on /ready (its own Postgres,
Redis... are up), 1 otherwise. Standard library only, so it runs in the slim image."""

from __future__ import annotations

import http.client
import os
import sys

TIMEOUT_S = 3.0


def main() -> int:
    port = int(os.environ.get("PORT", "8000"))
    path = sys.argv[1] if len(sys.argv) > 1 else "/ready"
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT_S)
    try:
        conn.request("GET", path)
        status = conn.getresponse().status
    except OSError as exc:
        print(f"{path}: {exc}", file=sys.stderr)
        return 1
    finally:
        conn.close()
    if status != 200:
        print(f"{path}: HTTP {status}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
