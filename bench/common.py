"""What every benchmark shares: a scratch PostgreSQL database, timing, and one way to print a result."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa

PG_ADMIN_URL = os.environ.get("PATHWAY_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
RESULTS = Path(os.environ.get("PATHWAY_BENCH_RESULTS", "bench/results"))
SIZES = ("small", "council", "decade")


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--size", choices=SIZES, default="small", help="synthetic council size")
    p.add_argument("--database-url", default=None, help="use this database instead of a scratch PostgreSQL one")
    return p


@contextlib.contextmanager
def scratch_database(keep: bool = False) -> Iterator[str]:
    """A new, empty PostgreSQL database for one benchmark run, dropped afterwards."""
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"pathway_bench_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        if not keep:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


class Timer:
    def __enter__(self):
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.start


def report(name: str, *, engine: float, floor: float, unit: str, higher_is_better: bool,
           goal: float | None = None, size: str = "small", extra: dict | None = None) -> dict:
    """Print one benchmark's figures and keep them in bench/results/<name>.json.

    The ratio is always "engine as a share of the floor": for rates engine/floor, for times
    floor/engine, so 1.0 means as fast as plain SQL and the goal is a minimum ratio.
    """
    ratio = (engine / floor) if higher_is_better else (floor / engine if engine else float("inf"))
    result = {"benchmark": name, "size": size, "engine": round(engine, 4), "floor": round(floor, 4),
              "unit": unit, "ratio": round(ratio, 3), "goal_ratio": goal,
              "machine": f"{platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}",
              **(extra or {})}
    verdict = "" if goal is None else ("  (goal met)" if ratio >= goal else "  (below goal)")
    print(f"{name} [{size}]: engine {engine:,.3f} {unit}, floor {floor:,.3f} {unit}, "
          f"ratio {ratio:.2f}{'' if goal is None else f' vs goal {goal}'}{verdict}")
    if extra:
        for k, v in extra.items():
            print(f"  {k}: {v}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}-{size}.json").write_text(json.dumps(result, indent=2))
    return result
