"""Outbox throughput: deliveries per second from the outbox to a local webhook receiver, with 1 and 4 workers.

N outbox rows (one subscriber) are loaded in bulk; one ``pathway.dispatch_outbox`` task is sent to
real Celery workers on Redis (``--concurrency`` 1, then 4), which relay the rows into deliveries
and post each one as its own ``pathway.deliver_webhook`` task: take a lease, sign, POST, record
the attempt. The clock runs from sending the task until the receiver has every delivery. The
floor is the same signed bodies POSTed by one plain loop with no database and no broker.

    python -m bench.outbox --size small      # 300 deliveries
    python -m bench.outbox --size council    # 3,000 deliveries
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
from pathway.services.webhooks import sign
from pathway.settings import Settings, Workers

ROOT = Path(__file__).resolve().parents[1]
REDIS_URL = os.environ.get("PATHWAY_BENCH_REDIS_URL", "redis://127.0.0.1:6379/8")
DELIVERIES = {"small": 300, "council": 3000, "decade": 10000}
WORKERS = (1, 4)
SECRET = "bench-signing-key-0123456789"


class Receiver:
    def __init__(self):
        self.count = 0
        self.lock = threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.lock:
                    receiver.count += 1
                self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, n: int, timeout: float = 600) -> None:
        deadline = time.monotonic() + timeout
        while self.count < n:
            if time.monotonic() > deadline:
                raise RuntimeError(f"only {self.count} of {n} deliveries arrived")
            time.sleep(0.01)


def load_outbox(engine: Engine, n: int) -> None:
    now = engine.now()
    payload = {"kind": "episode.refer", "episode_id": 1, "person_ref": "P-1", "team": "north",
               "client_group": "mental_health", "from_stage": "contact", "to_stage": "c1_waiting"}
    with engine.transaction() as conn:
        conn.execute(sa.text("INSERT INTO outbox (kind, episode_id, payload, created_at, attempts) "
                             "SELECT 'episode.refer', g, CAST(:payload AS json), :now, 0 "
                             "FROM generate_series(1, :n) AS g"),
                     {"payload": json.dumps(payload), "now": now, "n": n})


def start_workers(url: str, queue: str, concurrency: int, log: Path) -> subprocess.Popen:
    config = Path(tempfile.mkstemp(suffix=".toml")[1])
    env = {**os.environ, "PATHWAY_DATABASE_URL": url, "PATHWAY_BROKER_URL": REDIS_URL, "PATHWAY_CELERY_QUEUE": queue,
           "PATHWAY_CONFIG_FILE": str(config), "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "celery", "-A", "workers.app", "worker", f"--concurrency={concurrency}",
           "--pool=prefork", "--loglevel=WARNING", f"--hostname=bench-{queue}@%h",
           "--without-gossip", "--without-mingle", "--without-heartbeat"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT,
                            start_new_session=True)
    return proc


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


def warm_up(app, rx: Receiver, engine: Engine) -> None:
    """A few deliveries first, so every worker process has its engine and connections."""
    start, done = rx.count, delivered_count(engine)
    load_outbox(engine, WARM)
    app.send_task("pathway.dispatch_outbox")
    rx.wait_for(start + WARM, timeout=120)
    while delivered_count(engine) < done + WARM:
        time.sleep(0.05)


def delivered_count(engine: Engine) -> int:
    with engine.transaction(write=False) as conn:
        return conn.execute(sa.text("SELECT count(*) FROM delivery WHERE status = 'delivered'")).scalar_one()


def floor_rate(url: str, n: int) -> float:
    bodies = [json.dumps({"delivery_id": i, "event_id": i, "kind": "episode.refer", "data": {"episode_id": i}},
                         separators=(",", ":")).encode() for i in range(n)]
    with Timer() as t:
        for i, body in enumerate(bodies):
            request = urllib.request.Request(url, data=body, method="POST", headers={
                "Content-Type": "application/json", "X-Pathway-Signature": sign(SECRET, body),
                "X-Pathway-Delivery": str(i), "X-Pathway-Timestamp": str(int(time.time()))})
            with urllib.request.urlopen(request, timeout=10) as response:
                response.read()
    return n / t.seconds


def main() -> None:
    args = parser(__doc__.splitlines()[0]).parse_args()
    n = DELIVERIES[args.size]
    from workers.app import make_celery

    rx = Receiver()
    floor = floor_rate(rx.url, n)
    results = {}
    with scratch_database() as url:
        engine = Engine(url, settings=Settings(_env_file=None), actor="bench")
        engine.create_team("north", "North")
        engine.add_webhook(rx.url, ["episode.refer"], SECRET)
        for concurrency in WORKERS:
            queue = f"pathway-bench-{uuid.uuid4().hex[:8]}"
            app = make_celery(Settings(_env_file=None, broker_url=REDIS_URL, workers=Workers(queue=queue)))
            log = Path(tempfile.gettempdir()) / f"{queue}.log"
            proc = start_workers(url, queue, concurrency, log)
            try:
                warm_up(app, rx, engine)
                load_outbox(engine, n)
                start = rx.count
                expected = delivered_count(engine) + n
                with Timer() as t:
                    app.send_task("pathway.dispatch_outbox")
                    rx.wait_for(start + n)
                    while delivered_count(engine) < expected:  # every attempt recorded too
                        time.sleep(0.01)
                results[concurrency] = n / t.seconds
                assert rx.count == start + n, f"{rx.count - start} posts for {n} deliveries"
            finally:
                stop(proc)
                clean_redis(queue)
        delivered = delivered_count(engine)
        engine.dispose()
    assert delivered == len(WORKERS) * (n + WARM), delivered
    for concurrency, rate in results.items():
        report(f"outbox_{concurrency}_worker{'s' if concurrency > 1 else ''}", engine=rate, floor=floor,
               unit="deliveries/s", higher_is_better=True, size=args.size,
               extra={"deliveries": n, "worker_processes": concurrency, "at": dt.datetime.now(dt.UTC).isoformat()})


if __name__ == "__main__":
    main()
