"""Webhook latency: from a change's commit to its delivery at a local receiver, with a real worker and beat on Redis.

A real Celery worker (prefork, one process) and a real beat run on Redis beside a scratch PostgreSQL
database; an engine configured with the broker (as the API is) records one contact every SPACING
seconds, and a receiver notes when each one's ``episode.record_contact`` delivery arrives. Latency is
arrival minus the moment ``record_contact`` returned (its commit). The engine nudges the relay after each
commit; ``--no-nudge`` records through an engine without one, so only beat's relay every
``dispatch_interval`` (10 s) carries the changes: the path every delivery took before the nudge. The
floor is a plain POST's latency to the same receiver. Percentiles are interpolated (as percentile_cont).

    python -m bench.webhook_latency --size small              # 60 contacts
    python -m bench.webhook_latency --size small --no-nudge   # beat alone
"""

from __future__ import annotations

import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

from bench import outbox
from bench.common import parser, report, scratch_database
from bench.outbox import LOCAL, LOCAL_ENV, REDIS_URL, ROOT, SECRET, clean_redis, start_workers, stop
from pathway import Engine
from pathway.settings import Settings, WebhookPolicy, Workers

CONTACTS = {"small": 60, "council": 300, "decade": 1000}
SPACING = 0.1  # seconds between contacts: each its own change, not one burst
GOAL_P50_MS = 1000.0
GOAL_P99_MS = 3000.0


class Receiver(outbox.Receiver):
    """Notes the monotonic time each person's first delivery arrives."""

    def __init__(self):
        self.arrived: dict[str, float] = {}
        super().__init__()

    def received(self, body: bytes, at: float) -> None:
        self.arrived.setdefault(json.loads(body)["data"]["person_ref"], at)


def start_beat(url: str, queue: str, log: Path) -> subprocess.Popen:
    config = Path(tempfile.mkstemp(suffix=".toml")[1])
    schedule = Path(tempfile.mkdtemp()) / "celerybeat-schedule"
    env = {**os.environ, "PATHWAY_DATABASE_URL": url, "PATHWAY_BROKER_URL": REDIS_URL, "PATHWAY_CELERY_QUEUE": queue,
           "PATHWAY_CONFIG_FILE": str(config), "PYTHONPATH": str(ROOT), **LOCAL_ENV}
    cmd = [sys.executable, "-m", "celery", "-A", "workers.app", "beat", "--loglevel=WARNING", f"--schedule={schedule}"]
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT,
                            start_new_session=True)


def percentile(values: list[float], p: int) -> float:
    """Interpolated, as PostgreSQL's percentile_cont."""
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1]


def floor_latency(url: str, n: int) -> list[float]:
    body = json.dumps({"type": "episode.record_contact", "data": {"person_ref": "floor"}}).encode()
    out = []
    for _ in range(n):
        started = time.perf_counter()
        request = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()
        out.append((time.perf_counter() - started) * 1000)
    return out


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--no-nudge", action="store_true", help="record without the nudge: beat alone relays")
    args = p.parse_args()
    n = CONTACTS[args.size]
    rx = Receiver()
    floor = floor_latency(rx.url, n)
    queue = f"pathway-bench-{uuid.uuid4().hex[:8]}"
    logs = Path(tempfile.gettempdir())
    with scratch_database() as url:
        broker = None if args.no_nudge else REDIS_URL
        engine = Engine(url, settings=Settings(_env_file=None, broker_url=broker, workers=Workers(queue=queue),
                                               webhooks=WebhookPolicy(**LOCAL)), actor="bench")
        engine.create_team("north", "North")
        engine.add_webhook(rx.url, ["episode.record_contact"], SECRET)
        worker = start_workers(url, queue, 1, logs / f"{queue}-worker.log")
        beat = start_beat(url, queue, logs / f"{queue}-beat.log")
        try:
            engine.record_contact("W-0", "unknown", "north")  # the worker makes its engine and connections
            deadline = time.monotonic() + 60
            while "W-0" not in rx.arrived:
                if time.monotonic() > deadline:
                    raise RuntimeError("the warm-up delivery did not arrive within 60 s")
                time.sleep(0.05)
            committed = {}
            for i in range(n):
                ref = f"P-{i}"
                engine.record_contact(ref, "unknown", "north")
                committed[ref] = time.monotonic()
                time.sleep(SPACING)
            deadline = time.monotonic() + 120
            while not set(committed) <= set(rx.arrived):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{len(set(committed) - set(rx.arrived))} deliveries did not arrive")
                time.sleep(0.05)
        finally:
            stop(beat)
            stop(worker)
            clean_redis(queue)
            engine.dispose()
    latencies = [(rx.arrived[ref] - at) * 1000 for ref, at in committed.items()]
    p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
    name = "webhook_latency_beat_only" if args.no_nudge else "webhook_latency"
    report(name, engine=p50, floor=percentile(floor, 50), unit="ms p50", higher_is_better=False, size=args.size,
           extra={"contacts": n, "p99_ms": round(p99, 1), "max_ms": round(max(latencies), 1),
                  "goal_p50_ms": GOAL_P50_MS, "goal_p99_ms": GOAL_P99_MS,
                  "goals_met": p50 < GOAL_P50_MS and p99 < GOAL_P99_MS, "nudge": not args.no_nudge,
                  "at": dt.datetime.now(dt.UTC).isoformat()})


if __name__ == "__main__":
    main()
