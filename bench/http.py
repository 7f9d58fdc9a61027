"""The HTTP API under 50 concurrent clients: claims at the duty desk and the waits report, against a real server.

A synthetic council is loaded into a scratch PostgreSQL database (bench.reports.build_council:
20,000 episodes for ``small``, 1,000,000 for ``council`` and ``decade``), a queue of waiting
people is added to each team, and ``uvicorn pathway.api.serve:app`` is started in a separate
process. Fifty clients (each a duty worker with their own token, or a manager) then send, each
one after another:

* ``POST /teams/{team}/queue/claim`` (the engine's claim_next behind auth, idempotency and logging),
* ``GET /reports/waits`` for the manager's team,
* ``GET /health`` (one ``SELECT 1`` through the same server): the floor, what any request costs.

First one client alone sends each kind of request (the cost of a request without queueing),
then the fifty. Printed per endpoint: p50 and p99 latency, requests per second and errors (any non-2xx). The
ratio reported is floor p50 / engine p50 (1.0 would be "as cheap as a health check").

    python -m bench.http --size small
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import socket
import statistics
import subprocess
import sys
import time

import httpx

from bench.claims import seed_queue
from bench.common import parser, report, scratch_database
from bench.reports import TEAMS, build_council
from pathway import Engine
from pathway.services.auth import create_token
from pathway.settings import Settings
from pathway.store.db import make_engine

CLIENTS = 50
REQUESTS = {"small": 10, "council": 10, "decade": 10}  # per client and endpoint
WAITS_REQUESTS = {"small": 4, "council": 2, "decade": 2}  # the report is heavier on a big council


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prepare(url: str, size: str, clients: int, claims_each: int) -> dict:
    """Council, queues, one duty worker and token per client, one manager token per team."""
    counts = build_council(url, size)
    engine = Engine(url, settings=Settings(_env_file=None), actor="bench")
    duty, managers = [], {}
    for i in range(clients):
        team = TEAMS[i % len(TEAMS)]
        key = f"http-{i:02d}"
        engine.create_worker(key=key, name=f"HTTP {i}", team=team, caseload_cap=1_000_000)
        duty.append((team, create_token(engine, "duty", worker=key)[0]))
    for team in TEAMS:
        managers[team] = create_token(engine, "manager", team=team, name=f"{team}-manager")[0]
    per_team = clients * claims_each // len(TEAMS) + 2 * claims_each + 10  # + the one-client run
    db = make_engine(url)
    start_at = dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.UTC)
    for n, team in enumerate(TEAMS):
        seed_queue(db, team, per_team, start_at=start_at, seed=100 + n)
    with db.begin() as conn:
        conn.exec_driver_sql("ANALYZE")
    db.dispose()
    engine.dispose()
    return {**counts, "duty": duty, "managers": managers, "queued_per_team": per_team}


def start_server(url: str, workers: int) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "PATHWAY_DATABASE_URL": url}
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "pathway.api.serve:app", "--host", "127.0.0.1",
                             "--port", str(port), "--workers", str(workers), "--no-access-log", "--no-server-header",
                             # a pooled connection may sit idle longer than uvicorn's default 5 s
                             # while 50 clients share the pool; a closed one fails the next request
                             "--timeout-keep-alive", "60", "--log-level", "warning"], env=env)
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise RuntimeError("the server exited at start")
        time.sleep(0.1)
    proc.terminate()
    raise RuntimeError("the server did not answer /health")


async def load(base: str, requests: list[list[tuple[str, str, dict]]]) -> dict:
    """Each inner list is one client's requests, sent one after another; all clients at once."""
    latencies: list[float] = []
    errors: dict[str, int] = {}
    claimed: list[int] = []  # episode ids in 200 replies to claims: each must come once
    limits = httpx.Limits(max_connections=len(requests) + 5, max_keepalive_connections=len(requests) + 5)
    async with httpx.AsyncClient(base_url=base, timeout=120, limits=limits) as client:
        async def one_client(calls):
            for method, path, headers in calls:
                t0 = time.perf_counter()
                try:
                    r = await client.request(method, path, headers=headers)
                    status = str(r.status_code)
                    if r.status_code == 200 and path.endswith("/claim"):
                        claimed.append(r.json()["id"])
                except httpx.HTTPError as exc:
                    status = type(exc).__name__
                latencies.append((time.perf_counter() - t0) * 1000)
                if not status.startswith("2"):
                    errors[status] = errors.get(status, 0) + 1

        t0 = time.perf_counter()
        await asyncio.gather(*(one_client(c) for c in requests))
        seconds = time.perf_counter() - t0
    latencies.sort()
    return {"requests": len(latencies), "p50_ms": round(statistics.median(latencies), 1),
            "p99_ms": round(latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))], 1),
            "per_second": round(len(latencies) / seconds, 1), "errors": sum(errors.values()),
            "error_statuses": errors, "double_allocations": len(claimed) - len(set(claimed))}


def main(argv=None) -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--clients", type=int, default=CLIENTS)
    p.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    args = p.parse_args(argv)
    n = REQUESTS[args.size]
    with scratch_database() as url:
        t0 = time.perf_counter()
        setup = prepare(url, args.size, args.clients, n)
        print(f"council: {setup['episodes']:,} episodes, {setup['events']:,} events, "
              f"{setup['queued_per_team']:,} queued per team; loaded in {time.perf_counter() - t0:.0f} s")
        proc, base = start_server(url, args.workers)
        try:
            auth = [{"Authorization": f"Bearer {token}"} for _, token in setup["duty"]]
            # One client first: what a request costs the server without queueing behind others.
            first_team = setup["duty"][0][0]
            manager = {"Authorization": f"Bearer {setup['managers'][first_team]}"}
            alone = {name: asyncio.run(load(base, [[call] * n]))["p50_ms"] for name, call in (
                ("health", ("GET", "/health", {})),
                ("claim", ("POST", f"/teams/{first_team}/queue/claim", auth[0])),
                ("waits", ("GET", "/reports/waits", manager)))}
            health = asyncio.run(load(base, [[("GET", "/health", {})] * n for _ in auth]))
            claims = asyncio.run(load(base, [[("POST", f"/teams/{team}/queue/claim", h)] * n
                                             for (team, _), h in zip(setup["duty"], auth, strict=True)]))
            managers = list(setup["managers"].items())
            waits = asyncio.run(load(base, [
                [("GET", "/reports/waits", {"Authorization": f"Bearer {managers[i % len(managers)][1]}"})]
                * WAITS_REQUESTS[args.size] for i in range(args.clients)]))
        finally:
            proc.terminate()
            proc.wait(30)
    for name, r in (("GET /health (floor)", health), ("POST /teams/{team}/queue/claim", claims),
                    ("GET /reports/waits", waits)):
        print(f"{name}: {r['requests']} requests from {args.clients} clients, p50 {r['p50_ms']} ms, "
              f"p99 {r['p99_ms']} ms, {r['per_second']}/s, errors {r['errors']} {r['error_statuses'] or ''}"
              f"{', double allocations ' + str(r['double_allocations']) if 'claim' in name else ''}")
    print(f"one client alone, p50: health {alone['health']} ms, claim {alone['claim']} ms, "
          f"waits {alone['waits']} ms")
    common = {"clients": args.clients, "uvicorn_workers": args.workers, "episodes": setup["episodes"],
              **{f"one_client_{k}_p50_ms": v for k, v in alone.items()}}
    report("http-claim", engine=claims["p50_ms"], floor=health["p50_ms"], unit="ms p50", higher_is_better=False,
           size=args.size, extra={**common, **{f"claim_{k}": v for k, v in claims.items()},
                                  "floor_p99_ms": health["p99_ms"]})
    report("http-waits", engine=waits["p50_ms"], floor=health["p50_ms"], unit="ms p50", higher_is_better=False,
           size=args.size, extra={**common, **{f"waits_{k}": v for k, v in waits.items()}})
    if claims["errors"] or waits["errors"] or health["errors"] or claims["double_allocations"]:
        raise SystemExit("errors under load: see above")


if __name__ == "__main__":
    main()
