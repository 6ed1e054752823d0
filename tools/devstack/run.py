"""`make run`: the whole fleet on this machine until Ctrl-C. Data is kept in .data/ for the
next run (`make reset` wipes it)."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import warnings
from pathlib import Path

from tools.devstack.fleet import REPO, Fleet


def main() -> int:
    # pgserver warns when XDG_RUNTIME_DIR is unset; its fallback is fine for a dev cluster.
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", type=Path, default=REPO / ".data" / "run")
    parser.add_argument("--no-nginx", action="store_true", help="one gateway on :3000, no load balancer")
    args = parser.parse_args()

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())

    fleet = Fleet(
        args.data_dir,
        keep_data=True,
        use_nginx=False if args.no_nginx else None,
        postgres_url=os.environ.get("POSTGRES_URL", ""),
        redis_url=os.environ.get("REDIS_URL", ""),
    )
    print("starting the payment fleet (first start migrates and seeds; logs in .data/run/logs) ...")
    try:
        url = fleet.start()
    except Exception as exc:
        print(f"fleet failed to start: {exc}", file=sys.stderr)
        return 1
    print(f"\n  payment fleet is up: {url}\n")
    print(f"  curl {url}/health")
    print(f"  curl -X POST {url}/auth/login -H 'Content-Type: application/json' \\")
    print('       -d \'{"username": "demo", "password": "password123"}\'')
    print("\n  Ctrl-C stops everything (data is kept; `make reset` wipes it).\n")
    try:
        stop.wait()
    finally:
        print("stopping ...")
        fleet.stop()
        print("stopped.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
