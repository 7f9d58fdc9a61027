"""Benchmark 1: events per second through ``Engine.fire`` (one transaction each) against plain SQL.

The floor is the same writes a move needs, as plain SQL on one PostgreSQL connection, one
transaction per event: update the episode with its version check, insert the event row,
insert the outbox row. Its values are computed before the clock starts, so the floor is the
database alone. The moves are a synthetic council's own, interleaved in time order.

    python -m bench.transitions --size small
"""

from __future__ import annotations

import datetime as dt
import itertools
import json

import sqlalchemy as sa

from bench.common import Timer, parser, report, scratch_database
from pathway import Engine
from pathway.domain import days
from pathway.domain.episode import Fact, apply, start
from pathway.services.synthetic import SIZES, Simulation
from pathway.settings import load_settings
from pathway.store import episodes as write_path

# Episodes whose moves are timed, per size (each has ~2.3 moves after its contact).
EPISODES = {"small": 400, "council": 10_000, "decade": 40_000}


def fact_of(e: dict) -> Fact:
    data = {}
    if e["keep_worker"]:
        data["keep_worker"] = True
    if e["to"]:
        data["to"] = e["to"]
    if e["trigger"] == "record_contact":
        data = {k: e[k] for k in ("person_ref", "client_group", "team", "priority", "route")}
    return Fact(e["trigger"], e["occurred_at"], worker=e["worker"], outcome=e["outcome"], data=data)


def floor_worker(key: str | None) -> str | None:
    return None if key is None else f"{key}-floor"


def council_moves(size: str) -> tuple[Simulation, list[list[dict]]]:
    sim = Simulation(SIZES[size])
    return sim, list(itertools.islice(sim.episodes(), EPISODES[size]))


def setup_engine(engine: Engine, sim: Simulation, episodes: list[list[dict]]) -> dict[str, int]:
    for team in sim.teams:
        engine.create_team(**team)
    for worker in sim.workers():
        engine.create_worker(**worker)
        # The floor's copies of the episodes are held by shadow workers, so they never count
        # towards the caseloads the engine checks.
        engine.create_worker(**{**worker, "key": floor_worker(worker["key"]), "caseload_cap": None})
    ids = {}
    for events in episodes:
        e = events[0]
        ids[e["episode_ref"]] = engine.record_contact(e["person_ref"], e["client_group"], e["team"],
                                                      occurred_at=e["occurred_at"], priority=e["priority"],
                                                      route=e["route"]).id
    return ids


def floor_statements(conn: sa.Connection, episodes: list[list[dict]], now: dt.datetime) -> list[tuple]:
    """Insert a second copy of each episode at its contact, and precompute every move's three writes."""
    moves = []
    for events in episodes:
        state = start(None, fact_of(events[0]))
        episode_id = conn.execute(write_path.EPISODE.insert().values(**write_path.state_values(state))
                                  .returning(write_path.EPISODE.c.id)).scalar_one()
        state = state.__class__(**{**state.__dict__, "id": episode_id})
        for e in events[1:]:
            fact = fact_of({**e, "worker": floor_worker(e["worker"])})
            new = apply(state, fact)
            event = write_path.event_row(state, new, fact, "bench", None,
                                        "manager" if fact.trigger == "allocate" else None, None, "0" * 64, now)
            payload = {"kind": f"episode.{fact.trigger}", "episode_id": episode_id, "seq": event["seq"],
                       "trigger": fact.trigger, "from_stage": event["from_stage"], "to_stage": event["to_stage"],
                       "occurred_at": fact.occurred_at.isoformat(), "actor": "bench",
                       "person_ref": new.person_ref, "client_group": new.client_group, "team": new.team,
                       "priority": new.priority, "worker": new.worker, "outcome": fact.outcome}
            values = write_path.state_values(new)
            moves.append((e["occurred_at"], values | {"id": episode_id, "old_version": state.version},
                          event | {"data": json.dumps(event["data"])},
                          {"kind": payload["kind"], "episode_id": episode_id, "payload": json.dumps(payload),
                           "created_at": now}))
            state = new
    moves.sort(key=lambda m: m[0])
    return moves


STATE_COLUMNS = [*(c for c in write_path.STATE_FIELDS if c != "id"), "wait_from_on"]  # the row state_values writes
UPDATE = ("UPDATE episode SET " + ", ".join(f"{c} = %({c})s" for c in STATE_COLUMNS)
          + " WHERE id = %(id)s AND version = %(old_version)s")
EVENT_COLUMNS = ["episode_id", "seq", "trigger", "from_stage", "to_stage", "occurred_at", "occurred_on", "recorded_at",
                 "actor", "worker", "outcome", "note", "wait_from", "wait_from_on", "first_allocation", "allocation",
                 "data", "idempotency_key", "request_hash"]
INSERT_EVENT = ("INSERT INTO event (" + ", ".join(EVENT_COLUMNS) + ") VALUES ("
                + ", ".join("CAST(%(data)s AS json)" if c == "data" else f"%({c})s" for c in EVENT_COLUMNS) + ")")
INSERT_OUTBOX = ("INSERT INTO outbox (kind, episode_id, payload, created_at, attempts) "
                 "VALUES (%(kind)s, %(episode_id)s, CAST(%(payload)s AS json), %(created_at)s, 0)")


def floor_move(cur, raw, move) -> None:
    """One move as plain SQL: update with the version check, insert the event, insert the outbox row, commit."""
    _, update, event, outbox = move
    cur.execute(UPDATE, update)
    if cur.rowcount != 1:
        raise RuntimeError("the floor's version check failed")
    cur.execute(INSERT_EVENT, event)
    cur.execute(INSERT_OUTBOX, outbox)
    raw.commit()


def engine_move(engine: Engine, ids: dict[str, int], e: dict) -> None:
    engine.fire(ids[e["episode_ref"]], e["trigger"], occurred_at=e["occurred_at"], worker=e["worker"],
                outcome=e["outcome"], keep_worker=e["keep_worker"], to=e["to"])


def run_both(url: str, engine: Engine, ids: dict[str, int], episodes: list[list[dict]], floor: list[tuple],
             block: int = 50) -> tuple[int, float, float]:
    """Engine and floor in alternating blocks of the same moves, so both see the same machine load."""
    import psycopg

    moves = sorted((e for events in episodes for e in events[1:]), key=lambda e: e["occurred_at"])
    assert len(moves) == len(floor)
    engine_s = floor_s = 0.0
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as raw, raw.cursor() as cur:
        for i in range(0, len(moves), block):
            with Timer() as t:
                for e in moves[i:i + block]:
                    engine_move(engine, ids, e)
            engine_s += t.seconds
            with Timer() as t:
                for m in floor[i:i + block]:
                    floor_move(cur, raw, m)
            floor_s += t.seconds
    return len(moves), len(moves) / engine_s, len(moves) / floor_s


def main(argv=None) -> dict:
    args = parser(__doc__.splitlines()[0]).parse_args(argv)
    sim, episodes = council_moves(args.size)
    with scratch_database() if args.database_url is None else _given(args.database_url) as url:
        if not url.startswith("postgresql"):
            raise SystemExit("the transitions benchmark runs on PostgreSQL (--database-url postgresql://…)")
        engine = Engine(url, settings=load_settings(database_url=url), actor="bench")
        try:
            ids = setup_engine(engine, sim, episodes)
            with engine.transaction() as conn:
                moves = floor_statements(conn, episodes, days.now())
            n, engine_rate, floor_rate = run_both(url, engine, ids, episodes, moves)
        finally:
            engine.dispose()
    return report("transitions", engine=engine_rate, floor=floor_rate, unit="events/s", higher_is_better=True,
                  goal=0.6, size=args.size, extra={"events": n, "episodes": len(episodes)})


class _given:
    def __init__(self, url: str):
        self.url = url

    def __enter__(self) -> str:
        return self.url

    def __exit__(self, *exc) -> None:
        return None


if __name__ == "__main__":
    main()
