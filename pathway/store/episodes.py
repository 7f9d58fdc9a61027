"""Episodes and their events: teams and workers, reading an episode and its log, and the write of a move.

The SQLite form (:class:`Episodes`) runs SQLAlchemy statements; the PostgreSQL form
(:class:`PostgresEpisodes`) runs the same statements through psycopg, prepared (a move's read and
write are the engine's hottest path), and writes a move with one statement: the guarded update,
the event and its outbox message together (see docs/decisions/0001-driver-statements.md).
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from pathway.domain import days
from pathway.domain.episode import EpisodeState, Fact
from pathway.domain.stages import ACTIVE
from pathway.store.db import driven
from pathway.store.tables import ABSENCE, EPISODE, EVENT, OUTBOX, TEAM, WORKER

STATE_FIELDS = [f.name for f in dataclasses.fields(EpisodeState)]
STATE_COLUMNS = [EPISODE.c[name] for name in STATE_FIELDS]

# Statements are built once, at import: a move is a hot path and building a statement costs more than running it.
LOAD_STATE = sa.select(*STATE_COLUMNS).where(EPISODE.c.id == sa.bindparam("b_id"))
GET_WORKER = sa.select(WORKER).where(WORKER.c.key == sa.bindparam("b_key"))
# The same row held until the transaction ends: every allocation locks its worker first (one lock order).
LOCK_WORKER = GET_WORKER.with_for_update()
# The worker (parameter: worker) is away on the London date ``today``.
AWAY = sa.exists().where(ABSENCE.c.worker == sa.bindparam("worker"), ABSENCE.c.start <= sa.bindparam("today"),
                         ABSENCE.c.end >= sa.bindparam("today"))
# An allocation's worker, locked, and whether they are away on the London date ``today``: one round trip.
# The absence is read in the statement's snapshot (an absence recorded while the lock is awaited counts
# from the next allocation on); the caseload, which a concurrent claim can change, is counted after the lock.
LOCK_ALLOCATEE = (sa.select(WORKER, AWAY.label("away")).where(WORKER.c.key == sa.bindparam("worker"))
                  .with_for_update(of=WORKER))
GET_TEAM = sa.select(TEAM).where(TEAM.c.key == sa.bindparam("b_key"))
# The episode row moves on only from the version that was read.
GUARDED_UPDATE = EPISODE.update().where(EPISODE.c.id == sa.bindparam("b_id"),
                                        EPISODE.c.version == sa.bindparam("b_version"))
EVENT_BY_KEY = sa.select(EVENT.c.seq, EVENT.c.request_hash).where(
    EVENT.c.episode_id == sa.bindparam("b_id"), EVENT.c.idempotency_key == sa.bindparam("b_key"))
CONTACT_BY_KEY = sa.select(EPISODE.c.id, EPISODE.c.request_hash).where(
    EPISODE.c.idempotency_key == sa.bindparam("b_key"))
# A worker's caseload (parameter: worker): every ``*_active`` episode allocated to them.
_HELD = EPISODE.alias("held")
HELD = (sa.select(sa.func.count()).select_from(_HELD)
        .where(_HELD.c.worker == sa.bindparam("worker"), _HELD.c.stage.in_(ACTIVE))
        .scalar_subquery())
CASELOAD = sa.select(HELD)

# On PostgreSQL an event and its outbox message go in one statement (a data-modifying CTE).
_EVENT_VALUES = {c.name: sa.bindparam(f"e_{c.name}", type_=c.type) for c in EVENT.c if c.name != "id"}
_OUTBOX_VALUES = {c.name: sa.bindparam(f"o_{c.name}", type_=c.type) for c in OUTBOX.c
                  if c.name in ("kind", "episode_id", "payload", "created_at", "attempts")}
EVENT_AND_OUTBOX = OUTBOX.insert().values(_OUTBOX_VALUES).add_cte(EVENT.insert().values(_EVENT_VALUES).cte("new_event"))


# The episode row's new values as parameters u_<column> (the columns' own names are the SET clause's).
STATE_SET = {name: sa.bindparam(f"u_{name}", type_=EPISODE.c[name].type)
             for name in [*STATE_FIELDS, "wait_from_on", "allocated_on"] if name != "id"}


def move_statement(*guards) -> sa.Insert:
    """The one-statement move (PostgreSQL): the guarded update, then the event and the outbox message
    only if the update found the version it expected; ``guards`` are further conditions the update
    must meet (a claim's caseload check), else nothing at all is written. No row back: not moved."""
    moved = (EPISODE.update()
             .where(EPISODE.c.id == sa.bindparam("b_id"), EPISODE.c.version == sa.bindparam("b_version"), *guards)
             .values(STATE_SET)
             .returning(EPISODE.c.id).cte("moved"))
    return (OUTBOX.insert()
            .from_select(list(_OUTBOX_VALUES), sa.select(*[v.label(k) for k, v in _OUTBOX_VALUES.items()])
                         .select_from(moved))
            .add_cte(EVENT.insert()
                     .from_select(list(_EVENT_VALUES), sa.select(*[v.label(k) for k, v in _EVENT_VALUES.items()])
                                  .select_from(moved)).cte("new_event"))
            .returning(OUTBOX.c.id))


MOVE = move_statement()


# -- rows: the domain's objects as the tables hold them --------------------------------------------

def state_values(state: EpisodeState) -> dict:
    """The episode row's columns for a state: its fields, and the London dates its wait began and it was
    allocated."""
    values = {name: getattr(state, name) for name in STATE_FIELDS if name != "id"}
    values["wait_from_on"] = days.london_date(state.wait_from) if state.wait_from else None
    values["allocated_on"] = days.london_date(state.allocated_at) if state.allocated_at else None
    return values


def event_row(before: EpisodeState | None, state: EpisodeState, fact: Fact, actor: str, note: str | None,
              allocation: str | None, idempotency_key: str | None, body_hash: str | None,
              now: dt.datetime) -> dict:
    """The event log's row for ``fact``, which took the episode from ``before`` to ``state``."""
    first = fact.trigger == "allocate" and before is not None and before.allocated_at is None
    return {
        "episode_id": state.id, "seq": state.version, "trigger": fact.trigger,
        "from_stage": before.stage if before else None, "to_stage": state.stage,
        "occurred_at": fact.occurred_at, "occurred_on": days.london_date(fact.occurred_at),
        "recorded_at": now, "actor": actor, "worker": fact.worker, "outcome": fact.outcome, "note": note,
        "wait_from": state.wait_from,
        "wait_from_on": days.london_date(state.wait_from) if state.wait_from else None,
        "first_allocation": first, "allocation": allocation if fact.trigger == "allocate" else None,
        "data": fact.data, "idempotency_key": idempotency_key, "request_hash": body_hash,
    }


def outbox_row(state: EpisodeState, event: dict, now: dt.datetime) -> dict:
    """The outbox message an event sends to the outside world (webhooks)."""
    payload = {
        "kind": f"episode.{event['trigger']}",
        "episode_id": state.id, "seq": event["seq"], "trigger": event["trigger"],
        "from_stage": event["from_stage"], "to_stage": event["to_stage"],
        "occurred_at": event["occurred_at"].isoformat(), "actor": event["actor"],
        "person_ref": state.person_ref, "client_group": state.client_group, "team": state.team,
        "priority": state.priority, "worker": state.worker, "outcome": event["outcome"],
        "external_ref": state.external_ref, "data": event["data"],
    }
    return {"kind": payload["kind"], "episode_id": state.id, "payload": payload, "created_at": now, "attempts": 0}


def move_params(before: EpisodeState, state: EpisodeState, event: dict, now: dt.datetime) -> dict:
    """MOVE's parameters: the row ``before`` becomes ``state`` (only from ``before.version``), the event,
    its message."""
    params = {f"u_{k}": v for k, v in state_values(state).items()}
    params.update((f"e_{k}", v) for k, v in event.items())
    params.update((f"o_{k}", v) for k, v in outbox_row(state, event, now).items())
    params.update(b_id=before.id, b_version=before.version)
    return params


# -- the part ----------------------------------------------------------------------------------------

class Episodes:
    """Episodes, their events, teams and workers on one connection (SQLite; the general form)."""

    def __init__(self, conn: Connection):
        self.conn = conn

    def _first(self, statement, params: dict):
        return self.conn.execute(statement, params).first()

    def ping(self) -> None:
        """A query that touches no table: the database answers or raises."""
        self.conn.exec_driver_sql("SELECT 1")

    # teams and workers

    def team(self, key: str) -> dict | None:
        row = self.conn.execute(GET_TEAM, {"b_key": key}).mappings().first()
        return None if row is None else dict(row)

    def teams(self) -> list[dict]:
        return [dict(r) for r in self.conn.execute(sa.select(TEAM).order_by(TEAM.c.key)).mappings()]

    def add_team(self, row: dict) -> None:
        self.conn.execute(TEAM.insert().values(**row))

    def worker(self, key: str, *, lock: bool = False) -> dict | None:
        """The worker's row; with ``lock`` held until the unit of work ends (every allocation locks its
        worker before the episode: one lock order, so no deadlock)."""
        statement = LOCK_WORKER if lock else GET_WORKER
        row = self._first(statement, {"b_key": key})
        return None if row is None else dict(zip(driven(statement).keys, row, strict=True))

    def allocatee(self, key: str, today: dt.date) -> dict | None:
        """The worker's row, locked as :meth:`worker` locks it, with ``away``: whether they are away on ``today``."""
        row = self._first(LOCK_ALLOCATEE, {"worker": key, "today": today})
        return None if row is None else dict(zip(driven(LOCK_ALLOCATEE).keys, row, strict=True))

    def workers(self, team: str | None = None) -> list[dict]:
        q = sa.select(WORKER).order_by(WORKER.c.team, WORKER.c.key)
        if team is not None:
            q = q.where(WORKER.c.team == team)
        return [dict(r) for r in self.conn.execute(q).mappings()]

    def add_worker(self, row: dict) -> None:
        self.conn.execute(WORKER.insert().values(**row))

    def update_worker(self, key: str, values: dict) -> None:
        """Change a worker's ``values`` (caseload_cap, team, active, updated_at, updated_by)."""
        self.conn.execute(WORKER.update().where(WORKER.c.key == key).values(**values))

    def caseload(self, worker: str) -> int:
        """The worker's caseload now: their ``*_active`` episodes."""
        return self._first(CASELOAD, {"worker": worker})[0]

    # reading episodes

    def load_state(self, episode_id: int) -> EpisodeState | None:
        row = self._first(LOAD_STATE, {"b_id": episode_id})
        return None if row is None else EpisodeState(*row)

    def facts(self, episode_id: int, up_to_seq: int | None = None) -> list[Fact]:
        q = (sa.select(EVENT.c.trigger, EVENT.c.occurred_at, EVENT.c.worker, EVENT.c.outcome, EVENT.c.data)
             .where(EVENT.c.episode_id == episode_id).order_by(EVENT.c.seq))
        if up_to_seq is not None:
            q = q.where(EVENT.c.seq <= up_to_seq)
        return [Fact(**row) for row in self.conn.execute(q).mappings()]

    def events(self, episode_id: int) -> list[dict]:
        """The episode's log, oldest first (without the request fingerprints)."""
        cols = [c for c in EVENT.c if c.name != "request_hash"]
        q = sa.select(*cols).where(EVENT.c.episode_id == episode_id).order_by(EVENT.c.seq)
        return [dict(r) for r in self.conn.execute(q).mappings()]

    def contact_by_key(self, idempotency_key: str):
        """(episode id, request hash) of the contact recorded with this key, or None."""
        return self.conn.execute(CONTACT_BY_KEY, {"b_key": idempotency_key}).first()

    def by_external_ref(self, team: str, external_ref: str) -> int | None:
        """The id of the team's episode with this back end's case id, or None."""
        return self.conn.execute(sa.select(EPISODE.c.id).where(
            EPISODE.c.team == team, EPISODE.c.external_ref == external_ref)).scalar()

    def event_by_key(self, episode_id: int, idempotency_key: str):
        """(seq, request hash) of the episode's event recorded with this key, or None."""
        return self.conn.execute(EVENT_BY_KEY, {"b_id": episode_id, "b_key": idempotency_key}).first()

    # writing

    insert = staticmethod(sqlite.insert)

    def insert_episode(self, state: EpisodeState, idempotency_key: str | None, body_hash: str | None) -> int | None:
        """The new episode's id; None if its idempotency key is taken (by a request that committed
        first: a concurrent insert of the same key waits for it and then inserts nothing)."""
        return self.conn.execute(
            self.insert(EPISODE).values(**state_values(state), idempotency_key=idempotency_key,
                                        request_hash=body_hash)
            .on_conflict_do_nothing().returning(EPISODE.c.id)).scalar_one_or_none()

    def append(self, state: EpisodeState, event: dict, now: dt.datetime) -> None:
        """Append the event to the log and its message to the outbox, in this unit of work."""
        self.conn.execute(EVENT.insert(), event)
        self.conn.execute(OUTBOX.insert(), outbox_row(state, event, now))

    def move(self, before: EpisodeState, state: EpisodeState, event: dict, now: dt.datetime) -> bool:
        """Write the move from ``before`` to ``state`` with its event, only if the episode is still at
        ``before.version``; False (nothing written) if someone else moved it first."""
        moved = self.conn.execute(GUARDED_UPDATE, {**state_values(state), "b_id": before.id,
                                                   "b_version": before.version}).rowcount == 1
        if moved:
            self.append(state, event, now)
        return moved


class PostgresEpisodes(Episodes):
    """The same on PostgreSQL: the hot reads run prepared through psycopg, and a move is one statement."""

    insert = staticmethod(postgresql.insert)

    def _first(self, statement, params: dict):
        return driven(statement).first(self.conn, params)

    def append(self, state: EpisodeState, event: dict, now: dt.datetime) -> None:
        params = {f"e_{k}": v for k, v in event.items()}
        params.update((f"o_{k}", v) for k, v in outbox_row(state, event, now).items())
        self.conn.execute(EVENT_AND_OUTBOX, params)

    def move(self, before: EpisodeState, state: EpisodeState, event: dict, now: dt.datetime) -> bool:
        return driven(MOVE).first(self.conn, move_params(before, state, event, now)) is not None
