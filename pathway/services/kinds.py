"""Recording the events that keep the stage (pathway.domain.events.KINDS): a note, a flag, a discussion,
a next action, a new priority, client group or team, a conversation, a welfare check.

Like a move, one call runs inside the caller's unit of work and checks everything before it writes:
the episode row moves on a version (its priority, client group or team may change), the event and
its outbox message (kind ``episode.<kind>``) are appended, and the episode's Progress is saved.
"""

from __future__ import annotations

import datetime as dt

from pathway.domain import checks, days, events
from pathway.domain.commands import Move
from pathway.domain.episode import EpisodeState, Fact, apply
from pathway.errors import Conflict, ValidationError
from pathway.services import episodes
from pathway.settings import Settings
from pathway.store.episodes import event_row
from pathway.store.unit import Unit


def record(uow: Unit, settings: Settings, episode_id: int, command: Move, *, actor: str,
           now: dt.datetime) -> EpisodeState:
    """Record one event of a kind that keeps the stage; refused (nothing written) unless the kind allows it."""
    kind = events.KINDS[command.trigger]
    state = episodes.load_state(uow, episode_id)
    body_hash = command.fingerprint()
    key = checks.scoped_key(actor, command.idempotency_key)
    repeated = episodes.answered(uow, episode_id, key, command, body_hash)
    if repeated is not None:
        return repeated
    episodes.check_version(state, command)
    for name in events.MOVE_FIELDS:
        if getattr(command, name) and name not in kind.takes():
            raise ValidationError(f"{name} is not taken by {kind.name} (it takes: "
                                  f"{', '.join(kind.takes()) or 'nothing but a note'})", field=name)
    episodes.check_allocate_only(command)
    given = command.kind_fields()
    if command.note is not None:
        given["note"] = command.note
    events.check_fields(kind.name, given)
    checks.check_note(command.note)
    at = checks.event_time(command.occurred_at, now, settings.security.horizon)
    progress = uow.progression.load(episode_id)
    # Casework is kept in order; a conversation or a welfare check only after the stage began.
    episodes.check_order(state, at, progress.last_at if kind.progress else None)
    data = _checked(uow, settings, kind, command)
    if "team" in data and state.external_ref is not None:  # the back end's case id stays unique in a team
        taken = uow.episodes.by_external_ref(data["team"], state.external_ref)
        if taken is not None:
            raise Conflict(f"team {data['team']!r} already has episode {taken} with external_ref "
                           f"{state.external_ref!r}; a back end's case id is unique in a team", episode_id=taken)
    if command.note is not None:
        data["note"] = command.note
    events.check(kind, state.stage, {k: getattr(state, k) for k in kind.sets}, progress, data,
                 days.london_date(now), state.contact_at)
    stored = {k: (v.isoformat() if isinstance(v, dt.date) else v) for k, v in data.items() if k != "note"}
    stored.update(kind.records)
    if kind.sets:  # what the event changed from, so the log alone says what each date's value was
        stored["from"] = {k: getattr(state, k) for k in kind.sets}
    new = append(uow, state, kind.name, at, stored, note=command.note, actor=actor, now=now, key=key,
                 body_hash=body_hash)
    if kind.progress:
        uow.progression.save(episode_id, events.advance(progress, kind.name, at, stored))
    return new


def append(uow: Unit, state: EpisodeState, kind: str, at: dt.datetime, data: dict, *, note: str | None, actor: str,
           now: dt.datetime, key: str | None = None, body_hash: str | None = None) -> EpisodeState:
    """Write one checked event of ``kind`` from the episode's version read: the episode row moves on, the
    event and its outbox message are appended. The one write of these events (the outreach import's
    welfare checks, already checked row by row, come here too)."""
    fact = Fact(kind, at, data=data)
    new = apply(state, fact)
    event = event_row(state, new, fact, actor, note, None, key, body_hash, now)
    if not uow.episodes.move(state, new, event, now):
        raise Conflict(f"episode {state.id} was changed by someone else; reload it and try again",
                       episode_id=state.id)
    return new


def _checked(uow: Unit, settings: Settings, kind: events.Kind, command: Move) -> dict:
    """The event's fields (the kind's, a move field it takes among them), each checked against what exists
    (client groups, teams) and parsed (due, at); the kind's own rules (pathway.domain.events.RULES) check
    the rest."""
    data = {name: getattr(command, name) for name in kind.takes()
            if name not in events.SHARED and getattr(command, name) is not None}
    if "due" in data:
        data["due"] = days.parse_date(data["due"], "due")
    if "at" in data:
        data["at"] = days.parse_time(data["at"], "at")
    if "client_group" in data:
        settings.check_client_group(data["client_group"])
    if "team" in data and uow.episodes.team(data["team"]) is None:
        known = ", ".join(t["key"] for t in uow.episodes.teams())
        raise ValidationError(f"unknown team {data['team']!r}; teams are: {known}", field="team")
    return data


def progress(uow: Unit, episode_id: int) -> events.Progress:
    episodes.load_state(uow, episode_id)
    return uow.progression.load(episode_id)


def replay_progress(uow: Unit, episode_id: int) -> events.Progress:
    """The episode's Progress rebuilt from its log alone."""
    return events.replay(uow.episodes.facts(episode_id))
