"""The episode's use cases: teams and workers, recording a contact, moving an episode on, reading it back.

Each function runs inside the caller's unit of work (``uow``): it checks everything first and
raises a PathwayError before writing, so a refused request leaves no trace.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from pathway.domain import checks, days, events
from pathway.domain.commands import Move, RecordContact
from pathway.domain.duty import enforce_active, enforce_cap
from pathway.domain.episode import EpisodeState, Fact, apply, fold, start
from pathway.domain.stages import TRIGGERS
from pathway.domain.workforce import check_text, check_weight
from pathway.errors import Conflict, NotFound, StaleVersion, ValidationError
from pathway.services.matching import check_allocation, load_of
from pathway.settings import Settings
from pathway.store.episodes import event_row
from pathway.store.unit import Unit

# -- teams and workers ---------------------------------------------------------------------------


def create_team(uow: Unit, key: str, name: str, actor: str, now: dt.datetime) -> dict:
    checks.check_key(key, "team")
    name = checks.check_name(name, "team")
    if uow.episodes.team(key) is not None:
        raise Conflict(f"team {key!r} already exists")
    row = {"key": key, "name": name, "created_at": now, "created_by": actor}
    uow.episodes.add_team(row)
    return row


def create_worker(uow: Unit, key: str, name: str, team: str, caseload_cap: int | None,
                  actor: str, now: dt.datetime) -> dict:
    checks.check_key(key, "worker")
    name = checks.check_name(name, "worker")
    checks.check_caseload_cap(caseload_cap)
    get_team(uow, team)
    if uow.episodes.worker(key) is not None:
        raise Conflict(f"worker {key!r} already exists")
    row = {"key": key, "name": name, "team": team, "caseload_cap": caseload_cap,
           "created_at": now, "created_by": actor}
    uow.episodes.add_worker(row)
    return row


def get_team(uow: Unit, key: str) -> dict:
    row = uow.episodes.team(key)
    if row is None:
        raise NotFound(checks.unknown_team(key, [t["key"] for t in uow.episodes.teams()]), field="team")
    return row


def get_worker(uow: Unit, key: str, *, lock: bool = False) -> dict:
    """The worker's row (NotFound naming them); ``lock`` holds it until the unit of work ends."""
    row = uow.episodes.worker(key, lock=lock)
    if row is None:
        raise NotFound(checks.unknown_worker(key), field="worker")
    return row


# -- reading episodes ----------------------------------------------------------------------------

def load_state(uow: Unit, episode_id: int) -> EpisodeState:
    state = uow.episodes.load_state(episode_id)
    if state is None:
        raise NotFound(f"no episode {episode_id}", episode_id=episode_id)
    return state


def replay(uow: Unit, episode_id: int, up_to_seq: int | None = None) -> EpisodeState:
    """The episode rebuilt from its log alone (up to event ``up_to_seq``)."""
    facts = uow.episodes.facts(episode_id, up_to_seq)
    if not facts:
        raise NotFound(f"no episode {episode_id}", episode_id=episode_id)
    return fold(episode_id, facts)


def history(uow: Unit, episode_id: int) -> list[dict]:
    load_state(uow, episode_id)  # 404 for an unknown episode rather than an empty log
    return uow.episodes.events(episode_id)


# -- writing -------------------------------------------------------------------------------------

def record_contact(uow: Unit, settings: Settings, command: RecordContact, *, actor: str,
                   now: dt.datetime) -> EpisodeState:
    """A new contact creates the person's episode at stage ``contact``, with its first event. A key is
    the caller's own (``actor``'s): the same key from another caller is another request."""
    body_hash = command.fingerprint()
    key = checks.scoped_key(actor, command.idempotency_key)
    if key is not None and (found := _keyed_contact(uow, command, key, body_hash)) is not None:
        return found
    checks.check_person_ref(command.person_ref, settings.security.ref_policy)
    settings.check_client_group(command.client_group)
    checks.check_priority(command.priority)
    checks.check_route(command.route)
    get_team(uow, command.team)
    data = {"person_ref": command.person_ref, "client_group": command.client_group,
            "team": command.team, "priority": command.priority, "route": command.route}
    if command.external_ref is not None:
        checks.check_external_ref(command.external_ref)
        taken = uow.episodes.by_external_ref(command.team, command.external_ref)
        if taken is not None:
            raise Conflict(f"external_ref {command.external_ref!r} is already episode {taken} of team "
                           f"{command.team!r}; a back end's case id is unique in a team", episode_id=taken)
        data["external_ref"] = command.external_ref
    fact = Fact("record_contact", checks.event_time(command.occurred_at, now, settings.security.horizon),
                data=data)
    state = start(None, fact)
    new_id = uow.episodes.insert_episode(state, key, body_hash)
    if new_id is None:
        # The same caller's same key, recorded by a concurrent request that committed first.
        found = _keyed_contact(uow, command, key, body_hash)
        if found is None:
            raise Conflict(f"a request with idempotency_key {command.idempotency_key!r} is still running; "
                           "retry shortly")
        return found
    state = dataclasses.replace(state, id=new_id)
    uow.episodes.append(state, event_row(None, state, fact, actor, None, None, None, None, now), now)
    return state


def _keyed_contact(uow: Unit, command: RecordContact, key: str, body_hash: str) -> EpisodeState | None:
    """The contact already recorded under the (scoped) key, as it was recorded; Conflict if that was
    another request; None if there is none."""
    found = uow.episodes.contact_by_key(key)
    if found is None:
        return None
    if found.request_hash != body_hash:
        raise Conflict(f"idempotency_key {command.idempotency_key!r} was already used for a different "
                       "contact", episode_id=found.id)
    return replay(uow, found.id, up_to_seq=1)


# Move fields that only an allocation takes.
ALLOCATE_ONLY = ("worker", "override", "weight", "weight_reason")


def check_allocate_only(command: Move) -> None:
    """Refuse a field of :data:`ALLOCATE_ONLY` given to any trigger or event kind but allocate."""
    if command.trigger == "allocate":
        return
    for name in ALLOCATE_ONLY:
        if getattr(command, name) is not None:
            raise ValidationError(f"{name} is given only with allocate, not with {command.trigger}", field=name)


def plan(settings: Settings, state: EpisodeState, command: Move, now: dt.datetime) -> tuple[Fact, EpisodeState]:
    """The event a move makes and the episode after it, checked but not written (no I/O)."""
    if command.outcome is not None:
        settings.check_outcome(command.outcome)
    check_allocate_only(command)
    events.check_fields(command.trigger, command.kind_fields())
    checks.check_note(command.note)
    at = checks.event_time(command.occurred_at, now, settings.security.horizon)
    check_order(state, at)
    data = {}
    if command.keep_worker:
        data["keep_worker"] = True
    if command.to is not None:
        data["to"] = command.to
    if command.override is not None:
        data["override"] = command.override
    if command.weight is not None or command.weight_reason is not None:
        data.update(_weighed(settings, command))
    fact = Fact(command.trigger, at, worker=command.worker, outcome=command.outcome, data=data)
    return fact, apply(state, fact)  # raises InvalidTransition / ValidationError for a move the table refuses


def _weighed(settings: Settings, command: Move) -> dict:
    """An allocation's weight and its reason, checked as a reweigh checks them."""
    if command.weight is None:
        raise ValidationError("weight_reason goes with weight: give both or neither", field="weight")
    band = settings.workforce
    weight = check_weight(command.weight, band.weight_min, band.weight_max)
    return {"weight": weight, "weight_reason": check_text(command.weight_reason, "weight_reason")}


def answered(uow: Unit, episode_id: int, key: str | None, command: Move, body_hash: str) -> EpisodeState | None:
    """The episode as the first request with this idempotency key left it, if there was one (a reused key
    with another body is Conflict). ``key`` is the command's key scoped to its caller (checks.scoped_key)."""
    if key is None:
        return None
    found = uow.episodes.event_by_key(episode_id, key)
    if found is None:
        return None
    if found.request_hash != body_hash:
        raise Conflict(f"idempotency_key {command.idempotency_key!r} was already used on episode "
                       f"{episode_id} for a different request", episode_id=episode_id)
    return replay(uow, episode_id, up_to_seq=found.seq)


def check_version(state: EpisodeState, command: Move) -> None:
    """StaleVersion unless the episode is at the version the command expects (if it expects one)."""
    if command.expected_version is not None and command.expected_version != state.version:
        raise StaleVersion(f"episode {state.id} has changed (version {state.version}, "
                           f"expected {command.expected_version}); reload it and try again",
                           episode_id=state.id, version=state.version)


def check_order(state: EpisodeState, at: dt.datetime, last: dt.datetime | None = None) -> None:
    """Events may be back-dated, but not before the episode's previous event (``last``, else its stage's start)."""
    previous = max(state.stage_at, last) if last is not None else state.stage_at
    if at < previous:
        raise ValidationError(
            f"occurred_at {at.isoformat()} is before the episode's previous event "
            f"({previous.isoformat()}); events may be back-dated, but not out of order",
            field="occurred_at")


def move(uow: Unit, settings: Settings, episode_id: int, command: Move, *, actor: str, now: dt.datetime,
         allocation: str = "manager", loaded: EpisodeState | None = None, worker_row: dict | None = None,
         load: int | None = None) -> EpisodeState:
    """Move an episode on by ``command``. An allocation locks its worker (before the episode: the one
    lock order), checks the worker's team and caseload cap, and records who allocated (``allocation``:
    "manager", or "self" for a claim).

    ``loaded``, ``worker_row`` and ``load`` are the episode, the worker and their caseload when the
    caller has just read (and locked) them in this unit of work, as a claim has."""
    if command.trigger not in TRIGGERS:
        raise ValidationError(f"unknown trigger {command.trigger!r}; triggers are: "
                              f"{', '.join(TRIGGERS)}; events that keep the stage: {', '.join(events.KINDS)}",
                              field="trigger")
    state = loaded if loaded is not None and loaded.id == episode_id else load_state(uow, episode_id)
    body_hash = command.fingerprint()
    key = checks.scoped_key(actor, command.idempotency_key)
    repeated = answered(uow, episode_id, key, command, body_hash)
    if repeated is not None:
        return repeated
    check_version(state, command)
    fact, new = plan(settings, state, command, now)
    if command.trigger == "allocate":
        if worker_row is None or worker_row["key"] != command.worker:
            worker_row = uow.episodes.allocatee(command.worker, days.london_date(now))
            if worker_row is None:
                raise NotFound(checks.unknown_worker(command.worker), field="worker")
        if worker_row["team"] != state.team:
            raise ValidationError(f"worker {command.worker!r} is in team {worker_row['team']!r}, "
                                  f"not the episode's team {state.team!r}", field="worker")
        enforce_active(worker_row)
        check_allocation(uow, settings, state, command.worker, command.override, now, away=worker_row.get("away"))
        if load is None:
            load = load_of(uow, settings, command.worker)  # after the worker's lock: exact
        enforce_cap(state, worker_row, load, default_cap=settings.caseload.default_cap,
                    crisis_over_cap=settings.caseload.crisis_over_cap, weighted=settings.workforce.weighting,
                    weight=fact.data.get("weight"))
    event = event_row(state, new, fact, actor, command.note, allocation, key, body_hash, now)
    if not uow.episodes.move(state, new, event, now):
        raise Conflict(f"episode {episode_id} was changed by someone else; reload it and try again",
                       episode_id=episode_id)
    if "weight" in fact.data:  # allocated already weighed: the weight and its audit in this unit of work
        weight, reason = fact.data["weight"], fact.data["weight_reason"]
        uow.workforce.set_weight({"episode_id": episode_id, "weight": weight, "reason": reason, "set_at": now,
                                  "set_by": actor})
        uow.workforce.record(command.worker, "reweigh", {"episode_id": episode_id, "weight": weight,
                                                         "reason": reason, "trigger": "allocate"}, actor, now)
    return new
