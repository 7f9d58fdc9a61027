"""Run every benchmark in bench/, each in its own process, and print one line per benchmark.

    python -m bench.run_all --size small            # what CI checks: every benchmark runs
    python -m bench.run_all --size council --only transitions,peer_spiff

Each benchmark prints its own figures (engine, floor, ratio) and keeps them in
bench/results/<name>-<size>.json. The exit status is 1 if any benchmark failed.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

from bench.common import SIZES

BENCH = Path(__file__).resolve().parent
NOT_BENCHMARKS = {"__init__", "common", "run_all"}
# The order they run in (any other module in bench/ runs after these, by name).
ORDER = ("council", "transitions", "history_import", "claims", "track_waits", "reports", "outbox", "http",
         "peer_spiff", "memory")


def benchmarks() -> list[str]:
    present = sorted(p.stem for p in BENCH.glob("*.py") if p.stem not in NOT_BENCHMARKS)
    return [m for m in ORDER if m in present] + [m for m in present if m not in ORDER]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", choices=SIZES, default="small")
    p.add_argument("--only", default=None, help="comma-separated benchmark names")
    p.add_argument("--timeout", type=float, default=3600, help="seconds each benchmark may take")
    args = p.parse_args(argv)
    names = benchmarks()
    if args.only:
        wanted = [n.strip() for n in args.only.split(",") if n.strip()]
        unknown = [n for n in wanted if n not in names]
        if unknown:
            p.error(f"no benchmark {', '.join(unknown)}; benchmarks are: {', '.join(names)}")
        names = [n for n in names if n in wanted]
    results = []
    began = time.perf_counter()
    for name in names:
        print(f"== bench.{name} --size {args.size}", flush=True)
        t = time.perf_counter()
        try:
            code = subprocess.run([sys.executable, "-m", f"bench.{name}", "--size", args.size],
                                  cwd=BENCH.parent, timeout=args.timeout).returncode
        except subprocess.TimeoutExpired:
            code = "timeout"
        results.append((name, code, time.perf_counter() - t))
    print(f"== {len(results)} benchmarks on {args.size} in {time.perf_counter() - began:.0f} s")
    for name, code, seconds in results:
        print(f"  {name:<16} {'ok' if code == 0 else f'FAILED ({code})':<14} {seconds:6.1f} s")
    return 0 if all(code == 0 for _, code, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main())
