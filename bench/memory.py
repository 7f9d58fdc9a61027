"""Benchmark 5: peak memory (RSS) of the API process and of a Celery worker while they serve a synthetic council.

The council of the given size is loaded into a scratch PostgreSQL database (or ``--database-url``,
already loaded with ``python -m bench.council``; add ``--skip-load``). Then ``pathway serve`` answers
every report, queue, huddle board and episode request for each team, and ``pathway worker``
(Redis broker) runs wait tracking for the council's last days, while RSS (with child processes)
is sampled every 20 ms. The floor is the same process's RSS once started and idle: the ratio
shows how much serving the council adds (1.0: nothing).

    python -m bench.memory --size small
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid

import psutil

from bench.common import parser, report
from bench.council import BATCH_EPISODES, database, load
from pathway import Engine
from pathway.services.synthetic import SIZES, Simulation
from pathway.settings import Workers, load_settings

# The ``pathway`` command, run with this interpreter.
PATHWAY = [sys.executable, "-c", "from pathway.cli import main; main()"]
REDIS_URL = os.environ.get("PATHWAY_BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
MB = 1024 * 1024


class Peak:
    """Samples a process tree's RSS in a thread; ``peak`` is the most seen."""

    def __init__(self, pid: int, every: float = 0.02):
        self.proc = psutil.Process(pid)
        self.every = every
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def rss(self) -> int:
        try:
            procs = [self.proc, *self.proc.children(recursive=True)]
        except psutil.NoSuchProcess:
            return 0
        total = 0
        for p in procs:
            with contextlib.suppress(psutil.NoSuchProcess):
                total += p.memory_info().rss
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.rss())
            time.sleep(self.every)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.rss())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def settle(peak: Peak, seconds: float = 1.0) -> int:
    """The idle RSS once start-up is over: wait until it stops growing."""
    last = -1
    for _ in range(20):
        time.sleep(seconds / 4)
        now = peak.rss()
        if abs(now - last) < MB:
            return now
        last = now
    return last


def get(url: str, token: str, timeout: float = 120) -> bytes:
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        return resp.read()


def wait_for(url: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {seconds} s")


def stop(proc: subprocess.Popen) -> None:
    """Stop a server or worker we started: politely, then for sure."""
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


def serve_api(env: dict, teams: list[str], tokens: dict, council, rounds: int, timeout: float) -> dict:
    """Start ``pathway serve`` and request everything a huddle and a back end ask for, timing each."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen([*PATHWAY, "serve", "--port", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    timings: dict[str, float] = {}
    failed: list[str] = []

    def ask(path: str, token: str) -> None:
        t = time.perf_counter()
        try:
            get(base + path, token, timeout)
        except OSError as exc:  # a timeout or an HTTP error: noted, and the run goes on
            failed.append(f"{path.split('?')[0]}: {type(exc).__name__}")
        key = path.split("?")[0]
        timings[key] = max(timings.get(key, 0.0), time.perf_counter() - t)

    try:
        wait_for(base + "/health")
        with Peak(proc.pid) as peak:
            idle = settle(peak)
            start, end = council.end - dt.timedelta(days=90), council.end
            for _ in range(rounds):
                for path in ("/reports/waits?group_by=client_group,stage", "/reports/waits?group_by=team",
                             f"/reports/allocation?group_by=client_group&from={start}&to={end}",
                             "/reports/caseloads", f"/reports/outcomes?from={start}&to={end}"):
                    ask(path, tokens["integration"])
                for team in teams:
                    for path in (f"/teams/{team}/queue", f"/huddle/{team}", f"/huddle/{team}/data"):
                        ask(path, tokens[team])
                for episode_id in tokens["episodes"]:
                    ask(f"/episodes/{episode_id}", tokens["integration"])
                    ask(f"/episodes/{episode_id}/events", tokens["integration"])
        slowest = max(timings, key=timings.get)
        requests = rounds * (5 + 3 * len(teams) + 2 * len(tokens["episodes"]))
        return {"idle": idle, "peak": peak.peak, "requests": requests, "failed": failed,
                "slowest": f"{slowest} {timings[slowest]:.1f} s"}
    finally:
        stop(proc)


def run_worker(env: dict, url: str, council, days: int) -> tuple[int, int, int]:
    """Start ``pathway worker`` on Redis, send wait tracking for the council's last days; (idle, peak, tasks)."""
    queue = f"bench-{uuid.uuid4().hex[:8]}"
    env = {**env, "PATHWAY_BROKER_URL": REDIS_URL, "PATHWAY_CELERY_QUEUE": queue}
    log = tempfile.NamedTemporaryFile("w+", prefix="pathway-bench-worker-", suffix=".log")
    proc = subprocess.Popen([*PATHWAY, "worker", "--pool", "solo", "--concurrency", "1", "--loglevel", "WARNING"],
                            env=env, stdout=log, stderr=subprocess.STDOUT)
    from workers.app import make_celery

    sender = make_celery(load_settings(database_url=url, broker_url=REDIS_URL, workers=Workers(queue=queue)))
    engine = Engine(url, settings=load_settings(database_url=url), migrate=False)
    try:
        with Peak(proc.pid) as peak:
            idle = settle(peak, 2.0)
            as_at = [council.end - dt.timedelta(days=i) for i in range(days)]
            for day in as_at:
                sender.send_task("pathway.track_waits", kwargs={"as_at": day.isoformat(), "team": None},
                                 queue=queue)
            sender.send_task("pathway.dispatch_outbox", queue=queue)
            deadline = time.monotonic() + 600
            while time.monotonic() < deadline:
                days_done = {r["day"] for r in engine.wait_snapshots()} if hasattr(engine, "wait_snapshots") else set()
                if set(as_at) <= days_done:
                    break
                log.seek(0)
                text = log.read()
                if proc.poll() is not None or " raised " in text or "ERROR" in text:
                    raise RuntimeError("the worker failed:\n" + text[-3000:])
                time.sleep(0.25)
            else:
                raise RuntimeError("the worker did not finish wait tracking within 10 minutes")
        return idle, peak.peak, len(as_at) + 1
    finally:
        engine.dispose()
        stop(proc)
        log.close()


def main(argv=None) -> dict:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--skip-load", action="store_true", help="the database already holds the council")
    p.add_argument("--rounds", type=int, default=None, help="rounds of API requests")
    p.add_argument("--timeout", type=float, default=300, help="seconds one API request may take")
    p.add_argument("--teams", type=int, default=None, help="ask for this many teams' queues and boards (default all)")
    p.add_argument("--days", type=int, default=None, help="days of wait tracking the worker runs (default 3, or 7)")
    args = p.parse_args(argv)
    council = SIZES[args.size]
    sim = Simulation(council)
    with database(args.database_url) as url:
        if not args.skip_load:
            load(url, council, batch=BATCH_EPISODES[args.size], show_progress=False)
        engine = Engine(url, settings=load_settings(database_url=url))
        try:
            from pathway.services.auth import create_token

            teams = [t["key"] for t in sim.teams][:args.teams]
            tokens: dict = {"integration": create_token(engine, "integration", name="bench")[0]}
            for team in teams:
                tokens[team] = create_token(engine, "manager", team=team, name=f"bench {team}")[0]
            with engine.transaction(write=False) as conn:
                tokens["episodes"] = list(conn.exec_driver_sql("SELECT id FROM episode ORDER BY id DESC LIMIT 5")
                                          .scalars())
        finally:
            engine.dispose()
        env = {k: v for k, v in os.environ.items() if not k.startswith("PATHWAY_")}
        env["PATHWAY_DATABASE_URL"] = url
        api = serve_api(env, teams, tokens, council, args.rounds or 2, args.timeout)
        report("memory_api", engine=api["peak"] / MB, floor=api["idle"] / MB, unit="MB", higher_is_better=False,
               size=args.size, extra={"requests": api["requests"], "failed_requests": api["failed"],
                                      "slowest_request": api["slowest"],
                                      "floor_is": "the API process started and idle"})
        sys.stdout.flush()
        worker_idle, worker_peak, tasks = run_worker(env, url, council,
                                                     days=args.days or (3 if args.size == "small" else 7))
    return report("memory_worker", engine=worker_peak / MB, floor=worker_idle / MB, unit="MB",
                  higher_is_better=False, size=args.size,
                  extra={"tasks": tasks, "floor_is": "the worker process started and idle"})


if __name__ == "__main__":
    main()
