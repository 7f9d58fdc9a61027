"""Every benchmark runs on the small council (CI checks that they run; their figures are not pass/fail)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.run_all import benchmarks

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.parametrize("name", benchmarks())
def test_benchmark_runs_on_small(name, pg_url, redis_url, tmp_path):
    # pg_url and redis_url: the benchmarks need both servers, so skip (or fail in CI) the same way tests do.
    env = {**os.environ, "PATHWAY_BENCH_RESULTS": str(tmp_path)}
    out = subprocess.run([sys.executable, "-m", f"bench.{name}", "--size", "small"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-4000:]
    assert "[small]" in out.stdout, out.stdout[-2000:]
