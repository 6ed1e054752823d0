"""Put every service package on the virtualenv's path (a .pth file), so tests, mypy and
`make run` import `confirm`, `account`, ... by name. Run by `make venv`."""

from __future__ import annotations

import site
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def main() -> None:
    entries = [
        REPO,
        REPO / "libs" / "paykit",
        *sorted(p for p in (REPO / "services").iterdir() if p.is_dir()),
    ]
    target = Path(site.getsitepackages()[0]) / "payment-fleet.pth"
    target.write_text("".join(f"{p}\n" for p in entries))
    print(f"wrote {target.name} with {len(entries)} paths")


if __name__ == "__main__":
    main()
