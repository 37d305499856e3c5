#!/usr/bin/env python3
"""Time the web view of ``hoist serve``: each page over HTTP, from a real server.

Not a test: a measurement. Starts ``hoist serve`` (in a thread of this process, with the web
view) on a temporary root, pushes the test suite's sample content to it (a two-platform base,
an app with referrers, and a repository of 250 tags; ``tests/support/ui_registry.py``), then asks
each page ``--rounds`` times over one keep-alive connection. The first answer of each page is
the cold one (nothing about it cached yet); the median of the others is the warm one.

    .venv/bin/python bench/ui_bench.py
    .venv/bin/python bench/ui_bench.py --rounds 50 --json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import urllib3

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # the sample content the UI tests browse

from support.ui_registry import MANY, Pushed, populate  # noqa: E402

from hoist.server.run import ServerThread  # noqa: E402


def _pages(pushed: Pushed) -> dict[str, str]:
    app = pushed.app
    layer = app.layers[-1].digest
    newest = sorted(pushed.many)[-1]
    return {
        "repositories": "/ui/",
        "250-tag repository, 50 rows": f"/ui/r/{MANY}",
        "250-tag repository, 250 rows": f"/ui/r/{MANY}?n=250",
        "250-tag repository by semver": f"/ui/r/{MANY}?sort=semver&order=desc",
        "an image of it": f"/ui/r/{MANY}/-/image/{pushed.many[newest].digest}",
        "image with referrers": f"/ui/r/demo/app/-/image/{app.digest}",
        "a layer": f"/ui/r/demo/app/-/layer/{layer}?image={app.digest}",
        "manifest JSON": f"/ui/r/demo/app/-/json/{app.digest}",
    }


def main() -> int:
    parser = argparse.ArgumentParser(description="Time the pages of hoist serve's web view.")
    parser.add_argument("--rounds", type=int, default=30, help="requests per page")
    parser.add_argument("--json", action="store_true", help="print JSON, not the table")
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory(prefix="hoist-ui-bench-") as tmp,
        ServerThread(Path(tmp) / "registry", ui=True, fsync=False) as server,
    ):
        pushed = populate(server.host)
        pool = urllib3.HTTPConnectionPool("127.0.0.1", server.port, maxsize=1)
        results: dict[str, dict[str, Any]] = {}
        for name, path in _pages(pushed).items():
            times = []
            for _ in range(args.rounds):
                start = time.perf_counter()
                r = pool.request("GET", path)
                times.append((time.perf_counter() - start) * 1000)
                if r.status != 200:
                    raise SystemExit(f"{path}: {r.status}")
            warm = times[1:]
            results[name] = {
                "path": path,
                "bytes": len(r.data),
                "cold_ms": round(times[0], 1),
                "warm_median_ms": round(statistics.median(warm), 1),
                "warm_p95_ms": round(sorted(warm)[int(len(warm) * 0.95) - 1], 1),
            }
    load = os.getloadavg()
    if args.json:
        print(json.dumps({"load": load, "rounds": args.rounds, "pages": results}, indent=2))
        return 0
    print(f"{time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores, load {load[0]:.2f}; ", end="")
    print(f"{args.rounds} requests per page, one keep-alive connection")
    print("\n| page | cold ms | warm median ms | warm p95 ms | KiB |\n|---|---|---|---|---|")
    for name, row in results.items():
        print(
            f"| {name} | {row['cold_ms']} | {row['warm_median_ms']} | {row['warm_p95_ms']} "
            f"| {row['bytes'] / 1024:.0f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
