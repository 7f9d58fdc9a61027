"""Claims per second at the duty desk: the engine's claim_next against a bare SKIP LOCKED claim loop.

For each number of concurrent claimers (1, 8, 32) a queue of waiting episodes is loaded in
bulk; the floor (plain SQL through psycopg: ``SELECT … ORDER BY <claim order> LIMIT 1 FOR
UPDATE SKIP LOCKED`` then ``UPDATE``, one transaction per claim) empties it, the rows are put
back to waiting, and the engine's ``claim_next`` empties the same rows (caseload lock and
check, the guarded update, the event and the outbox row). Both rates are printed, with the
ratio (goal: at least 0.6) and the double allocations found (must be 0).

    python -m bench.claims --size small
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import random
import threading
import time

import sqlalchemy as sa

from bench.common import Timer, parser, report, scratch_database
from pathway import Engine
from pathway.episode import Fact, apply, start
from pathway.services import EPISODE, EVENT, _event_row, _state_values

QUEUE_SIZE = {"small": 800, "council": 5000, "decade": 20000}
CLAIMERS = (1, 8, 32)
GOAL = 0.6


def seed_queue(db: sa.Engine, team: str, n: int, *, start_at: dt.datetime, seed: int = 1,
               crisis_share: float = 0.0, priorities=("high", "normal", "normal", "low")) -> list[int]:
    """Load ``n`` waiting episodes of ``team`` in bulk (episode rows and their events), oldest first.

    Each is a contact referred to conversation 1 the same minute; a ``crisis_share`` of them
    then go into crisis (conversation 2's queue). Rows are built by the engine's own fold, so
    replaying their events rebuilds them exactly. Returns the new episode ids.
    """
    rng = random.Random(seed)
    states, facts = [], []
    for i in range(n):
        at = start_at + dt.timedelta(minutes=7 * i + rng.randrange(5))
        contact = Fact("record_contact", at, data={
            "person_ref": f"Q-{team}-{seed}-{i:06d}", "client_group": "physical_support", "team": team,
            "priority": rng.choice(priorities), "route": None})
        chain = [contact, Fact("refer", at)]
        if rng.random() < crisis_share:
            chain.append(Fact("crisis", at + dt.timedelta(minutes=1)))
        state = start(None, contact)
        steps = [(None, state, contact)]
        for fact in chain[1:]:
            before, state = state, apply(state, fact)
            steps.append((before, state, fact))
        states.append(state)
        facts.append(steps)
    with db.begin() as conn:
        ids = conn.execute(EPISODE.insert().returning(EPISODE.c.id, sort_by_parameter_order=True),
                           [_state_values(s) for s in states]).scalars().all()
        events = []
        for episode_id, steps in zip(ids, facts, strict=True):
            for before, after, fact in steps:
                before = before and dataclasses.replace(before, id=episode_id)
                after = dataclasses.replace(after, id=episode_id)
                events.append(_event_row(before, after, fact, "seed", None, None, None, None, fact.occurred_at))
        conn.execute(EVENT.insert(), events)
    return list(ids)


def _claimers(n: int, work) -> None:
    """Run ``work(i)`` in ``n`` threads and re-raise the first failure."""
    errors: list[BaseException] = []

    def run(i):
        try:
            work(i)
        except BaseException as exc:  # noqa: BLE001 - reported to the caller below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


def floor_claims(url: str, team: str, claimers: int, order_sql: str) -> list[int]:
    """The bare claim loop in plain SQL; returns every id each claimer took."""
    import psycopg

    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    taken: list[list[int]] = [[] for _ in range(claimers)]
    pick = (f"SELECT id FROM episode WHERE team = %s AND stage IN ('c1_waiting', 'c2_waiting', 'c3_waiting') "
            f"ORDER BY {order_sql} LIMIT 1 FOR UPDATE SKIP LOCKED")
    take = ("UPDATE episode SET stage = replace(stage, '_waiting', '_active'), worker = %s, "
            "allocated_at = coalesce(allocated_at, now()), version = version + 1 WHERE id = %s")

    def work(i):
        with psycopg.connect(dsn) as conn:
            while True:
                with conn.transaction():
                    row = conn.execute(pick, (team,)).fetchone()
                    if row is None:
                        return
                    conn.execute(take, (f"{team}-w{i}", row[0]))
                taken[i].append(row[0])

    _claimers(claimers, work)
    return [x for ids in taken for x in ids]


def engine_claims(engine: Engine, team: str, claimers: int) -> list[int]:
    taken: list[list[int]] = [[] for _ in range(claimers)]

    def work(i):
        while (ep := engine.claim_next(team, f"{team}-w{i}")) is not None:
            taken[i].append(ep.id)

    _claimers(claimers, work)
    return [x for ids in taken for x in ids]


def order_sql(engine: Engine) -> str:
    """The claim order as the SQL text PostgreSQL runs, so the floor honours the same order."""
    from pathway.allocation import CLAIM_ORDER

    query = sa.select(EPISODE.c.id).order_by(*CLAIM_ORDER)
    text = str(query.compile(engine.db, compile_kwargs={"literal_binds": True}))
    return text.split("ORDER BY", 1)[1].strip()


def run(size: str = "small", url: str | None = None) -> list[dict]:
    n = QUEUE_SIZE[size]
    results = []
    with scratch_database() if url is None else contextlib.nullcontext(url) as db_url:
        engine = Engine(db_url, actor="bench")
        order = order_sql(engine)
        start_at = engine.now() - dt.timedelta(days=400)
        for claimers in CLAIMERS:
            team = f"bench{claimers}"
            engine.create_team(key=team, name=f"Bench {claimers}")
            with engine.db.begin() as conn:
                conn.execute(sa.text("INSERT INTO worker (key, name, team, caseload_cap, created_at, created_by) "
                                     "VALUES (:k, :k, :t, :cap, now(), 'bench') ON CONFLICT (key) DO UPDATE "
                                     "SET team = excluded.team, caseload_cap = excluded.caseload_cap"),
                             [{"k": f"{team}-w{i}", "t": team, "cap": n + 1} for i in range(claimers)])
            ids = seed_queue(engine.db, team, n, start_at=start_at, seed=claimers, crisis_share=0.02)
            with engine.db.begin() as conn:
                conn.exec_driver_sql("ANALYZE episode")
            with Timer() as t_floor:
                floor_ids = floor_claims(db_url, team, claimers, order)
            # Put the same rows back in the queue for the engine.
            with engine.db.begin() as conn:
                conn.execute(EPISODE.update().where(EPISODE.c.team == team).values(
                    stage=sa.func.replace(EPISODE.c.stage, "_active", "_waiting"), worker=None,
                    allocated_at=None, version=EPISODE.c.version - 1))
            with Timer() as t_engine:
                engine_ids = engine_claims(engine, team, claimers)
            with engine.db.connect() as conn:
                allocates = conn.execute(
                    sa.select(sa.func.count(), sa.func.count(sa.distinct(EVENT.c.episode_id)))
                    .where(EVENT.c.trigger == "allocate", EVENT.c.episode_id.in_(ids))).one()
            doubles = {
                "engine": len(engine_ids) - len(set(engine_ids)) + (allocates[0] - allocates[1]),
                "floor": len(floor_ids) - len(set(floor_ids)),
            }
            missed = {"engine": n - len(set(engine_ids)), "floor": n - len(set(floor_ids))}
            results.append(report(
                f"claims-{claimers}", engine=n / t_engine.seconds, floor=n / t_floor.seconds, unit="claims/s",
                higher_is_better=True, goal=GOAL, size=size,
                extra={"claimers": claimers, "queue": n, "double_allocations": doubles, "unclaimed": missed}))
            if any(doubles.values()) or any(missed.values()):
                raise SystemExit(f"claims went wrong: doubles {doubles}, unclaimed {missed}")
        engine.dispose()
    return results


def main() -> None:
    args = parser(__doc__.splitlines()[0]).parse_args()
    started = time.perf_counter()
    run(args.size, args.database_url)
    print(f"total {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
