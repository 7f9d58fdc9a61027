"""The use cases of the pathway, each run inside one unit of work (one transaction) by the Engine.

Functions here take an open connection: they check everything first and raise a
PathwayError before writing, so a refused request leaves no trace.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import re

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pathway.domain import days
from pathway.domain.episode import EpisodeState, Fact, apply, fold, start
from pathway.domain.stages import TRIGGERS
from pathway.errors import Conflict, NotFound, StaleVersion, ValidationError
from pathway.settings import PRIORITIES, Settings
from pathway.store.db import driven
from pathway.store.tables import Episode, Event, Outbox, Team, Worker

EPISODE = Episode.__table__
EVENT = Event.__table__
OUTBOX = Outbox.__table__
TEAM = Team.__table__
WORKER = Worker.__table__

STATE_FIELDS = [f.name for f in dataclasses.fields(EpisodeState)]
# The episode row moves on only from the version that was read (statements built once: a claim
# is a hot path and building a statement costs more than running it).
GUARDED_UPDATE = EPISODE.update().where(EPISODE.c.id == sa.bindparam("b_id"),
                                        EPISODE.c.version == sa.bindparam("b_version"))
# Every fire reads the episode (and an allocation the worker): built once too.
LOAD_STATE = sa.select(*[EPISODE.c[name] for name in STATE_FIELDS]).where(EPISODE.c.id == sa.bindparam("b_id"))
GET_WORKER = sa.select(WORKER).where(WORKER.c.key == sa.bindparam("b_key"))
# The same row held until the transaction ends: every allocation locks its worker (allocation.lock_worker).
LOCK_WORKER = GET_WORKER.with_for_update()
# A reference from the back end's system, never a name: letters, digits and . _ : / - only.
REF_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}$")
KEY_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
# Clocks differ a little between a back end and the engine; more than this ahead is a mistake.
FUTURE_SLACK = dt.timedelta(minutes=5)


def request_hash(body: dict) -> str:
    """A fingerprint of a request, to tell a retry (same body) from a reused key (another body)."""
    text = json.dumps(body, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def check_key(value: str, what: str) -> str:
    if not isinstance(value, str) or not KEY_PATTERN.match(value):
        raise ValidationError(
            f"{what} key {value!r} must be 1-64 characters of lower-case letters, digits, '_' or '-'",
            field="key",
        )
    return value


def check_person_ref(value: str) -> str:
    if not isinstance(value, str) or not REF_PATTERN.match(value):
        raise ValidationError(
            f"person_ref {value!r} must be the back end's reference for the person (1-64 characters: "
            "letters, digits and . _ : / -), never a name or address",
            field="person_ref",
        )
    return value


def check_priority(value: str) -> str:
    if value not in PRIORITIES:
        raise ValidationError(f"unknown priority {value!r}; priorities are: {', '.join(PRIORITIES)}",
                              field="priority")
    return value


def event_time(value, now: dt.datetime, field: str = "occurred_at") -> dt.datetime:
    at = days.parse_time(value, field) if value is not None else now
    if at > now + FUTURE_SLACK:
        raise ValidationError(f"{field} {at.isoformat()} is in the future (now is {now.isoformat()})",
                              field=field)
    return at


# -- teams and workers ---------------------------------------------------------------------------

def create_team(conn: Connection, key: str, name: str, actor: str, now: dt.datetime) -> dict:
    check_key(key, "team")
    if not name or not name.strip():
        raise ValidationError("a team needs a name", field="name")
    if conn.execute(sa.select(TEAM.c.key).where(TEAM.c.key == key)).first():
        raise Conflict(f"team {key!r} already exists")
    row = {"key": key, "name": name.strip(), "created_at": now, "created_by": actor}
    conn.execute(TEAM.insert().values(**row))
    return row


def create_worker(conn: Connection, key: str, name: str, team: str, caseload_cap: int | None,
                  actor: str, now: dt.datetime) -> dict:
    check_key(key, "worker")
    if not name or not name.strip():
        raise ValidationError("a worker needs a name", field="name")
    if caseload_cap is not None and (not isinstance(caseload_cap, int) or caseload_cap < 1):
        raise ValidationError(f"caseload_cap must be a whole number of at least 1, not {caseload_cap!r}",
                              field="caseload_cap")
    get_team(conn, team)
    if conn.execute(sa.select(WORKER.c.key).where(WORKER.c.key == key)).first():
        raise Conflict(f"worker {key!r} already exists")
    row = {"key": key, "name": name.strip(), "team": team, "caseload_cap": caseload_cap,
           "created_at": now, "created_by": actor}
    conn.execute(WORKER.insert().values(**row))
    return row


def get_team(conn: Connection, key: str) -> dict:
    row = conn.execute(sa.select(TEAM).where(TEAM.c.key == key)).mappings().first()
    if row is None:
        raise NotFound(f"no team {key!r}", field="team")
    return dict(row)


def get_worker(conn: Connection, key: str, *, lock: bool = False) -> dict:
    statement = driven(LOCK_WORKER if lock else GET_WORKER)
    row = statement.first(conn, {"b_key": key})
    if row is None:
        raise NotFound(f"no worker {key!r}", field="worker")
    return dict(zip(statement.keys, row, strict=True))


# -- episodes ------------------------------------------------------------------------------------

def load_state(conn: Connection, episode_id: int) -> EpisodeState:
    row = driven(LOAD_STATE).first(conn, {"b_id": episode_id})
    if row is None:
        raise NotFound(f"no episode {episode_id}", episode_id=episode_id)
    return EpisodeState(*row)


def load_facts(conn: Connection, episode_id: int, up_to_seq: int | None = None) -> list[Fact]:
    q = (sa.select(EVENT.c.trigger, EVENT.c.occurred_at, EVENT.c.worker, EVENT.c.outcome, EVENT.c.data)
         .where(EVENT.c.episode_id == episode_id).order_by(EVENT.c.seq))
    if up_to_seq is not None:
        q = q.where(EVENT.c.seq <= up_to_seq)
    return [Fact(**row) for row in conn.execute(q).mappings()]


def replay(conn: Connection, episode_id: int, up_to_seq: int | None = None) -> EpisodeState:
    facts = load_facts(conn, episode_id, up_to_seq)
    if not facts:
        raise NotFound(f"no episode {episode_id}", episode_id=episode_id)
    return fold(episode_id, facts)


def history(conn: Connection, episode_id: int) -> list[dict]:
    load_state(conn, episode_id)  # 404 for an unknown episode rather than an empty log
    cols = [c for c in EVENT.c if c.name not in ("request_hash",)]
    q = sa.select(*cols).where(EVENT.c.episode_id == episode_id).order_by(EVENT.c.seq)
    return [dict(r) for r in conn.execute(q).mappings()]


def _outbox_row(state: EpisodeState, event: dict, now: dt.datetime) -> dict:
    payload = {
        "kind": f"episode.{event['trigger']}",
        "episode_id": state.id, "seq": event["seq"], "trigger": event["trigger"],
        "from_stage": event["from_stage"], "to_stage": event["to_stage"],
        "occurred_at": event["occurred_at"].isoformat(), "actor": event["actor"],
        "person_ref": state.person_ref, "client_group": state.client_group, "team": state.team,
        "priority": state.priority, "worker": state.worker, "outcome": event["outcome"],
    }
    return {"kind": payload["kind"], "episode_id": state.id, "payload": payload, "created_at": now, "attempts": 0}


# On PostgreSQL the event and its outbox message go in one statement (a data-modifying CTE):
# the same two rows, one round trip fewer on every change.
_EVENT_VALUES = {c.name: sa.bindparam(f"e_{c.name}", type_=c.type) for c in EVENT.c if c.name != "id"}
_OUTBOX_VALUES = {c.name: sa.bindparam(f"o_{c.name}", type_=c.type) for c in OUTBOX.c
                  if c.name in ("kind", "episode_id", "payload", "created_at", "attempts")}
EVENT_AND_OUTBOX = OUTBOX.insert().values(_OUTBOX_VALUES).add_cte(EVENT.insert().values(_EVENT_VALUES).cte("new_event"))
# And a move is one statement: the guarded update, then the event and the outbox message only
# if the update found the version it expected (no row back: someone else moved it first).
def move_statement(*guards) -> sa.Insert:
    """The one-statement move; ``guards`` are further conditions the episode's update must meet
    (a claim's caseload check), else nothing at all is written."""
    moved = (EPISODE.update()
             .where(EPISODE.c.id == sa.bindparam("b_id"), EPISODE.c.version == sa.bindparam("b_version"), *guards)
             .values({name: sa.bindparam(f"u_{name}", type_=EPISODE.c[name].type)
                      for name in [*STATE_FIELDS, "wait_from_on"] if name != "id"})
             .returning(EPISODE.c.id).cte("moved"))
    return (OUTBOX.insert()
            .from_select(list(_OUTBOX_VALUES), sa.select(*[v.label(k) for k, v in _OUTBOX_VALUES.items()])
                         .select_from(moved))
            .add_cte(EVENT.insert()
                     .from_select(list(_EVENT_VALUES), sa.select(*[v.label(k) for k, v in _EVENT_VALUES.items()])
                                  .select_from(moved)).cte("new_event"))
            .returning(OUTBOX.c.id))


MOVE = move_statement()


def _append(conn: Connection, state: EpisodeState, event: dict, now: dt.datetime) -> None:
    """Append the event to the log and its message to the outbox, in the caller's transaction."""
    message = _outbox_row(state, event, now)
    if conn.dialect.name == "postgresql":
        params = {f"e_{k}": v for k, v in event.items()}
        params.update((f"o_{k}", v) for k, v in message.items())
        conn.execute(EVENT_AND_OUTBOX, params)
    else:
        conn.execute(EVENT.insert(), event)
        conn.execute(OUTBOX.insert(), message)


def _event_row(state_before: EpisodeState | None, state: EpisodeState, fact: Fact, actor: str,
               note: str | None, allocation: str | None, idempotency_key: str | None,
               body_hash: str | None, now: dt.datetime) -> dict:
    first = fact.trigger == "allocate" and state_before is not None and state_before.allocated_at is None
    return {
        "episode_id": state.id, "seq": state.version, "trigger": fact.trigger,
        "from_stage": state_before.stage if state_before else None, "to_stage": state.stage,
        "occurred_at": fact.occurred_at, "occurred_on": days.london_date(fact.occurred_at),
        "recorded_at": now, "actor": actor, "worker": fact.worker, "outcome": fact.outcome, "note": note,
        "wait_from": state.wait_from,
        "wait_from_on": days.london_date(state.wait_from) if state.wait_from else None,
        "first_allocation": first, "allocation": allocation if fact.trigger == "allocate" else None,
        "data": fact.data, "idempotency_key": idempotency_key, "request_hash": body_hash,
    }


def _state_values(state: EpisodeState) -> dict:
    """The episode row's columns for a state: its fields, and the London date its wait began."""
    values = {name: getattr(state, name) for name in STATE_FIELDS if name != "id"}
    values["wait_from_on"] = days.london_date(state.wait_from) if state.wait_from else None
    return values


def record_contact(conn: Connection, settings: Settings, *, person_ref: str, client_group: str, team: str,
                   occurred_at=None, priority: str = "normal", route: str | None = None,
                   idempotency_key: str | None = None, actor: str, now: dt.datetime) -> EpisodeState:
    body = {"person_ref": person_ref, "client_group": client_group, "team": team,
            "occurred_at": occurred_at, "priority": priority, "route": route}
    body_hash = request_hash(body)
    if idempotency_key is not None:
        found = conn.execute(sa.select(EPISODE.c.id, EPISODE.c.request_hash)
                             .where(EPISODE.c.idempotency_key == idempotency_key)).first()
        if found is not None:
            if found.request_hash != body_hash:
                raise Conflict(f"idempotency_key {idempotency_key!r} was already used for a different contact",
                               episode_id=found.id)
            return replay(conn, found.id, up_to_seq=1)
    check_person_ref(person_ref)
    settings.check_client_group(client_group)
    check_priority(priority)
    if route is not None and (not isinstance(route, str) or not 0 < len(route) <= 64):
        raise ValidationError("route must be a short code (1-64 characters)", field="route")
    get_team(conn, team)
    at = event_time(occurred_at, now)
    fact = Fact("record_contact", at, data={"person_ref": person_ref, "client_group": client_group,
                                            "team": team, "priority": priority, "route": route})
    state = start(None, fact)
    episode_id = conn.execute(
        EPISODE.insert().values(**_state_values(state), idempotency_key=idempotency_key,
                                request_hash=body_hash).returning(EPISODE.c.id)
    ).scalar_one()
    state = dataclasses.replace(state, id=episode_id)
    event = _event_row(None, state, fact, actor, None, None, None, None, now)
    _append(conn, state, event, now)
    return state


def fire_hash(trigger: str, occurred_at=None, worker: str | None = None, outcome: str | None = None,
              note: str | None = None, keep_worker: bool = False, to: str | None = None) -> str:
    """The request hash an event of ``fire`` records (a retry with its idempotency key must match it)."""
    return request_hash({"trigger": trigger, "occurred_at": occurred_at, "worker": worker, "outcome": outcome,
                         "note": note, "keep_worker": keep_worker, "to": to})


def plan(settings: Settings, state: EpisodeState, trigger: str, *, occurred_at=None, worker: str | None = None,
         outcome: str | None = None, note: str | None = None, keep_worker: bool = False, to: str | None = None,
         now: dt.datetime) -> tuple[Fact, EpisodeState]:
    """The event a request makes and the episode after it, checked but not written (no I/O)."""
    if outcome is not None:
        settings.check_outcome(outcome)
    if worker is not None and trigger != "allocate":
        raise ValidationError(f"worker is given only with allocate, not with {trigger}", field="worker")
    if note is not None and len(note) > 4000:
        raise ValidationError("note is longer than 4000 characters", field="note")
    at = event_time(occurred_at, now)
    if at < state.stage_at:
        raise ValidationError(
            f"occurred_at {at.isoformat()} is before the episode's previous event "
            f"({state.stage_at.isoformat()}); events may be back-dated, but not out of order",
            field="occurred_at")
    data = {}
    if keep_worker:
        data["keep_worker"] = True
    if to is not None:
        data["to"] = to
    fact = Fact(trigger, at, worker=worker, outcome=outcome, data=data)
    return fact, apply(state, fact)  # raises InvalidTransition / ValidationError for a move the table refuses


def move_params(state: EpisodeState, new: EpisodeState, event: dict, now: dt.datetime) -> dict:
    """MOVE's parameters: the row ``state`` becomes ``new`` (only from ``state.version``), the event, its message."""
    params = {f"u_{k}": v for k, v in _state_values(new).items()}
    params.update((f"e_{k}", v) for k, v in event.items())
    params.update((f"o_{k}", v) for k, v in _outbox_row(new, event, now).items())
    params.update(b_id=state.id, b_version=state.version)
    return params


def fire(conn: Connection, settings: Settings, episode_id: int, trigger: str, *, occurred_at=None,
         worker: str | None = None, outcome: str | None = None, note: str | None = None,
         keep_worker: bool = False, to: str | None = None, idempotency_key: str | None = None,
         expected_version: int | None = None, allocation: str | None = None, actor: str,
         now: dt.datetime, check_allocation=None, loaded: EpisodeState | None = None,
         worker_row: dict | None = None) -> EpisodeState:
    """Move an episode on by ``trigger``; ``check_allocation(conn, state, worker_row)`` may refuse
    an allocation (the duty desk's caseload caps) before anything is written.

    ``loaded`` and ``worker_row`` are the episode and the worker when the caller has just read
    (and locked) them in this transaction, as a claim has: they save reading them again."""
    if trigger not in TRIGGERS:
        raise ValidationError(f"unknown trigger {trigger!r}; triggers are: {', '.join(TRIGGERS)}",
                              field="trigger")
    state = loaded if loaded is not None and loaded.id == episode_id else load_state(conn, episode_id)
    body_hash = fire_hash(trigger, occurred_at, worker, outcome, note, keep_worker, to)
    if idempotency_key is not None:
        found = conn.execute(sa.select(EVENT.c.seq, EVENT.c.request_hash).where(
            EVENT.c.episode_id == episode_id, EVENT.c.idempotency_key == idempotency_key)).first()
        if found is not None:
            if found.request_hash != body_hash:
                raise Conflict(f"idempotency_key {idempotency_key!r} was already used on episode "
                               f"{episode_id} for a different request", episode_id=episode_id)
            return replay(conn, episode_id, up_to_seq=found.seq)
    if expected_version is not None and expected_version != state.version:
        raise StaleVersion(f"episode {episode_id} has changed (version {state.version}, "
                       f"expected {expected_version}); reload it and try again",
                       episode_id=episode_id, version=state.version)
    fact, new = plan(settings, state, trigger, occurred_at=occurred_at, worker=worker, outcome=outcome,
                     note=note, keep_worker=keep_worker, to=to, now=now)
    if trigger == "allocate":
        if worker_row is None or worker_row["key"] != worker:
            worker_row = get_worker(conn, worker, lock=True)  # before the episode's row: the one lock order
        if worker_row["team"] != state.team:
            raise ValidationError(f"worker {worker!r} is in team {worker_row['team']!r}, "
                                  f"not the episode's team {state.team!r}", field="worker")
        if check_allocation is not None:
            check_allocation(conn, state, worker_row)
        allocation = allocation or "manager"
    event = _event_row(state, new, fact, actor, note, allocation, idempotency_key, body_hash, now)
    if conn.dialect.name == "postgresql":
        moved = driven(MOVE).first(conn, move_params(state, new, event, now)) is not None
    else:
        moved = conn.execute(
            GUARDED_UPDATE, {**_state_values(new), "b_id": episode_id, "b_version": state.version}).rowcount == 1
        if moved:
            _append(conn, new, event, now)
    if not moved:
        raise Conflict(f"episode {episode_id} was changed by someone else; reload it and try again",
                       episode_id=episode_id)
    return new
