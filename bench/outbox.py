"""Outbox throughput: deliveries per second from the outbox to a local webhook receiver, with 1 and 4 workers,
to a fast receiver and to a slow one.

N outbox rows (one subscriber, one episode each) are loaded in bulk; one ``pathway.dispatch_outbox``
task is sent to real Celery workers on Redis (prefork, ``--concurrency`` 1, then 4), which relay the
rows into deliveries and start delivery tasks that take batches of due deliveries (``SKIP LOCKED``),
post them as Standard Webhooks over kept-alive connections and record the answers together. The
clock runs from sending the task until every delivery is recorded. The floor is the same signed
bodies POSTed by one plain loop (urllib, a connection each) with no database and no broker. The slow
receiver takes SLOW_SECONDS per request: there the figure that matters is 4 workers against 1.

    python -m bench.outbox --size small      # 300 deliveries (slow receiver: 120)
    python -m bench.outbox --size council    # 3,000 deliveries (slow receiver: 600)
"""

from __future__ import annotations

import datetime as dt
import http.server
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from pathlib import Path

import sqlalchemy as sa

from bench.common import Timer, parser, report, scratch_database
from pathway import Engine
from pathway.services.webhooks import headers, new_secret
from pathway.settings import Settings, WebhookPolicy, Workers

ROOT = Path(__file__).resolve().parents[1]
REDIS_URL = os.environ.get("PATHWAY_BENCH_REDIS_URL", "redis://127.0.0.1:6379/8")
DELIVERIES = {"small": 300, "council": 3000, "decade": 10000}
SLOW_DELIVERIES = {"small": 120, "council": 600, "decade": 2000}
SLOW_SECONDS = 0.05
WORKERS = (1, 4)
SECRET = new_secret()
# The receiver is on 127.0.0.1 over http: allowed by name, for this benchmark only.
LOCAL = {"allow_hosts": ("127.0.0.1",), "allow_http_hosts": ("127.0.0.1",)}
LOCAL_ENV = {"PATHWAY_WEBHOOK_ALLOW_HOSTS": "127.0.0.1", "PATHWAY_WEBHOOK_ALLOW_HTTP_HOSTS": "127.0.0.1"}
# Goals (ratios): one worker at least half the plain loop; four at least as fast as one on a fast
# receiver, and half as fast again on a slow one.
GOAL_ONE = 0.5
GOAL_FOUR_FAST = 1.0
GOAL_FOUR_SLOW = 1.5


class Receiver:
    """A threaded HTTP/1.1 receiver on 127.0.0.1 that counts posts (waiting ``delay`` seconds each);
    a subclass notes more of each post in :meth:`received`."""

    def __init__(self, delay: float = 0.0):
        self.count = 0
        self.lock = threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                at = time.monotonic()
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if delay:
                    time.sleep(delay)
                with receiver.lock:
                    receiver.count += 1
                    receiver.received(body, at)
                self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def received(self, body: bytes, at: float) -> None:
        """One post's body and the monotonic time it arrived (called under the lock)."""

    def wait_for(self, n: int, timeout: float = 600) -> None:
        deadline = time.monotonic() + timeout
        while self.count < n:
            if time.monotonic() > deadline:
                raise RuntimeError(f"only {self.count} of {n} deliveries arrived")
            time.sleep(0.01)


def load_outbox(engine: Engine, n: int) -> None:
    now = engine.now()
    payload = {"kind": "episode.refer", "person_ref": "P-1", "team": "north",
               "client_group": "mental_health", "from_stage": "contact", "to_stage": "c1_waiting"}
    with engine.transaction() as conn:
        base = conn.execute(sa.text("SELECT coalesce(max(id), 0) FROM outbox")).scalar_one()
        conn.execute(sa.text("INSERT INTO outbox (kind, episode_id, payload, created_at, attempts) "
                             "SELECT 'episode.refer', :base + g, CAST(:payload AS json), :now, 0 "
                             "FROM generate_series(1, :n) AS g"),
                     {"payload": json.dumps(payload), "now": now, "n": n, "base": base})


def start_workers(url: str, queue: str, concurrency: int, log: Path) -> subprocess.Popen:
    config = Path(tempfile.mkstemp(suffix=".toml")[1])
    env = {**os.environ, "PATHWAY_DATABASE_URL": url, "PATHWAY_BROKER_URL": REDIS_URL, "PATHWAY_CELERY_QUEUE": queue,
           "PATHWAY_CONFIG_FILE": str(config), "PYTHONPATH": str(ROOT), **LOCAL_ENV}
    cmd = [sys.executable, "-m", "celery", "-A", "workers.app", "worker", f"--concurrency={concurrency}",
           "--pool=prefork", "--loglevel=WARNING", f"--hostname=bench-{queue}@%h",
           "--without-gossip", "--without-mingle", "--without-heartbeat"]
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT,
                            start_new_session=True)


def stop(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def clean_redis(queue: str) -> None:
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    for key in client.scan_iter(match=f"*{queue}*"):
        client.delete(key)
    for member in client.smembers("_kombu.binding.celery.pidbox"):
        if queue.encode() in member:
            client.srem("_kombu.binding.celery.pidbox", member)
    client.close()


WARM = 40


def delivered_count(engine: Engine) -> int:
    with engine.transaction(write=False) as conn:
        return conn.execute(sa.text("SELECT count(*) FROM delivery WHERE status = 'delivered'")).scalar_one()


def run(app, rx: Receiver, engine: Engine, n: int) -> float:
    """Load ``n`` rows, send one dispatch, wait until every delivery is recorded; deliveries per second."""
    load_outbox(engine, n)
    start, expected = rx.count, delivered_count(engine) + n
    with Timer() as t:
        app.send_task("pathway.dispatch_outbox")
        rx.wait_for(start + n)
        while delivered_count(engine) < expected:  # every attempt recorded too
            time.sleep(0.01)
    assert rx.count == start + n, f"{rx.count - start} posts for {n} deliveries"
    return n / t.seconds


def floor_rate(url: str, n: int) -> float:
    now = dt.datetime.now(dt.UTC)
    jobs = [{"event_id": i, "secret": SECRET} for i in range(n)]
    bodies = [json.dumps({"type": "episode.refer", "timestamp": now.isoformat(), "data": {"episode_id": i}},
                         separators=(",", ":")).encode() for i in range(n)]
    with Timer() as t:
        for job, body in zip(jobs, bodies, strict=True):
            request = urllib.request.Request(url, data=body, method="POST", headers={
                "Content-Type": "application/json", **headers(job, body, now)})
            with urllib.request.urlopen(request, timeout=10) as response:
                response.read()
    return n / t.seconds


def measure(url: str, engine: Engine, rx: Receiver, hook_url: str, n: int) -> dict[int, float]:
    """Deliveries per second with 1 and with 4 worker processes, to ``hook_url``."""
    from workers.app import make_celery

    hook = engine.add_webhook(hook_url, ["episode.refer"], SECRET)
    rates = {}
    try:
        for concurrency in WORKERS:
            queue = f"pathway-bench-{uuid.uuid4().hex[:8]}"
            app = make_celery(Settings(_env_file=None, broker_url=REDIS_URL, workers=Workers(queue=queue)))
            log = Path(tempfile.gettempdir()) / f"{queue}.log"
            proc = start_workers(url, queue, concurrency, log)
            try:
                run(app, rx, engine, WARM)  # every worker process makes its engine and connections first
                rates[concurrency] = run(app, rx, engine, n)
            finally:
                stop(proc)
                clean_redis(queue)
    finally:
        with engine.transaction() as conn:  # the next receiver's subscriber only
            conn.execute(sa.text("UPDATE webhook SET active = false WHERE id = :id"), {"id": hook["id"]})
    return rates


def main() -> None:
    args = parser(__doc__.splitlines()[0]).parse_args()
    n, slow_n = DELIVERIES[args.size], SLOW_DELIVERIES[args.size]
    fast, slow = Receiver(), Receiver(delay=SLOW_SECONDS)
    floor = floor_rate(fast.url, n)
    at = dt.datetime.now(dt.UTC).isoformat()
    with scratch_database() as url:
        engine = Engine(url, settings=Settings(_env_file=None, webhooks=WebhookPolicy(**LOCAL)), actor="bench")
        engine.create_team("north", "North")
        rates = measure(url, engine, fast, fast.url, n)
        slow_rates = measure(url, engine, slow, slow.url, slow_n)
        engine.dispose()
    for concurrency, rate in rates.items():
        report(f"outbox_{concurrency}_worker{'s' if concurrency > 1 else ''}", engine=rate, floor=floor,
               unit="deliveries/s", higher_is_better=True, goal=GOAL_ONE if concurrency == 1 else None,
               size=args.size, extra={"deliveries": n, "worker_processes": concurrency, "at": at})
    report("outbox_4_workers_vs_1", engine=rates[4], floor=rates[1], unit="deliveries/s", higher_is_better=True,
           goal=GOAL_FOUR_FAST, size=args.size, extra={"receiver": "fast", "at": at})
    report("outbox_slow_receiver_4_workers_vs_1", engine=slow_rates[4], floor=slow_rates[1], unit="deliveries/s",
           higher_is_better=True, goal=GOAL_FOUR_SLOW, size=args.size,
           extra={"receiver_seconds_per_request": SLOW_SECONDS, "deliveries": slow_n, "at": at})


if __name__ == "__main__":
    main()
