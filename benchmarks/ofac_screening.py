"""Screening latency of the ofac service over the whole bundled SDN list.

Loads the list, screens N names (listed names in other orders, misspellings, ordinary
names) through the same index the service uses, and reports p50/p99 latency against a
baseline: an exact lookup of the same normalised names in a dict, run in the same command.

    .venv/bin/python benchmarks/ofac_screening.py [--names 2000] [--source DIR]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "services" / "ofac"))

from ofac.index import ScreeningIndex  # noqa: E402
from ofac.lists import build_index  # noqa: E402
from ofac.main import BUNDLED_LIST  # noqa: E402
from ofac.names import normalize, reorder_individual  # noqa: E402
from ofac.sources import read_directory  # noqa: E402

ORDINARY = [
    "John Smith", "Jane Doe", "Maria Garcia", "Mohammed Ali", "Wei Zhang", "Robert Johnson",
    "Ahmed Hassan", "Jose Rodriguez", "Anna Petrova", "David Lee", "Priya Sharma", "Sophie Müller",
]  # fmt: skip
FILE_BYTES_MAX = 64 * 1024 * 1024


def misspell(name: str, rng: random.Random) -> str:
    if len(name) < 6:
        return name
    i = rng.randrange(1, len(name) - 1)
    return name[:i] + name[i + 1 :]


def queries(index: ScreeningIndex, count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    out: list[str] = []
    while len(out) < count:
        entity = rng.choice(index.entities)
        name = reorder_individual(entity.name) if entity.entity_type == "individual" else entity.name
        kind = rng.random()
        if kind < 0.4:
            out.append(name.lower())
        elif kind < 0.7:
            out.append(misspell(name, rng))
        else:
            out.append(rng.choice(ORDINARY))
    return out


def percentile(sorted_values: list[float], p: float) -> float:
    k = min(len(sorted_values) - 1, round(p / 100 * (len(sorted_values) - 1)))
    return sorted_values[k]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--names", type=int, default=2000)
    parser.add_argument("--source", type=Path, default=BUNDLED_LIST)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    started = time.perf_counter()
    index = build_index(read_directory(args.source, FILE_BYTES_MAX))
    load_s = time.perf_counter() - started
    names = queries(index, args.names, args.seed)

    exact = {" ".join(n.tokens): n.entity_index for n in index.names}
    baseline: list[float] = []
    for q in names:
        t = time.perf_counter()
        exact.get(normalize(q))
        baseline.append(time.perf_counter() - t)

    def timed() -> list[float]:
        out: list[float] = []
        for q in names:
            t = time.perf_counter()
            index.search(q, limit=10, min_score=0.85)
            out.append(time.perf_counter() - t)
        return sorted(out)

    fuzzy = timed()  # cold: every token compared with the whole vocabulary
    warm = timed()  # the same names again, as repeat customers in the payment path
    baseline.sort()
    ms = 1000
    print(f"list {index.version}: {index.entity_count} entities, {len(index.names)} names, "
          f"{len(index.vocabulary)} distinct tokens, loaded+indexed in {load_s:.2f} s")  # fmt: skip
    print(f"{len(names)} screenings (40% listed names, 30% misspelt, 30% ordinary)")
    runs = (("fuzzy screening", fuzzy), ("fuzzy, repeat names", warm), ("exact dict baseline", baseline))
    for label, values in runs:
        print(
            f"  {label:20} p50 {percentile(values, 50) * ms:8.3f} ms"
            f"  p99 {percentile(values, 99) * ms:8.3f} ms"
            f"  mean {statistics.fmean(values) * ms:8.3f} ms  max {values[-1] * ms:8.3f} ms"
        )
    ratio50 = percentile(fuzzy, 50) / percentile(baseline, 50)
    ratio99 = percentile(fuzzy, 99) / percentile(baseline, 99)
    print(f"  ratio cold fuzzy/baseline: p50 x{ratio50:,.0f}  p99 x{ratio99:,.0f}")


if __name__ == "__main__":
    main()
